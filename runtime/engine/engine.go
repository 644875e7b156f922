// Package engine is the seam between composegen's runtime and a container
// engine. The runtime decides everything a compose stack needs (order,
// readiness, names, labels, interpolation) and asks an Engine only for
// primitive operations: create this container, start it, run this command in
// it, list what carries these labels, remove that.
//
// Docker and Podman (through their Docker-compatible API) are built into the
// runtime. Other engines live in their own modules and register themselves
// with Register from an init function; the Kubernetes engine
// (github.com/composegen/composegen/kube) is one, where a container is a pod
// and a published port a port-forward.
//
// This package is for engine implementations. Test authors never use it;
// its API follows the runtime's needs and may change between releases.
package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"
)

// Engine is a connected container engine. Every method is safe for
// concurrent use. Methods that take a context honour its cancellation.
// Operations on a resource that does not exist return an error wrapping
// ErrNotFound.
type Engine interface {
	// Info describes the engine and how it was reached.
	Info() Info
	// Close releases the engine's connections (and, for engines that hold
	// them, port-forwards).
	Close() error

	// CreateProject prepares the scope of one stack instance before any of
	// its resources is created: nothing on Docker, a namespace on
	// Kubernetes. labels are the stack's owner labels.
	CreateProject(ctx context.Context, project string, labels map[string]string) error

	// CreateNetwork creates a network and returns its engine name.
	CreateNetwork(ctx context.Context, spec NetworkSpec) (string, error)
	// CreateVolume creates a named volume.
	CreateVolume(ctx context.Context, spec VolumeSpec) error
	// List returns every resource (containers, networks, volumes,
	// projects) that carries all of labels, whatever its state.
	List(ctx context.Context, labels map[string]string) ([]Resource, error)
	// Remove removes a resource listed by List, forcibly (a running
	// container is killed, a container's anonymous volumes go with it). A
	// resource that no longer exists is not an error.
	Remove(ctx context.Context, r Resource) error

	// Image inspects a local image; it returns an error wrapping
	// ErrNotFound when the engine does not have it.
	Image(ctx context.Context, ref string) (ImageInfo, error)
	// Pull pulls an image (platform "" for the engine's own), writing
	// progress to out.
	Pull(ctx context.Context, ref, platform string, out io.Writer) error
	// Build builds an image, writing the build output to out.
	Build(ctx context.Context, spec BuildSpec, out io.Writer) error

	// Create creates a container, attached to every network of
	// spec.Networks, and returns its id. It does not start it.
	Create(ctx context.Context, spec ContainerSpec) (string, error)
	// Start starts a created or stopped container.
	Start(ctx context.Context, id string) error
	// Inspect returns the container's current state.
	Inspect(ctx context.Context, id string) (State, error)
	// Wait blocks until the container is not running (it exited, even if
	// its restart policy restarts it afterwards) and returns its exit code.
	// It returns at once for a container that is not running.
	Wait(ctx context.Context, id string) (int, error)
	// Stop sends the container's stop signal and kills it after timeout.
	// A container that is not running is not an error.
	Stop(ctx context.Context, id string, timeout time.Duration) error
	// Kill sends signal ("SIGKILL", "SIGHUP"...; "" for SIGKILL) to the
	// container's main process.
	Kill(ctx context.Context, id, signal string) error
	// Pause freezes the container's processes; Unpause resumes them.
	Pause(ctx context.Context, id string) error
	Unpause(ctx context.Context, id string) error
	// Exec runs cmd in the running container (no shell) and returns its
	// exit code once it has exited. Output goes to stdout and stderr. When
	// ctx ends first, Exec returns ctx's error (the process may run on in
	// the container). An exec that the engine reports as finished but
	// whose exit code it does not know returns an error, never 0.
	Exec(ctx context.Context, id string, cmd []string, stdout, stderr io.Writer) (int, error)
	// Logs copies the container's output (stdout and stderr, which a tty
	// container does not distinguish) to the writers; see LogOptions.
	Logs(ctx context.Context, id string, opts LogOptions, stdout, stderr io.Writer) error
	// CopyTo extracts the tar stream into directory dir of the container,
	// which must exist.
	CopyTo(ctx context.Context, id, dir string, tar io.Reader) error
	// CopyFrom returns a tar stream of path in the container.
	CopyFrom(ctx context.Context, id, path string) (io.ReadCloser, error)
}

