// Package templates is composegen's catalog of known service kinds. A kind is
// recognised by its image; it decides which typed accessors the generated
// service type gets (DSN, Addr, URL, ...), how credentials are derived from
// the service's environment (exactly as the official image derives them,
// defaults included), the kind's default container ports, and the readiness
// probe used when the compose file declares no healthcheck.
//
// The accessor functions (PostgresDSN, RedisAddr, ...) are called by
// generated code with the running service (a runtimeimpl.Service, which
// implements Service). They are pure: they read the service's environment
// after interpolation, its command and its published ports, and compute.
//
// The per-test isolation accessors (PostgresFreshDSN, MySQLFreshDSN,
// RedisFreshURL, ..., behind the generated FreshDSN and FreshURL methods)
// are the exception: called with the test and a StackService, they create
// or lease a store of the test's own in the running service and remove it
// when the test ends. They derive the service's credentials here, as the
// pure accessors do, and hand the rest, in one line each, to the internal
// package templates/internal/fresh, which owns the per-test databases, the
// pool of ready copies, the budget of administration connections, the sweep
// of what ended test binaries left, and the cross-process locks.
//
// Variables of the *_FILE form (POSTGRES_PASSWORD_FILE, MARIADB_PASSWORD_FILE,
// MONGO_INITDB_ROOT_PASSWORD_FILE, MINIO_ROOT_PASSWORD_FILE, ...) name a file
// inside the container, typically a secret under /run/secrets. A kind lists
// the variables its image reads that way (Kind.FileEnv); the generator puts
// them in the plan, and the runtime reads those files from the container once
// when the stack starts (a file it cannot read fails the start), so that the
// accessors can use their content when the plain variable is unset, with
// trailing newlines trimmed as the entrypoints' $(< file) does. The rabbitmq
// images dropped RABBITMQ_DEFAULT_PASS_FILE with RabbitMQ 3.9 (the server
// reads RABBITMQ_DEFAULT_PASS itself), so the rabbitmq kind does not resolve
// it.
package templates

import (
	"strings"

	"github.com/composegen/composegen/runtime/composeplan"
)

// Service is what an accessor reads of a running service. The generated code
// passes its runtimeimpl.Service, which implements it.
type Service interface {
	// Env returns a variable of the service's environment after
	// interpolation, "" when unset.
	Env(name string) string
	// Addr returns host:port where container port port (tcp) is published.
	// The generator emits an accessor only when the ports it reads are
	// published.
	Addr(port int) string
	// Command returns the service's command after interpolation, nil when
	// the compose file keeps the image's.
	Command() []string
	// File returns the content of a file of the service's container that
	// the runtime read when the stack started (those named by the kind's
	// FileEnv variables, at SecretPath of their value), and whether it was
	// read.
	File(path string) (string, bool)
	// Advertised returns the host addresses (host:port) of the ports the
	// service advertises to its clients (composeplan.PortSpec.Advertised),
	// nil when none.
	Advertised() []string
	// InternalAddr returns "service:port", the address at which the other
	// containers of the stack reach container port port (the service name
	// resolves on the stack's network).
	InternalAddr(port int) string
}

// InNetwork returns s as the other containers of its stack see it: its Addr
// is s.InternalAddr (the service name and the container port) instead of
// the published host address, and it advertises nothing. An accessor called
// with it returns the same string in the same format, with the in-network
// address: PostgresDSN(InNetwork(s)) is
// postgres://app:secret@db:5432/app?sslmode=disable for a service "db".
// The generated InternalDSN, InternalURL and InternalURI methods are that
// (the redis kinds' InternalURL also names the user "default", see
// RedisInternalURL).
//
// The service name resolves on the stack's network for every container of
// the stack (Docker and Podman: a network alias). On Kubernetes it is a
// Service of the stack's namespace: a name that is a valid DNS label
// (postgres, order-db) resolves at any time, but another (order_db, 2fa,
// Web) is written into a pod's hosts when the pod starts, so the container
// that uses it must start after the service (depends_on).
func InNetwork(s Service) Service { return inNetwork{s} }

