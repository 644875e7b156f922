// Package composeplan holds the static description of a compose project that
// composegen writes, as Go literals, into generated fixture files.
//
// It is for generated code only, as protobuf's protoimpl is: test authors use
// the generated types and package runtime, never these. Its types may change
// between composegen releases together with the generator (regenerate after
// upgrading). It has no dependency beyond the standard library, so that the
// generator does not link any container engine client.
package composeplan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// A Plan is the static description of a compose project that composegen
// emits as Go literals into the generated file. The runtime needs nothing
// else to bring the stack up: no compose file is parsed at test time.
//
// Every string field that came from the compose file is a template: ${VAR},
// ${VAR:-default}, ${VAR:?message} and $$ are resolved when the stack starts,
// from the test process's environment, the options and the project's .env
// file, exactly as docker compose resolves them. Paths are relative to Dir.
type Plan struct {
	// Name is the compose project name. Each stack instance gets a unique
	// project name derived from it.
	Name string
	// Files lists the compose files the plan was generated from, relative to
	// the generated file's directory (for messages only).
	Files []string
	// Inputs are the compose files the plan was generated from (the -f or
	// discovered files, their override files, and the files they include or
	// extend; never an env file), each with a hash of its content. When the
	// stack starts, an input that is on disk with another hash means the plan
	// is stale: the start fails, or warns with COMPOSEGEN_DRIFT=warn.
	Inputs []Input
	// Dir is the project directory (the directory of the first compose file),
	// relative to the generated file's directory. Bind mounts, env files and
	// build contexts are resolved against it.
	Dir string
	// EnvFiles are the project-level env files used for interpolation, relative
	// to Dir (".env" by default). A missing file is ignored unless Required.
	EnvFiles []EnvFile
	// Profiles are the profiles active by default (those given at generation).
	Profiles []string
	// Services in name order.
	Services []ServiceSpec
	// Volumes declares the top-level named volumes.
	Volumes []VolumeSpec
	// Networks declares the top-level networks.
	Networks []NetworkSpec
	// Secrets and Configs declare the top-level secrets and configs.
	Secrets []FileSpec
	Configs []FileSpec
}

// Input is a compose file a plan was generated from.
type Input struct {
	// Path is relative to the generated file's directory, slash-separated.
	Path string
	// SHA256 is HashContent of the file's content when it was generated.
	SHA256 string
}