// ExecTimeouter is implemented by an engine whose Exec may spend long
// setting up before the command runs (over ssh://, an exec waits for a
// new session, whose remote login can take seconds). ExecTimeout is Exec
// with timeout bounding the command alone, from the moment it starts,
// the way the engine's own healthchecks measure their timeout; when the
// command outlives it, ExecTimeout returns an error that wraps
// context.DeadlineExceeded. ctx bounds the whole call.
type ExecTimeouter interface {
	ExecTimeout(ctx context.Context, id string, cmd []string, timeout time.Duration, stdout, stderr io.Writer) (int, error)
}

// Publisher is implemented by an engine whose published ports belong to
// the process that holds them, not to the engine: on Kubernetes a
// published port is a port-forward, held by the process that created the
// container. Publish makes the ports of container id, created by another
// process (a shared stack that this process attaches to), reachable from
// this process, and returns them as State.Ports does; Inspect reports them
// from then on. It is idempotent; what it opens lasts until the container
// is removed through this engine or the engine is closed. The runtime calls
// it when it attaches to a running container it did not create.
//
// Engines whose daemon publishes the ports (Docker and Podman, local or
// remote) do not implement it: their Inspect already reports ports that
// every process dials.
type Publisher interface {
	Publish(ctx context.Context, id string) (map[PortKey]HostPort, error)
}

// Info describes a connected engine.
type Info struct {
	// Name is the engine's kind: "docker", "podman" or "kubernetes".
	Name string
	// Endpoint is where the engine answers ("unix:///var/run/docker.sock",
	// "ssh://ci@build-1", "https://10.0.0.1:6443"), for messages.
	Endpoint string
	// From says how the endpoint was chosen ("DOCKER_HOST", "docker
	// context prod", "default socket", "KUBECONFIG"), for messages.
	From string
	// Version and API are the server's version and API version.
	Version string
	API     string
	// DialHost is the host on which published ports are reached from this
	// process ("127.0.0.1" for a local engine, the engine's host for a
	// remote one).
	DialHost string
	// PublishIP is the host IP ports are published on unless the compose
	// file names one: "127.0.0.1" for a local engine, "" (every
	// interface) for a remote one, so that DialHost reaches them.
	PublishIP string
	// Local is true when the engine runs containers on this machine, so
	// that State.Pid names a process of this machine's /proc.
	Local bool
	// Rootless is true for a rootless Docker or Podman.
	Rootless bool
	// NoBuild is true for an engine that cannot build images (Kubernetes):
	// the image of a service with a build section is used as the engine
	// finds it, and Build, called only when it is absent, refuses with its
	// reason.
	NoBuild bool
	// CPUs is the number of CPUs of the host that runs the containers, 0
	// when the engine does not say (a cluster). The runtime bounds the
	// containers it starts at once by it.
	CPUs int
}

// Resource kinds of List and Remove.
const (
	KindContainer = "container"
	KindNetwork   = "network"
	KindVolume    = "volume"
	// KindProject is an engine's scope of one stack instance (a namespace
	// on Kubernetes); removing it removes all it holds.
	KindProject = "project"
)

// Resource is an engine resource listed by label.
type Resource struct {
	Kind   string // KindContainer, KindNetwork, KindVolume or KindProject
	ID     string
	Name   string
	Labels map[string]string
}

// NetworkSpec is a network to create.
type NetworkSpec struct {
	Name string
	// Project names the stack instance the network belongs to (Kubernetes
	// creates it in the project's namespace; other engines may ignore it).
	Project  string
	Driver   string // "" for the engine's default (bridge)
	Internal bool
	Options  map[string]string
	Labels   map[string]string
}

