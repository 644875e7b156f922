package runtime

import (
	"context"
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
)

// Service is a running service of a stack. Its methods are safe for
// concurrent use.
type Service struct {
	stack *Stack
	spec  *composeplan.ServiceSpec
	// env is the service's resolved environment.
	env map[string]string

	mu       sync.Mutex
	id       string
	name     string // container name
	ports    map[portKey]int
	pid      int // the container's main process on the engine's host
	err      error
	exitCode int
	probes   []string          // last probe outputs, newest last
	files    map[string]string // FileEnv files read at start, by path

	tCreated, tStarted, tReady time.Time
	tExited                    time.Time // exit seen during Up (one-shots)

	startedCh chan struct{} // closed when the container runs
	readyCh   chan struct{} // closed when ready (healthy, probed, or completed)
	exitedCh  chan struct{} // closed when the container exited during Up
	failedCh  chan struct{} // closed when the service failed to start
	failOnce  sync.Once
}

type portKey struct {
	target int
	proto  string
}

func newService(s *Stack, spec *composeplan.ServiceSpec, env map[string]string) *Service {
	return &Service{
		stack: s, spec: spec, env: env,
		ports:     map[portKey]int{},
		startedCh: make(chan struct{}),
		readyCh:   make(chan struct{}),
		exitedCh:  make(chan struct{}),
		failedCh:  make(chan struct{}),
	}
}

func (s *Service) fail(err error) {
	s.failOnce.Do(func() {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.failedCh)
	})
}

func (s *Service) isReady() bool {
	select {
	case <-s.readyCh:
		return true
	default:
		return false
	}
}

// Name returns the compose service name.
func (s *Service) Name() string { return s.spec.Name }

// ContainerID returns the id of the service's container.
func (s *Service) ContainerID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// ContainerName returns the engine's name of the service's container.
func (s *Service) ContainerName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

// Host returns the host on which the service's ports are published.
func (s *Service) Host() string { return s.stack.host }

// Port returns the published host address of container port target
// ("tcp" or "udp"). It panics if the port was not published, which generated
// code rules out: every declared port is published. After Restart or Start
// the host port may change; Port always returns the current one.
func (s *Service) Port(target int, protocol string) Port {
	if protocol == "" {
		protocol = "tcp"
	}
	s.mu.Lock()
	hp, ok := s.ports[portKey{target, protocol}]
	s.mu.Unlock()
	if !ok {
		panic(fmt.Sprintf("composegen: service %q: container port %d/%s is not published (network_mode %q?)", s.spec.Name, target, protocol, s.spec.NetworkMode))
	}
	scheme := ""
	for _, p := range s.spec.Ports {
		if p.Target == target && p.Protocol == protocol && p.AppProtocol != "" {
			scheme = p.AppProtocol
		}
	}
	return Port{Host: s.stack.host, HostPort: hp, Target: target, Protocol: protocol, Scheme: scheme}
}

// LookupPort is Port without the panic: ok is false when the port is not
// published.
func (s *Service) LookupPort(target int, protocol string) (p Port, ok bool) {
	if protocol == "" {
		protocol = "tcp"
	}
	s.mu.Lock()
	_, ok = s.ports[portKey{target, protocol}]
	s.mu.Unlock()
	if !ok {
		return Port{}, false
	}
	return s.Port(target, protocol), true
}

// Addr returns host:port where container port target (tcp) is published. It
// panics when the port is not published, which generated code rules out.
func (s *Service) Addr(target int) string { return s.Port(target, "tcp").Addr() }

// File returns the content of a file of the container that the runtime read
// when the service became ready: those named by the NAME_FILE variables of
// the kind's FileEnv (at templates.SecretPath of the value), for the kind's
// accessors.
func (s *Service) File(path string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.files[path]
	return c, ok
}

