package kube

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

// openOther opens a second engine on the test cluster, as another process
// (a test binary attaching to a shared stack) does: it holds none of the
// first one's port-forwards.
func openOther(t *testing.T) *Engine {
	t.Helper()
	testEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := Open(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// freePort returns a TCP port of 127.0.0.1 that nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// A container that one engine (process) created is reachable from another
// once that one publishes it: its own listener (an ephemeral port when the
// creator holds the fixed one), the same ports on every call and in
// Inspect, still reachable when the creator's forwards are gone, across a
// recreated pod and a container restarted by its policy.
func TestPublishForAnotherProcess(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	key := engine.PortKey{Port: 8080, Protocol: "tcp"}
	spec := p.httpd("web")
	spec.Restart = engine.RestartPolicy{Name: "always"}
	fixed := freePort(t)
	spec.Ports[0].HostIP, spec.Ports[0].HostPort = "127.0.0.1", strconv.Itoa(fixed)
	id := p.run(spec)
	if hp := p.inspect(id).Ports[key]; hp.Port != fixed {
		t.Fatalf("the creator publishes 8080 on %+v, want port %d", hp, fixed)
	}
	first := get(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(fixed)), "")

	other := openOther(t)
	ctx := p.ctx()
	st, err := other.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Ports) != 0 {
		t.Fatalf("another engine reports ports %+v before Publish; want none (they are the creator's)", st.Ports)
	}
	ports, err := other.Publish(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	hp, ok := ports[key]
	if !ok || hp.IP != "127.0.0.1" || hp.Port == 0 || hp.Port == fixed {
		t.Fatalf("Publish = %+v; want 8080/tcp on 127.0.0.1, on a port other than the creator's %d", ports, fixed)
	}
	if again, err := other.Publish(ctx, id); err != nil || again[key] != hp {
		t.Errorf("Publish again = %+v, %v; want %v", again, err, hp)
	}
	if st, err := other.Inspect(ctx, id); err != nil || st.Ports[key] != hp {
		t.Errorf("Inspect after Publish: ports %+v, %v; want %v", st.Ports, err, hp)
	}
	addr := net.JoinHostPort(hp.IP, strconv.Itoa(hp.Port))
	if got := get(t, addr, ""); got != first {
		t.Errorf("GET through the other engine = %q, want the creator's page %q", got, first)
	}

	// The creator's forwards go (its process ended): the other engine's
	// still work.
	p.eng.dropContainer(id)
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(fixed)), time.Second); err == nil {
		c.Close()
		t.Fatalf("the creator's port %d still answers after its forwards were closed", fixed)
	}
	get(t, addr, "")

	// Recreated by another process (Stop, Start): the same port reaches
	// the new container.
	if err := p.eng.Stop(ctx, id, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := p.eng.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	second := get(t, addr, first)
	// Restarted by its policy in the same pod.
	p.exec(id, "touch", "/tmp/crash")
	get(t, addr, second)

	// A third process finds the fixed port free (the creator's forward
	// came back with Start on it, so drop it again) and takes it.
	p.eng.dropContainer(id)
	third := openOther(t)
	ports, err = third.Publish(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := ports[key]; got.Port != fixed {
		t.Errorf("Publish with the fixed port free = %+v, want port %d", got, fixed)
	}
	get(t, net.JoinHostPort("127.0.0.1", strconv.Itoa(fixed)), "")
}