// VolumeSpec is a named volume to create.
type VolumeSpec struct {
	Name string
	// Project names the stack instance the volume belongs to (Kubernetes
	// creates it in the project's namespace; other engines may ignore it).
	Project string
	Driver  string // "" for the engine's default (local)
	Options map[string]string
	Labels  map[string]string
}

// ImageInfo describes a local image.
type ImageInfo struct {
	ID           string
	OS           string
	Architecture string
	// Labels are the image's labels (nil when the engine does not know
	// them).
	Labels map[string]string
}

// BuildSpec is an image to build.
type BuildSpec struct {
	// Tag is the image's name.
	Tag string
	// ContextDir is the absolute build context directory; Dockerfile is
	// relative to it ("" for Dockerfile) or absolute, and may lie outside
	// it. The engine sends the files that the context's .dockerignore does
	// not exclude (see the runtime's internal buildctx package, whose
	// digest of those files identifies the image).
	ContextDir string
	Dockerfile string
	Args       map[string]string
	Target     string
	Platform   string
	Labels     map[string]string
	// NoCache rebuilds every step.
	NoCache bool
}

// ContainerSpec is a container to create. Every value is final: the runtime
// has interpolated the compose file's templates and resolved paths (bind
// mount sources are absolute paths of this machine).
type ContainerSpec struct {
	// Name is the container's name, unique on the engine
	// ("<project>-<service>-1").
	Name string
	// Project and Service name the stack instance and the compose service
	// (Kubernetes uses them for the namespace and the Service objects).
	Project string
	Service string
	// Number is the replica number, from 1.
	Number int

	Image string
	// PullPolicy is the compose pull_policy ("", "always", "never",
	// "missing", "build"). The runtime has already made the image
	// available accordingly; engines whose nodes pull at run time
	// (Kubernetes: imagePullPolicy) apply it, others ignore it.
	PullPolicy string
	// Cmd and Entrypoint replace the image's when non-nil; an empty non-nil
	// Entrypoint clears the image's.
	Cmd        []string
	Entrypoint []string
	Env        []string // NAME=value, sorted
	Labels     map[string]string
	Hostname   string
	User       string
	WorkingDir string
	Tty        bool
	OpenStdin  bool
	StopSignal string
	// StopTimeout is the stop grace period; 0 for the engine's default.
	StopTimeout time.Duration
	Healthcheck *Healthcheck
	Platform    string

	Init           *bool
	Privileged     bool
	ReadOnly       bool
	CapAdd         []string
	CapDrop        []string
	ShmSize        int64
	Sysctls        map[string]string
	Ulimits        []Ulimit
	Restart        RestartPolicy
	Tmpfs          map[string]string // path → options
	Mounts         []Mount
	ExtraHosts     []string // host:ip
	DNS            []string
	DNSSearch      []string
	DNSOptions     []string
	SecurityOpt    []string
	GroupAdd       []string
	Devices        []Device
	UsernsMode     string
	CgroupParent   string
	PidMode        string // "", "host", "container:<id>"
	IpcMode        string // "", "host", "private", "shareable", "none", "container:<id>"
	VolumesFrom    []string
	Memory         int64
	MemReservation int64
	MemSwap        int64
	NanoCPUs       int64
	CPUShares      int64
	PidsLimit      int64
	OomKillDisable bool
	OomScoreAdj    int

	// Ports are published; see PortBinding.
	Ports []PortBinding
	// NetworkMode is "", "host", "none" or "container:<id>". With "" the
	// container joins Networks, the first one at creation.
	NetworkMode string
	Networks    []Attachment
}

// Healthcheck is a healthcheck for the engine to run, recorded on the
// container as the engine knows it; Test ["NONE"] disables the image's.
// The runtime runs compose healthchecks itself and passes NONE; engines
// that cannot record one ignore it.
type Healthcheck struct {
	Test          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
}

// Ulimit is one resource limit.
type Ulimit struct {
	Name       string
	Soft, Hard int64
}