// Advertised returns the host addresses of the ports whose address the
// service advertises to its clients (Kafka's advertised listeners), in the
// plan's port order; nil when none.
func (s *Service) Advertised() []string {
	var out []string
	for _, p := range s.spec.Ports {
		if len(p.Advertised) > 0 {
			if hp, ok := s.LookupPort(p.Target, "tcp"); ok {
				out = append(out, hp.Addr())
			}
		}
	}
	return out
}

// readFiles reads the files named by the service's FileEnv variables.
func (s *Service) readFiles(ctx context.Context) error {
	for _, name := range s.spec.FileEnv {
		p := s.env[name+"_FILE"]
		if p == "" {
			continue
		}
		if !strings.HasPrefix(p, "/") {
			p = "/run/secrets/" + p
		}
		p = path.Clean(p)
		b, err := s.CopyFrom(ctx, p)
		if err != nil {
			return fmt.Errorf("service %q: %s_FILE: %w", s.spec.Name, name, err)
		}
		s.mu.Lock()
		if s.files == nil {
			s.files = map[string]string{}
		}
		s.files[p] = string(b)
		s.mu.Unlock()
	}
	return nil
}

// LookupEnv returns the value of the service's environment variable after
// interpolation (environment and env_file), and whether it is set.
func (s *Service) LookupEnv(name string) (string, bool) {
	v, ok := s.env[name]
	return v, ok
}

// Env returns the value of the service's environment variable, "" if unset.
func (s *Service) Env(name string) string { return s.env[name] }

// EnvDefault returns the variable's value, or def when it is unset or empty.
func (s *Service) EnvDefault(name, def string) string {
	if v := s.env[name]; v != "" {
		return v
	}
	return def
}

// Environ returns a copy of the service's resolved environment.
func (s *Service) Environ() map[string]string {
	m := make(map[string]string, len(s.env))
	for k, v := range s.env {
		m[k] = v
	}
	return m
}

// Healthcheck returns a copy of the healthcheck declared in the compose file,
// nil when it declares none.
func (s *Service) Healthcheck() *Healthcheck {
	hc := s.spec.Healthcheck
	if hc == nil {
		return nil
	}
	return &Healthcheck{
		Test: append([]string(nil), hc.Test...), Interval: hc.Interval, Timeout: hc.Timeout,
		StartPeriod: hc.StartPeriod, StartInterval: hc.StartInterval, Retries: hc.Retries, Disable: hc.Disable,
	}
}

// Ports returns the service's published ports, in the compose file's order
// (ports, then expose, then the kind's default ports).
func (s *Service) Ports() []Port {
	var out []Port
	for _, p := range s.spec.Ports {
		if port, ok := s.LookupPort(p.Target, p.Protocol); ok {
			out = append(out, port)
		}
	}
	return out
}

// Replicas returns the service's containers, one Service each, in replica
// order: the receiver (replica 1) first.
func (s *Service) Replicas() []*Service { return []*Service{s} }

// InternalAddr returns "service:port", the address other containers of the
// stack use to reach container port target.
func (s *Service) InternalAddr(target int) string {
	return net.JoinHostPort(s.spec.Name, strconv.Itoa(target))
}

// waitFor blocks until dependency d's condition holds.
func (s *Service) waitFor(ctx context.Context, d composeplan.Dependency, dep *Service) error {
	var ch chan struct{}
	switch d.Condition {
	case "service_healthy":
		ch = dep.readyCh
	case "service_completed_successfully":
		ch = dep.exitedCh
	default:
		ch = dep.startedCh
	}
	select {
	case <-ch:
	case <-dep.failedCh:
		return fmt.Errorf("service %q: not started because its dependency %q failed", s.spec.Name, d.Service)
	case <-ctx.Done():
		return ctx.Err()
	}
	if d.Condition == "service_completed_successfully" {
		dep.mu.Lock()
		code := dep.exitCode
		dep.mu.Unlock()
		if code != 0 {
			return fmt.Errorf("%w (so %q, which depends on it, was not started)", dep.exitError(), s.spec.Name)
		}
	}
	return nil
}