type inNetwork struct{ Service }

func (n inNetwork) Addr(port int) string { return n.Service.InternalAddr(port) }

func (n inNetwork) Advertised() []string { return nil }

// Kind is one entry of the catalog.
type Kind struct {
	// Name is the kind's name ("postgres"). Variants of an image family whose
	// environment differs (Bitnami's images) are kinds of their own
	// ("postgres-bitnami") with the same accessor names.
	Name string
	// Images are the image repositories recognised, without registry or tag
	// ("postgres", "postgis/postgis", "bitnami/postgresql").
	Images []string
	// Ports are the kind's default container ports (tcp). The generator
	// publishes them even when the compose file does not declare them, so
	// that the accessors work.
	Ports []int
	// Probe is the readiness probe used when the service has no
	// healthcheck; nil to wait only for the container to run.
	Probe *composeplan.ProbeSpec
	// Accessors are the typed methods generated for the kind.
	Accessors []Accessor
	// FileEnv names the variables that the image also reads from the file
	// named by NAME_FILE (POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE). The
	// runtime reads those files when the stack starts; see Service.File.
	FileEnv []string
	// Advertises names the environment variables (and "command") in which
	// a broker of this kind advertises the address its clients must use,
	// such as Kafka's advertised listeners. The generator marks the
	// published ports advertised there as localhost:<port> so that the
	// runtime rewrites them to the host port it picks (see
	// composeplan.PortSpec.Advertised), and warns when no listener is reachable
	// from the host.
	Advertises []string
	// Server says what runs the kind's server in its images. A service of
	// the kind's image whose entrypoint or command runs something else (a
	// client toolbox with sleep infinity, a psql migration one-shot, a
	// shell script that never starts the server) gets no kind: no probe, no
	// accessors, no default ports. nil: any command runs the server.
	Server *Server
}

// Server describes how the images of a kind run their server, for the
// generator's decision whether a service runs it (see Kind.Server). Names
// are base names of executables, compared with the first word of the
// entrypoint and command, and of each command of a "sh -c" script.
type Server struct {
	// Commands are the executables that run the server ("postgres",
	// "redis-server", "run.sh" for Bitnami's images).
	Commands []string
	// Entrypoints are the images' entrypoint scripts, which run what
	// follows them ("docker-entrypoint.sh postgres").
	Entrypoints []string
	// Wrappers are executables whose arguments decide: a tool whose
	// subcommand is the server ("clickhouse server", "rpk redpanda start",
	// "vault server"), with that subcommand in Commands.
	Wrappers []string
	// Flags is set when the images' entrypoint runs the server with the
	// command as its arguments when the command's first word starts with
	// "-" (command: ["-c", "fsync=off"], command: --appendonly yes).
	Flags bool
	// Always is set when the images' entrypoint runs the server whatever
	// the command: it is the server itself (NATS, Mailpit), or puts the
	// server in front of any command (MinIO). Only an entrypoint set in the
	// compose file replaces it.
	Always bool
	// Clients are the client programs that the images ship ("psql",
	// "redis-cli"): a service of the image that runs one of them, and not
	// the server, is a one-shot of the kind's tools (a migration, a seed),
	// which the generator notes without a warning.
	Clients []string
}

