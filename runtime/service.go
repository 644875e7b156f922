package runtime

import (
	"context"
	"fmt"
	"net"
	"strconv"
)

// Service is a running service of a stack. Its methods are safe for
// concurrent use.
type Service struct {
	stack *Stack
	spec  *ServiceSpec
	// env is the service's resolved environment.
	env map[string]string

	id    string // container id
	ports map[portKey]int
}

type portKey struct {
	target int
	proto  string
}

// Name returns the compose service name.
func (s *Service) Name() string { return s.spec.Name }

// Spec returns the service's plan.
func (s *Service) Spec() *ServiceSpec { return s.spec }

// ContainerID returns the id of the service's container.
func (s *Service) ContainerID() string { return s.id }

// Host returns the host on which the service's ports are published.
func (s *Service) Host() string { return s.stack.host }

// Port returns the published host address of container port target
// ("tcp" or "udp"). It panics if the port was not published, which generated
// code rules out: every declared port is published.
func (s *Service) Port(target int, protocol string) Port {
	if protocol == "" {
		protocol = "tcp"
	}
	s.stack.mu.Lock()
	hp, ok := s.ports[portKey{target, protocol}]
	s.stack.mu.Unlock()
	if !ok {
		panic(fmt.Sprintf("composegen: service %q: container port %d/%s is not published", s.spec.Name, target, protocol))
	}
	scheme := ""
	for _, p := range s.spec.Ports {
		if p.Target == target && p.Protocol == protocol && p.AppProtocol != "" {
			scheme = p.AppProtocol
		}
	}
	return Port{Host: s.stack.host, HostPort: hp, Target: target, Protocol: protocol, Scheme: scheme}
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

// Healthcheck returns the healthcheck declared in the compose file, nil if
// none.
func (s *Service) Healthcheck() *HealthcheckSpec { return s.spec.Healthcheck }

// InternalAddr returns "service:port", the address other containers of the
// stack use to reach container port target.
func (s *Service) InternalAddr(target int) string {
	return net.JoinHostPort(s.spec.Name, strconv.Itoa(target))
}

var _ = context.Background
