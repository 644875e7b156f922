package runtime

import (
	"context"
	"io"
	"time"
)

// Service is one running container of a stack's service (a replica; most
// services have one). Its methods are safe for concurrent use.
type Service struct {
	r *replica
}

// Addr returns host:port where container port target (tcp) is published. It
// panics when the port is not published, which generated code rules out.
func (s *Service) Addr(target int) string {
	return s.r.Addr(target)
}

// Command returns the service's command after interpolation, nil when the
// compose file keeps the image's.
func (s *Service) Command() []string {
	return s.r.Command()
}

// ContainerID returns the id of the service's container.
func (s *Service) ContainerID() string {
	return s.r.ContainerID()
}

// ContainerName returns the engine's name of the service's container.
func (s *Service) ContainerName() string {
	return s.r.ContainerName()
}

// CopyFrom reads file src (an absolute path) from the container.
func (s *Service) CopyFrom(ctx context.Context, src string) ([]byte, error) {
	return s.r.CopyFrom(ctx, src)
}

// CopyTo writes content as file dst (an absolute path) in the container,
// with mode perm. Missing parent directories are created (mode 0755).
func (s *Service) CopyTo(ctx context.Context, dst string, content []byte, perm int64) error {
	return s.r.CopyTo(ctx, dst, content, perm)
}

// Env returns the value of the service's environment variable, "" if unset.
func (s *Service) Env(name string) string {
	return s.r.Env(name)
}

// Environ returns a copy of the service's resolved environment.
func (s *Service) Environ() map[string]string {
	return s.r.Environ()
}

// Exec runs cmd in the service's container (no shell: pass "sh", "-c", ...
// for one) and returns its exit code and output (the last MiB of each
// stream). The error is for failures to run it at all; a non-zero exit is
// in ExitCode.
func (s *Service) Exec(ctx context.Context, cmd ...string) (ExecResult, error) {
	return s.r.Exec(ctx, cmd...)
}

// FollowLogs copies the container's output to w until ctx is done or the
// container stops.
func (s *Service) FollowLogs(ctx context.Context, w io.Writer) error {
	return s.r.FollowLogs(ctx, w)
}

// Healthcheck returns a copy of the healthcheck declared in the compose file,
// nil when it declares none.
func (s *Service) Healthcheck() *Healthcheck {
	return s.r.Healthcheck()
}

// Host returns the host on which the service's ports are published.
func (s *Service) Host() string {
	return s.r.Host()
}

// InternalAddr returns "service:port", the address other containers of the
// stack use to reach container port target.
func (s *Service) InternalAddr(target int) string {
	return s.r.InternalAddr(target)
}

// Kill sends signal (such as "SIGKILL" or "SIGHUP"; "" for SIGKILL) to the
// container's main process.
func (s *Service) Kill(ctx context.Context, signal string) error {
	return s.r.Kill(ctx, signal)
}

// Logs returns the container's output so far (stdout and stderr
// interleaved as the engine stored them), at most its last MiB; WriteLogs
// streams all of it.
func (s *Service) Logs(ctx context.Context) (string, error) {
	return s.r.Logs(ctx)
}

// LookupEnv returns the value of the service's environment variable after
// interpolation (environment and env_file), and whether it is set.
func (s *Service) LookupEnv(name string) (string, bool) {
	return s.r.LookupEnv(name)
}

// LookupPort is Port without the panic: ok is false when the port is not
// published.
func (s *Service) LookupPort(target int, protocol string) (p Port, ok bool) {
	return s.r.LookupPort(target, protocol)
}

// Name returns the compose service name.
func (s *Service) Name() string {
	return s.r.Name()
}

// Pause freezes the container's processes.
func (s *Service) Pause(ctx context.Context) error {
	return s.r.Pause(ctx)
}

// Port returns the published host address of container port target
// ("tcp" or "udp"). It panics if the port was not published, which generated
// code rules out: every declared port is published. After Restart or Start
// the host port may change; Port always returns the current one.
func (s *Service) Port(target int, protocol string) Port {
	return s.r.Port(target, protocol)
}

// Ports returns the service's published ports, in the compose file's order
// (ports, then expose, then the kind's default ports).
func (s *Service) Ports() []Port {
	return s.r.Ports()
}

// Replica returns the replica's number, from 1.
func (s *Service) Replica() int {
	return s.r.Replica()
}

// Replicas returns the service's containers, one Service each, in replica
// order: replica 1 first.
func (s *Service) Replicas() []*Service {
	return publicOf(s.r.Replicas())
}

// Restart restarts the container (stop with its stop signal and grace
// period, then start) and waits until it is ready again, as after Up. Like
// `docker compose restart`, it then restarts the services of the stack that
// declare this one in depends_on with restart: true, each awaited too.
//
// The container keeps its filesystem (not its tmpfs mounts) and its
// networks, but the engine may publish its ports on other host ports: the
// port methods (and accessors built on them, such as DSN) always return the
// current ones, so call them again after Restart rather than keeping an
// address from before.
func (s *Service) Restart(ctx context.Context) error {
	return s.r.Restart(ctx)
}

// Start starts the stopped container again and waits until it is ready
// (its probe and healthcheck pass again). Host ports may change: the port
// methods and the accessors built on them always return the current ones.
func (s *Service) Start(ctx context.Context) error {
	return s.r.Start(ctx)
}

// Stop stops the container with its stop signal and grace period (10s by
// default, the compose file's stop_grace_period, or timeout if positive).
func (s *Service) Stop(ctx context.Context, timeout time.Duration) error {
	return s.r.Stop(ctx, timeout)
}

// Unpause resumes a paused container.
func (s *Service) Unpause(ctx context.Context) error {
	return s.r.Unpause(ctx)
}

// WriteLogs copies the container's whole output so far to w.
func (s *Service) WriteLogs(ctx context.Context, w io.Writer) error {
	return s.r.WriteLogs(ctx, w)
}

// publicOf returns the replicas' Services.
func publicOf(rs []*replica) []*Service {
	out := make([]*Service, len(rs))
	for i, r := range rs {
		out[i] = r.pub
	}
	return out
}