// Accessor is one typed method of a kind.
type Accessor struct {
	// Name is the generated method's name ("DSN").
	Name string
	// Doc is the method's doc comment, without the leading name.
	Doc string
	// Func is the function of this package that the method calls with the
	// running service: func(Service) Result.
	Func string
	// Result is the Go result type: "string" or "[]string".
	Result string
	// Ports are the container ports (tcp) the accessor reads. The generator
	// emits the accessor only when all of them are published by the service
	// (declared, or default ports of the kind).
	Ports []int
	// PerTest marks a per-test isolation accessor (FreshDSN, FreshURL): the
	// method takes the test, and Func is func(TB, StackService) Result.
	PerTest bool
	// InNetwork marks the in-network twin of an accessor (InternalDSN of
	// DSN, InternalURL of URL, InternalURI of URI): the method calls Func
	// with InNetwork(service), so that it returns the same string with the
	// address the stack's containers use. The per-test accessors (FreshDSN,
	// FreshURL) have none.
	InNetwork bool
	// Example is, for an InNetwork accessor, the arguments of an Exec in
	// another container of the stack that uses it, in Go syntax with %s for
	// the accessor's call (`"psql", %s, "-c", "select 1"`); "" when no
	// client of the kind's images takes the string on its command line.
	Example string
}

// Match returns the kind of an image reference (any registry prefix, tag or
// digest), or nil when the image is not in the catalog. Bitnami's images
// are also recognised under bitnamilegacy/, where Bitnami moved its free
// images in 2025 ("bitnamilegacy/etcd" is of the kind of "bitnami/etcd").
func Match(image string) *Kind {
	repo := Repository(image)
	if repo == "" {
		return nil
	}
	if name, ok := strings.CutPrefix(repo, "bitnamilegacy/"); ok {
		repo = "bitnami/" + name
	}
	for i := range catalog {
		for _, im := range catalog[i].Images {
			if im == repo {
				return &catalog[i]
			}
		}
	}
	return nil
}

// ByName returns the kind named name, or nil when there is none.
func ByName(name string) *Kind {
	for i := range catalog {
		if catalog[i].Name == name {
			return &catalog[i]
		}
	}
	return nil
}

// Kinds returns the names of all kinds of the catalog, in catalog order.
func Kinds() []string {
	names := make([]string, len(catalog))
	for i := range catalog {
		names[i] = catalog[i].Name
	}
	return names
}

// Repository strips the registry, the "library/" (or ECR Public's
// "docker/library/") prefix, the tag and the
// digest from an image reference: "docker.io/library/postgres:16" →
// "postgres", "ghcr.io/org/app:v1" → "org/app". ${VAR} templates in the tag
// ("postgres:${PG_VERSION:-16}") are skipped; a repository that is itself a
// template yields what is left, which matches no kind.
func Repository(image string) string {
	s := strings.TrimSpace(image)
	if i := indexOutside(s, '@', 0); i >= 0 {
		s = s[:i]
	}
	// A tag is after the first ':' that follows the last '/'.
	slash := lastIndexOutside(s, '/')
	if i := indexOutside(s, ':', slash+1); i >= 0 {
		s = s[:i]
	}
	// Drop a registry host: the first component if it has a '.' or ':' or is
	// "localhost".
	if i := strings.IndexByte(s, '/'); i >= 0 {
		first := s[:i]
		if first == "localhost" || strings.ContainsAny(first, ".:") {
			s = s[i+1:]
		}
	}
	s = strings.ToLower(s)
	// Official images under "library/", also as mirrored by Amazon ECR
	// Public ("public.ecr.aws/docker/library/redis").
	s = strings.TrimPrefix(s, "docker/library/")
	return strings.TrimPrefix(s, "library/")
}

// indexOutside returns the index of the first c at or after from that is not
// inside a ${...} template, -1 if none.
func indexOutside(s string, c byte, from int) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}' && depth > 0:
			depth--
		case depth == 0 && s[i] == c && i >= from:
			return i
		}
	}
	return -1
}

// lastIndexOutside returns the index of the last c not inside a ${...}
// template, -1 if none.
func lastIndexOutside(s string, c byte) int {
	last := -1
	for from := 0; ; {
		i := indexOutside(s, c, from)
		if i < 0 {
			return last
		}
		last, from = i, i+1
	}
}
