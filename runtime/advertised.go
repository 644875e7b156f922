package runtime

import (
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/composegen/composegen/runtime/composeplan"
)

// allocateAdvertised picks a free host port for every port whose address
// the service advertises to its clients (PortSpec.Advertised) and rewrites
// the advertising environment variables to it. It returns container port →
// chosen host port. With WithFixedPorts the compose file's ports are kept.
func (s *replica) allocateAdvertised() (map[int]int, error) {
	out := map[int]int{}
	if s.stack.cfg.fixedPorts {
		return out, nil
	}
	for _, p := range s.spec.Ports {
		if len(p.Advertised) == 0 || p.Published == "" {
			continue
		}
		hp, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("ports: pick a host port for advertised port %s: %w", p.Published, err)
		}
		out[p.Target] = hp
	}
	if len(out) == 0 {
		return out, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, v := range s.env {
		s.env[name] = rewriteAdvertised([]string{v}, name, s.spec.Ports, out)[0]
	}
	return out, nil
}

// rewriteAdvertised replaces localhost:<Published> and 127.0.0.1:<Published>
// with the chosen host port in the values of field, for the ports that list
// field in Advertised.
func rewriteAdvertised(values []string, field string, ports []composeplan.PortSpec, chosen map[int]int) []string {
	if len(chosen) == 0 || values == nil {
		return values
	}
	out := make([]string, len(values))
	copy(out, values)
	for _, p := range ports {
		hp, ok := chosen[p.Target]
		if !ok || !contains(p.Advertised, field) {
			continue
		}
		for i, v := range out {
			for _, host := range []string{"localhost:", "127.0.0.1:"} {
				v = replacePort(v, host+p.Published, host+strconv.Itoa(hp))
			}
			out[i] = v
		}
	}
	return out
}

// replacePort replaces old with new where old is not followed by another
// digit (so localhost:9092 does not match localhost:90921).
func replacePort(s, old, new string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		end := i + len(old)
		b.WriteString(s[:i])
		if end < len(s) && s[end] >= '0' && s[end] <= '9' {
			b.WriteString(old)
		} else {
			b.WriteString(new)
		}
		s = s[end:]
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// freePort picks a free host port for an advertised address, below the
// kernel's ephemeral range: the engine publishes the other ports of every
// stack on ephemeral ports it allocates itself, without looking at what is
// bound, so a port picked in that range (as "127.0.0.1:0" would) can be
// given to another container before this one starts, and its start fails
// with "address already in use". A candidate is free when it can be bound
// on every interface, which also fails when it is bound on loopback.
func freePort() (int, error) {
	lo := ephemeralLow()
	for range 64 {
		p := advertisedLow + mathrand.IntN(max(lo-advertisedLow, 1))
		l, err := net.Listen("tcp", ":"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// advertisedLow is the lowest port freePort picks: above the usual fixed
// ports of development servers (3000, 5432, 8080, 9092...).
const advertisedLow = 20000

// ephemeralLow returns the start of the kernel's ephemeral port range
// (Linux: net.ipv4.ip_local_port_range; 32768 elsewhere, below macOS's and
// Windows' 49152).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if lo, err := strconv.Atoi(f[0]); err == nil && lo > advertisedLow+1000 {
				return lo
			}
		}
	}
	return 32768
}