// run brings the service up: creates its container, waits for its
// dependencies, starts the container and waits until it is ready.
//
// Creation needs nothing from the dependencies (compose, too, creates every
// container before it starts any), so it happens at once, overlapping with
// the dependencies' start and readiness; only network_mode service: and
// links name another container and wait for it.
func (s *Service) run(ctx context.Context) error {
	st := s.stack
	early := s.createEarly()
	if early {
		if err := s.create(ctx); err != nil {
			return fmt.Errorf("service %q: %w", s.spec.Name, err)
		}
	}
	for _, d := range s.spec.DependsOn {
		dep := st.services[d.Service]
		if dep == nil {
			continue // optional dependency that is not part of this stack
		}
		if err := s.waitFor(ctx, d, dep); err != nil {
			return err
		}
	}
	for _, ref := range containerRefs(s.spec) {
		if dep := st.services[ref.service]; dep != nil && dep != s {
			if err := s.waitFor(ctx, composeplan.Dependency{Service: ref.service}, dep); err != nil {
				return err
			}
		}
	}
	if !early {
		if err := s.create(ctx); err != nil {
			return fmt.Errorf("service %q: %w", s.spec.Name, err)
		}
	}
	if err := s.start(ctx); err != nil {
		return fmt.Errorf("service %q: %w", s.spec.Name, err)
	}
	close(s.startedCh)
	if err := s.awaitReady(ctx); err != nil {
		return err
	}
	if err := s.readFiles(ctx); err != nil {
		return err
	}
	s.mu.Lock()
	s.tReady = time.Now()
	s.mu.Unlock()
	close(s.readyCh)
	return nil
}

// createEarly reports whether the container can be created before the
// service's dependencies are satisfied: its creation refers to no other
// service's container.
func (s *Service) createEarly() bool {
	return len(containerRefs(s.spec)) == 0
}

// A containerRef is another service whose container the service's
// container refers to at creation, so that it must be started first.
type containerRef struct {
	field   string // links, network_mode, volumes_from, pid, ipc
	service string
	// optional refs (links) are skipped when the service is not part of
	// the start; the others are an error then.
	optional bool
}

// containerRefs lists the services named by links, network_mode,
// volumes_from, pid and ipc.
func containerRefs(spec *composeplan.ServiceSpec) []containerRef {
	var refs []containerRef
	for _, l := range spec.Links {
		name, _, _ := strings.Cut(l, ":")
		refs = append(refs, containerRef{"links", name, true})
	}
	for _, m := range [][2]string{{"network_mode", spec.NetworkMode}, {"pid", spec.Pid}, {"ipc", spec.Ipc}} {
		if name, ok := strings.CutPrefix(m[1], "service:"); ok {
			refs = append(refs, containerRef{field: m[0], service: name})
		}
	}
	for _, v := range spec.VolumesFrom {
		if name, _, isService := volumesFromService(v); isService {
			refs = append(refs, containerRef{field: "volumes_from", service: name})
		}
	}
	return refs
}

// volumesFromService splits a volumes_from entry: "service:NAME[:MODE]"
// (or a bare "NAME[:MODE]", compose's short form) names a service of the
// stack, "container:NAME[:MODE]" a container.
func volumesFromService(v string) (name, mode string, isService bool) {
	if strings.HasPrefix(v, "container:") {
		return "", "", false
	}
	v = strings.TrimPrefix(v, "service:")
	name, mode, _ = strings.Cut(v, ":")
	return name, mode, true
}

// Command returns the service's command after interpolation, nil when the
// compose file does not override the image's.
func (s *Service) Command() []string {
	if s.stack.res == nil {
		return s.spec.Command
	}
	cmd, err := s.stack.res.expandAll("command", s.spec.Command)
	if err != nil {
		return s.spec.Command
	}
	return cmd
}
