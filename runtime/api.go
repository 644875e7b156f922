package runtime

import (
	"context"

	"net"
	"strconv"
	"time"
)

// TB is the part of testing.TB that Start uses. *testing.T, *testing.B and
// *testing.F satisfy it.
type TB interface {
	Helper()
	Cleanup(func())
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Failed() bool
	Name() string
}

// Port is a published container port as seen from the test process.
type Port struct {
	// Host is the address to dial: 127.0.0.1 for a local engine, the
	// engine's host for a remote one.
	Host string
	// HostPort is the published port on Host.
	HostPort int
	// Target is the container port, Protocol "tcp" or "udp".
	Target   int
	Protocol string
	// Scheme is the URL scheme used by URL: the port's app_protocol, else
	// "http".
	Scheme string
}

// Addr returns "host:port", ready for net.Dial and most clients.
func (p Port) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.HostPort)) }

// URL returns "scheme://host:port" with the port's scheme (app_protocol,
// else http).
func (p Port) URL() string {
	s := p.Scheme
	if s == "" {
		s = "http"
	}
	return s + "://" + p.Addr()
}

// String returns Addr.
func (p Port) String() string { return p.Addr() }

// Healthcheck is a service's healthcheck as the compose file declares it.
type Healthcheck struct {
	// Test is the compose form: ["CMD", args...], ["CMD-SHELL", cmd] or
	// ["NONE"], with the compose file's ${VAR} templates.
	Test          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
	// Disable is set for disable: true and test: ["NONE"].
	Disable bool
}

// ExecResult is the outcome of Service.Exec.
type ExecResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}

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
// unique one. Two stacks with the same name collide: use it for a stack
// shared by a whole test binary (with Up in TestMain).
func WithProjectName(name string) Option { return func(c *config) { c.projectName = name } }

// WithFixedPorts binds the host ports written in the compose file instead of
// ephemeral ones. Parallel stacks of the same file then collide.
func WithFixedPorts() Option { return func(c *config) { c.fixedPorts = true } }

// WithKeepOnFailure leaves the stack running when the test failed (or Up
// failed) and logs how to inspect and remove it. COMPOSEGEN_KEEP=1 does the
// same.
func WithKeepOnFailure() Option { return func(c *config) { c.keepOnFailure = true } }

// WithLogf sends the runtime's messages (timeline, diagnostics) to logf. Start
// uses t.Logf by default.
func WithLogf(logf func(format string, args ...any)) Option {
	return func(c *config) { c.logf = logf }
}

// WithVerbose logs a per-service timeline (created, started, ready, with
// milliseconds). COMPOSEGEN_VERBOSE=1 does the same.
func WithVerbose() Option { return func(c *config) { c.verbose = true } }

// WithServices starts only the named services and their depends_on closure.
// The generated StartX functions use it.
func WithServices(names ...string) Option {
	return func(c *config) { c.services = append(c.services, names...) }
}

// WithLogDir writes every service's full log to DIR/<project>/<service>.log
// at teardown. COMPOSEGEN_LOG_DIR does the same.
func WithLogDir(dir string) Option { return func(c *config) { c.logDir = dir } }

var _ = context.Background
