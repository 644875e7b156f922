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
	"github.com/composegen/composegen/runtime/engine"
)

// replica is the state machine behind a Service: one container of a
// stack's service, from its creation to its readiness (or failure) and its
// exit. Its channels are closed once each, as the container runs, is
// ready, exits or fails; the graph (graph.go) drives it, and Service is
// its public face.
type replica struct {
	pub    *Service // its public face, one per replica
	stack  *Stack
	unit   *unit
	spec   *composeplan.ServiceSpec
	number int // replica number, from 1
	// env is the container's resolved environment.
	env map[string]string

	mu       sync.Mutex
	id       string
	name     string // container name
	ports    map[engine.PortKey]engine.HostPort
	pid      int // the container's main process on the engine's machine
	err      error
	exitCode int
	probes   []string          // last probe outputs, newest last
	files    map[string]string // FileEnv files read at start, by path
	// base is the container's state when it was (re)started: a restart
	// count or start time that changes later means it restarted.
	base engine.State

	tCreated, tStarted, tReady time.Time
	tExited                    time.Time // exit seen while the stack lives

	startedCh chan struct{} // closed when the container runs
	readyCh   chan struct{} // closed when ready (healthy, probed, or completed)
	exitedCh  chan struct{} // closed when the container stopped
	failedCh  chan struct{} // closed when the replica failed to start
	failOnce  sync.Once
	exitOnce  sync.Once
	completed bool // it exited 0 as a one-shot
	// resumed is a replica that another process's start made ready: this
	// start attached to it and does not run it again.
	resumed bool
	// adopt is the running container that another process's start
	// started for the replica, not yet ready: this start waits for it
	// instead of starting another.
	adopt engine.Resource
}

func newReplica(s *Stack, u *unit, number int, env map[string]string) *replica {
	r := &replica{
		stack: s, unit: u, spec: u.spec, number: number, env: env,
		ports:     map[engine.PortKey]engine.HostPort{},
		startedCh: make(chan struct{}),
		readyCh:   make(chan struct{}),
		exitedCh:  make(chan struct{}),
		failedCh:  make(chan struct{}),
	}
	r.pub = &Service{r}
	return r
}

// label names the replica in messages: "postgres", or "web[2]" for the
// second replica of a scaled service.
func (s *replica) label() string {
	if len(s.unit.replicas) > 1 {
		return s.spec.Name + "[" + strconv.Itoa(s.number) + "]"
	}
	return s.spec.Name
}

// fail records why the replica could not start and wakes what waits for it.
func (s *replica) fail(err error) {
	s.failOnce.Do(func() {
		s.mu.Lock()
		s.err = err
		s.mu.Unlock()
		close(s.failedCh)
	})
}

func closed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (s *replica) Name() string { return s.spec.Name }

func (s *replica) Replica() int { return s.number }

func (s *replica) Replicas() []*replica { return append([]*replica(nil), s.unit.replicas...) }

func (s *replica) ContainerID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

func (s *replica) ContainerName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

func (s *replica) Host() string { return s.stack.info.DialHost }

func (s *replica) Port(target int, protocol string) Port {
	p, ok := s.LookupPort(target, protocol)
	if !ok {
		panic(fmt.Sprintf("composegen: service %q: container port %d/%s is not published (network_mode %q?)", s.spec.Name, target, protocol, s.spec.NetworkMode))
	}
	return p
}

func (s *replica) LookupPort(target int, protocol string) (p Port, ok bool) {
	if protocol == "" {
		protocol = "tcp"
	}
	s.mu.Lock()
	hp, ok := s.ports[engine.PortKey{Port: target, Protocol: protocol}]
	s.mu.Unlock()
	if !ok {
		return Port{}, false
	}
	scheme := ""
	for _, ps := range s.spec.Ports {
		if ps.Target == target && ps.Protocol == protocol && ps.AppProtocol != "" {
			scheme = ps.AppProtocol
		}
	}
	return Port{Host: s.dialHost(hp), HostPort: hp.Port, Target: target, Protocol: protocol, Scheme: scheme}, true
}

// dialHost is where a published port is dialled: the engine's host, or the
// address the port is bound to when that is a specific one of this machine.
func (s *replica) dialHost(hp engine.HostPort) string {
	if s.stack.info.Local && hp.IP != "" && hp.IP != "0.0.0.0" && hp.IP != "::" {
		return hp.IP
	}
	return s.stack.info.DialHost
}

func (s *replica) Addr(target int) string { return s.Port(target, "tcp").Addr() }

func (s *replica) Ports() []Port {
	var out []Port
	for _, p := range s.spec.Ports {
		if port, ok := s.LookupPort(p.Target, p.Protocol); ok {
			out = append(out, port)
		}
	}
	return out
}

// Advertised returns the host addresses of the ports whose address the
// service advertises to its clients (Kafka's advertised listeners), in the
// plan's port order; nil when none.
func (s *replica) Advertised() []string {
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

// File returns the content of a file of the container that the runtime read
// when the service became ready: those named by the NAME_FILE variables of
// the kind's FileEnv (an absolute path, or a secret's name under
// /run/secrets), for the kind's accessors.
func (s *replica) File(path string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.files[path]
	return c, ok
}

// secretPath is where a _FILE variable's value points in the container.
func secretPath(p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join("/run/secrets", p)
}

// readFiles reads the files named by the service's FileEnv variables.
func (s *replica) readFiles(ctx context.Context) error {
	for _, name := range s.spec.FileEnv {
		v := s.env[name+"_FILE"]
		if v == "" {
			continue
		}
		p := secretPath(v)
		b, err := s.CopyFrom(ctx, p)
		if err != nil {
			return fmt.Errorf("service %q: %s_FILE: %w", s.label(), name, err)
		}
		s.mu.Lock()
		if s.files == nil {
			s.files = map[string]string{}
		}
		s.files[p] = string(b)
		s.mu.Unlock()
		s.stack.mask.AddVar(name, strings.TrimSpace(string(b)))
	}
	return nil
}

func (s *replica) LookupEnv(name string) (string, bool) {
	v, ok := s.env[name]
	return v, ok
}

func (s *replica) Env(name string) string { return s.env[name] }

func (s *replica) Environ() map[string]string {
	m := make(map[string]string, len(s.env))
	for k, v := range s.env {
		m[k] = v
	}
	return m
}

func (s *replica) Healthcheck() *Healthcheck {
	hc := s.spec.Healthcheck
	if hc == nil {
		return nil
	}
	return &Healthcheck{
		Test: append([]string(nil), hc.Test...), Interval: hc.Interval, Timeout: hc.Timeout,
		StartPeriod: hc.StartPeriod, StartInterval: hc.StartInterval, Retries: hc.Retries, Disable: hc.Disable,
	}
}

func (s *replica) InternalAddr(target int) string {
	return net.JoinHostPort(s.spec.Name, strconv.Itoa(target))
}

func (s *replica) Command() []string {
	cmd, err := s.stack.res.ExpandAll("command", s.spec.Command)
	if err != nil {
		return nil
	}
	return cmd
}

// setState records what an inspect says of the container: ports and pid.
func (s *replica) setState(st engine.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.Ports != nil {
		s.ports = st.Ports
	}
	if st.Pid > 0 {
		s.pid = st.Pid
	}
}

func (s *replica) currentPorts() map[engine.PortKey]engine.HostPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[engine.PortKey]engine.HostPort, len(s.ports))
	for k, v := range s.ports {
		m[k] = v
	}
	return m
}