// HashContent returns the hash that Input.SHA256 records for a compose
// file's content: the hex SHA-256 of the bytes, with CRLF line ends read as
// LF (a checkout with Windows line ends is the same file).
func HashContent(b []byte) string {
	if bytes.Contains(b, []byte("\r\n")) {
		b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// ServiceSpec describes one compose service.
type ServiceSpec struct {
	Name     string
	Image    string
	Kind     string // kind from the templates catalog, "" when unknown
	Profiles []string
	// Replicas is the number of containers (deploy.replicas or scale); 0
	// means 1.
	Replicas int

	// Command and Entrypoint override the image's when non-nil (an empty,
	// non-nil slice clears the image's entrypoint, as in compose).
	Command    []string
	Entrypoint []string

	Environment []EnvVar // sorted by name
	EnvFiles    []EnvFile
	// FileEnv names the variables that the image also reads from the file
	// named by NAME_FILE (the kind's, from the templates catalog). When
	// NAME_FILE is set, the runtime reads that file from the container once
	// the service is ready, for the kind's accessors (a file it cannot read
	// fails the start).
	FileEnv []string
	Labels  map[string]string

	Ports       []PortSpec // ports, expose and the kind's default ports
	Healthcheck *HealthcheckSpec
	// Probe is the kind's readiness probe, run from the host. Without a
	// healthcheck it decides readiness; with one it is the cheap gate that
	// the healthcheck's exec waits behind.
	Probe     *ProbeSpec
	DependsOn []Dependency
	// Lifecycle says whether the service runs once (LifecycleOneShot: a
	// migration, a seed) or keeps running (LifecycleWorker), as the
	// generator decided from what the service is; "" when it could not
	// tell. See the Lifecycle constants for what the runtime does with
	// each.
	Lifecycle string

	WorkingDir string
	User       string
	Hostname   string
	Restart    string

	Build      *BuildSpec
	PullPolicy string

	Mounts     []MountSpec
	Tmpfs      []string
	ExtraHosts []string
	Networks   []ServiceNetwork // nil: the stack's default network
	// NetworkMode is "", "host", "none" or "service:NAME".
	NetworkMode string
	Links       []string

	Secrets []FileRef
	Configs []FileRef

	ContainerName   string
	Init            *bool
	Privileged      bool
	ReadOnly        bool
	Tty             bool
	StdinOpen       bool
	CapAdd          []string
	CapDrop         []string
	ShmSize         int64
	Sysctls         map[string]string
	Ulimits         []Ulimit
	StopSignal      string
	StopGracePeriod *time.Duration
	Platform        string

	// DNS, DNSSearch and DNSOpt write the container's resolv.conf
	// (dns, dns_search, dns_opt).
	DNS         []string
	DNSSearch   []string
	DNSOpt      []string
	SecurityOpt []string
	// GroupAdd are supplementary groups (names or numeric ids) of the
	// container's user.
	GroupAdd []string
	// MemLimit, MemReservation and MemSwapLimit are in bytes (MemSwapLimit
	// -1: unlimited swap); CPUs is a number of CPUs (0.5: half a CPU);
	// PidsLimit -1 is unlimited. 0 leaves the engine's default.
	MemLimit       int64
	MemReservation int64
	MemSwapLimit   int64
	CPUs           float64
	CPUShares      int64
	PidsLimit      int64
	OomKillDisable bool
	OomScoreAdj    int64
	// VolumesFrom entries are "service:NAME" (a service of the stack, which
	// is started first) or "container:NAME", each optionally followed by
	// ":ro" or ":rw".
	VolumesFrom []string
	// Pid is "", "host" or "service:NAME"; Ipc is "", "host", "private",
	// "shareable", "none" or "service:NAME". A service: namespace is shared
	// with that service's container, which is started first.
	Pid          string
	Ipc          string
	Devices      []Device
	UsernsMode   string
	CgroupParent string
}

// Device is a devices entry: a host device made available in the
// container.
type Device struct {
	Source string
	// Target is the path in the container ("": Source).
	Target string
	// Permissions are cgroup permissions ("": "rwm").
	Permissions string
}

// Lifecycles of a service (ServiceSpec.Lifecycle).
//
// Start, Up and Shared return once every service of the stack is ready,
// and ready depends on the lifecycle:
//   - LifecycleOneShot: the service has exited with code 0 (any other code
//     fails the start with its output); its readiness probe and
//     healthcheck are not run.
//   - LifecycleWorker: it runs and answers (probe, healthcheck); an exit,
//     even with code 0, fails the start.
//   - "" (unclassified): the runtime first applies the signs that the plan
//     itself carries (a dependent waiting for service_completed_successfully
//     makes it a one-shot; a kind, a healthcheck, ports, restart always or
//     unless-stopped, a terminal (tty, stdin_open) or a dependent waiting
//     for service_healthy make it a worker), so that plans written before
//     the field existed keep working.
//     What is left is waited for as a one-shot until the rest of the stack
//     is ready and it has run for UnclassifiedGrace: if it exited 0 by then
//     it completed, if it still runs it is taken as a worker and the start's
//     log says how to classify it.
const (
	LifecycleOneShot = "oneshot"
	LifecycleWorker  = "worker"
)

// UnclassifiedGrace is how long a service of unknown lifecycle (Lifecycle
// "") may run before the runtime takes it as long-running: long enough for
// a migration or a seed that nothing names as such, short enough that an
// unrecognised worker costs a start little.
const UnclassifiedGrace = 5 * time.Second

// EnvVar is one environment variable of a service. Value is a template.
// FromEnv is set for a bare name ("- FOO"): the value comes from the test
// process's environment (or the project's .env) when the stack starts, and
// the variable is left unset when neither has it.
type EnvVar struct {
	Name    string
	Value   string
	FromEnv bool
}

// EnvFile is an env_file entry (or a project .env file), relative to Dir.
type EnvFile struct {
	Path     string
	Required bool
	Format   string
}

// PortSpec is one container port that the runtime publishes.
type PortSpec struct {
	// Name is the long-syntax name, "" when none.
	Name     string
	Target   int
	Protocol string // "tcp" or "udp"
	// Published is the host port requested by the compose file ("" or
	// "8080", or a range "8000-8003"). It is bound only with WithFixedPorts;
	// by default every port gets an ephemeral port on HostIP or 127.0.0.1.
	Published   string
	HostIP      string
	AppProtocol string
	// Expose marks ports that came from expose rather than ports; Implicit
	// the kind's default ports added so that typed accessors work.
	Expose   bool
	Implicit bool
	// Advertised names the environment variables (and "command" for the
	// service's command) in which the broker advertises this port to its
	// clients as localhost:<Published> or 127.0.0.1:<Published>, as Kafka's
	// advertised listeners do. The runtime picks a free host port, binds it,
	// and rewrites those addresses to it, so a client on the host can follow
	// the broker's redirects while parallel stacks still never collide.
	Advertised []string
}

// HealthcheckSpec is a compose healthcheck. The runtime executes Test itself
// (through exec) on a fast cadence; Interval and Retries only bound how long
// an unhealthy service is waited for.
type HealthcheckSpec struct {
	// Test is the compose form: ["CMD", args...], ["CMD-SHELL", cmd] or
	// ["NONE"].
	Test          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
	Disable       bool
}

// ProbeSpec is a readiness probe run from the host against a published port,
// speaking the service's protocol so that docker-proxy's early accept does
// not count as ready.
type ProbeSpec struct {
	// Protocol is one of "tcp", "http", "postgres", "redis", "mysql",
	// "memcached", "amqp".
	Protocol string
	Port     int
	// Path is the HTTP path for "http" probes.
	Path string
}

// Dependency is one depends_on entry.
type Dependency struct {
	Service string
	// Condition is "service_started", "service_healthy" or
	// "service_completed_successfully".
	Condition string
	Required  bool
	Restart   bool
}

// BuildSpec is a service's build section.
type BuildSpec struct {
	Context    string // relative to Dir
	Dockerfile string
	Args       map[string]string
	Target     string
}

// MountSpec is a volume, bind or tmpfs mount.
type MountSpec struct {
	Type     string // "volume", "bind", "tmpfs"
	Source   string // volume name or path relative to Dir
	Target   string
	ReadOnly bool
}

// VolumeSpec is a top-level named volume.
type VolumeSpec struct {
	Name     string
	External bool
	// ExternalName is the engine's name of an external volume.
	ExternalName string
	Driver       string
	// DriverOpts are the driver's options (templates), e.g. type/o/device
	// for the local driver.
	DriverOpts map[string]string
	Labels     map[string]string
}

// NetworkSpec is a top-level network.
type NetworkSpec struct {
	Name         string
	External     bool
	ExternalName string
	Internal     bool
	Driver       string
	// DriverOpts are the driver's options (templates).
	DriverOpts map[string]string
	Labels     map[string]string
}

// ServiceNetwork attaches a service to a network of the stack.
type ServiceNetwork struct {
	Network string
	Aliases []string
}

// FileSpec is a top-level secret or config with its source: a file relative
// to Dir, an environment variable, or inline content.
type FileSpec struct {
	Name        string
	File        string
	Environment string
	Content     string
	External    bool
}

// FileRef mounts a secret or config into a service.
type FileRef struct {
	Source string
	Target string
	// Mode, UID and GID, when set, apply to a copy of the content that is
	// mounted instead of the source file.
	Mode *uint32
	UID  string
	GID  string
}

// Ulimit is one ulimits entry.
type Ulimit struct {
	Name string
	Soft int64
	Hard int64
}
