package runtime

import (
	"os"
	"strconv"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/owner"
)

// Option configures Up and Start.
type Option func(*config)

type config struct {
	profiles      []string
	profilesSet   bool
	env           map[string]string
	timeout       time.Duration
	projectName   string
	fixedPorts    bool
	keepOnFailure bool
	logf          func(format string, args ...any)
	verbose       bool
	services      []string
	logDir        string
	dir           string
	engine        string
	scale         map[string]int
	build         bool
	reuse         bool

	// Set by Shared for the stack it starts: the owner whose identity the
	// resources carry (the shared stack's watcher), and labels added to
	// every resource.
	owner  *owner.ID
	labels map[string]string
	// Set by Shared for the stack it starts: a failed service does not
	// stop the others (keepGoing); onStack sees the stack once its units
	// exist, onReady each service once every replica is ready; resume
	// names the running containers of the ready services of a start that
	// another process left half-way, which this one completes.
	keepGoing bool
	onStack   func(*Stack)
	onReady   func(service string)
	resume    map[string][]engine.Resource
	// grace replaces composeplan.UnclassifiedGrace (tests).
	grace time.Duration
	// maxStarting is COMPOSEGEN_MAX_STARTING's value, read once here so
	// that tests can set it per start (gateFor parses it).
	maxStarting string
}

// defaultTimeout bounds a start unless WithTimeout or COMPOSEGEN_TIMEOUT
// say otherwise.
const defaultTimeout = 2 * time.Minute

func newConfig(opts []Option) config {
	cfg := config{timeout: defaultTimeout, grace: composeplan.UnclassifiedGrace}
	if v := os.Getenv("COMPOSEGEN_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			cfg.timeout = d
		}
	}
	cfg.verbose = envBool("COMPOSEGEN_VERBOSE")
	cfg.keepOnFailure = envBool("COMPOSEGEN_KEEP")
	cfg.build = envBool("COMPOSEGEN_BUILD")
	cfg.logDir = os.Getenv("COMPOSEGEN_LOG_DIR")
	cfg.dir = os.Getenv("COMPOSEGEN_DIR")
	cfg.engine = os.Getenv("COMPOSEGEN_ENGINE")
	cfg.reuse = envBool("COMPOSEGEN_REUSE")
	cfg.maxStarting = os.Getenv(maxStartingEnv)
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

func envBool(name string) bool {
	b, _ := strconv.ParseBool(os.Getenv(name))
	return b
}

// WithProfiles activates the given compose profiles instead of the ones
// given at generation time.
func WithProfiles(profiles ...string) Option {
	return func(c *config) { c.profiles = append([]string(nil), profiles...); c.profilesSet = true }
}

// WithEnv sets a variable for interpolation and for bare "- NAME" entries,
// taking precedence over the process environment and .env.
func WithEnv(name, value string) Option {
	return func(c *config) {
		if c.env == nil {
			c.env = map[string]string{}
		}
		c.env[name] = value
	}
}

// WithTimeout bounds the whole start (default 2 minutes, or the value of
// COMPOSEGEN_TIMEOUT).
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// WithProjectName sets the stack instance's project name instead of a
// unique one. Two stacks with the same name collide.
func WithProjectName(name string) Option { return func(c *config) { c.projectName = name } }

// WithFixedPorts binds the host ports written in the compose file instead of
// ephemeral ones (for the first replica of each service). Parallel stacks of
// the same file then collide.
func WithFixedPorts() Option { return func(c *config) { c.fixedPorts = true } }

// WithKeepOnFailure leaves the stack running when the test failed (or Up
// failed) and logs how to inspect and remove it; the reaper spares it, and
// `composegen prune` removes it. COMPOSEGEN_KEEP=1 does the same.
func WithKeepOnFailure() Option { return func(c *config) { c.keepOnFailure = true } }

// WithLogf sends the runtime's messages (timeline, diagnostics) to logf. Start
// uses t.Logf by default.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(c *config) { c.logf = logf }
}

// WithVerbose logs a per-service timeline (created, started, ready, with
// milliseconds). COMPOSEGEN_VERBOSE=1 does the same.
func WithVerbose() Option { return func(c *config) { c.verbose = true } }

// WithServices starts only the named services, their depends_on closure
// and the one-shots that feed them: a migration or a seed that depends on
// a named service (or on what it needs) runs and completes before the
// start returns, as in the whole stack. The generated StartX functions use
// it.
//
// With Shared, it does not start another stack: the test attaches to the
// run's one shared stack (the services of the active profiles) and waits
// only until the named services, their dependencies and the one-shots
// that feed them are ready, while the rest keeps starting; a later Shared
// without WithServices waits for the rest. A failure of a service outside
// them does not fail the test. The Stack it returns holds only those
// services. (A named service that the active profiles leave out makes a
// stack of its own, as with Start.)
func WithServices(names ...string) Option {
	return func(c *config) { c.services = append(c.services, names...) }
}

// WithLogDir writes every service's full log to DIR/<project>/<service>.log
// (files 0600 in directories 0700) at teardown. COMPOSEGEN_LOG_DIR does the
// same.
func WithLogDir(dir string) Option { return func(c *config) { c.logDir = dir } }

// WithDir sets the directory that the plan's relative paths (bind mounts,
// env files, build contexts) are relative to: the directory of the
// generated file. By default the runtime finds it from the call stack (the
// working directory for -trimpath builds); COMPOSEGEN_DIR sets it too.
func WithDir(dir string) Option { return func(c *config) { c.dir = dir } }

// WithEngine selects the container engine by name: "docker" (the default,
// which also finds Podman's socket) or one linked into the test binary,
// such as "kubernetes" (generate with composegen -engine kubernetes).
// COMPOSEGEN_ENGINE does the same.
func WithEngine(name string) Option { return func(c *config) { c.engine = name } }

// WithScale runs n containers of service instead of the compose file's
// deploy.replicas or scale, like docker compose up --scale service=n.
func WithScale(service string, n int) Option {
	return func(c *config) {
		if c.scale == nil {
			c.scale = map[string]int{}
		}
		c.scale[service] = n
	}
}

// WithBuild builds the images of services with a build section at start
// even when the image of their build hash exists, like docker compose up
// --build: once per go test run and image, whichever test binary of the
// run starts first (the engine's build cache still applies, so it picks up
// what the hash cannot see, such as a new local base image). Without it, a
// service's image is built when no image of its name carries the hash of
// its build (the files of its context that .dockerignore does not exclude,
// the Dockerfile, target, args and platform) and used as it is otherwise.
// COMPOSEGEN_BUILD=1 does the same.
func WithBuild() Option { return func(c *config) { c.build = true } }

// WithReuse keeps the stack that Shared starts after the go test run, and
// makes the next run attach to it (in milliseconds) as long as nothing it
// was started from changed: the plan, the values of the variables it uses,
// env files, bind-mounted files, images and these options. When something
// changed, the next run removes the kept stack and starts a new one. Kept
// stacks are spared by the reaper; `composegen prune`
// removes them. COMPOSEGEN_REUSE=1 does the same. It has no effect on
// Start and Up.
func WithReuse() Option { return func(c *config) { c.reuse = true } }