// RestartPolicy is the container's restart policy: Name "" or "no",
// "always", "unless-stopped" or "on-failure" (with MaxRetries, 0 for no
// limit).
type RestartPolicy struct {
	Name       string
	MaxRetries int
}

// Mount is a volume, bind or tmpfs mount.
type Mount struct {
	Type     string // "volume", "bind" or "tmpfs"
	Source   string // the volume's engine name, or an absolute host path
	Target   string
	ReadOnly bool
}

// Device is a host device made available in the container.
type Device struct {
	Source, Target, Permissions string
}

// PortBinding publishes a container port. HostIP "" means every interface;
// HostPort "" (or "0") an ephemeral port.
type PortBinding struct {
	Port     int
	Protocol string // "tcp" or "udp"
	HostIP   string
	HostPort string
}

// Attachment joins a network under aliases.
type Attachment struct {
	Network string // the network's engine name
	Aliases []string
	// Links are "<container name>:<alias>" legacy links.
	Links []string
}

// State is a container's state.
type State struct {
	// Status is "created", "running", "paused", "restarting", "exited",
	// "dead" or "removing".
	Status     string
	Running    bool
	Paused     bool
	Restarting bool
	// ExitCode is the last exit code (valid when the container has exited
	// at least once).
	ExitCode int
	// RestartCount counts the restarts by the restart policy.
	RestartCount int
	OOMKilled    bool
	// Error is the engine's error for a container that failed to run.
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
	// Pid is the main process's pid on the engine's machine, 0 when not
	// running or unknown.
	Pid int
	// Ports are the published ports.
	Ports map[PortKey]HostPort
}

// PortKey is a container port.
type PortKey struct {
	Port     int
	Protocol string
}

// HostPort is where a container port is published.
type HostPort struct {
	// IP is the bound address ("0.0.0.0", "127.0.0.1") as the engine
	// reports it; Port the host port.
	IP   string
	Port int
}

// LogOptions select what Logs copies.
type LogOptions struct {
	// Tail is the number of last lines; 0 for all.
	Tail int
	// Follow streams new output until ctx ends or the container stops.
	Follow bool
	// Tty is set for a container with a tty, whose output is raw.
	Tty bool
}

// ErrNotFound is wrapped by errors about a container, network, volume,
// image or project that does not exist.
var ErrNotFound = errors.New("not found")

// Opener connects to an engine. It returns an error that names every
// address it tried when none answers.
type Opener func(ctx context.Context) (Engine, error)

var registry struct {
	sync.Mutex
	m     map[string]Opener
	hooks []func(name string)
}

// Register makes an engine available under name (COMPOSEGEN_ENGINE=name,
// runtime.WithEngine(name)). It is called from the init function of the
// engine's package; registering a name twice panics.
func Register(name string, open Opener) {
	registry.Lock()
	if registry.m == nil {
		registry.m = map[string]Opener{}
	}
	if _, dup := registry.m[name]; dup {
		registry.Unlock()
		panic(fmt.Sprintf("engine: %q registered twice", name))
	}
	registry.m[name] = open
	hooks := slices.Clone(registry.hooks)
	registry.Unlock()
	for _, f := range hooks {
		f(name)
	}
}

// OnRegister makes Register call f with the name of each engine it
// registers from now on, right after registering it, on the registering
// goroutine (during package initialisation). The runtime's watcher process
// uses it to start once the engine it needs is linked: an engine of its own
// module (Kubernetes) is initialised after the runtime.
func OnRegister(f func(name string)) {
	registry.Lock()
	defer registry.Unlock()
	registry.hooks = append(registry.hooks, f)
}

// Lookup returns the opener registered under name.
func Lookup(name string) (Opener, bool) {
	registry.Lock()
	defer registry.Unlock()
	o, ok := registry.m[name]
	return o, ok
}

// Names returns the registered engine names, sorted.
func Names() []string {
	registry.Lock()
	defer registry.Unlock()
	names := make([]string, 0, len(registry.m))
	for n := range registry.m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
