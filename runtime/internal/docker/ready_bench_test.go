package docker

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

// BenchmarkPostgresReady measures a PostgreSQL container from Create to
// ready (the server answers a protocol request through the published
// port), with the readiness checks a runtime may make meanwhile:
//
//   - probe: only the host-side protocol probe, every 20 ms;
//   - exec: also `pg_isready -h 127.0.0.1` in the container, back to back;
//   - inspect: also Inspect, back to back;
//   - compatwait: also the engine's own wait (POST /containers/{id}/wait),
//     pending from the start, as dockertest's WaitContainer does.
//
// On a loaded engine, the extra calls show what they cost the server's
// start.
func BenchmarkPostgresReady(b *testing.B) {
	e := openOrSkip(b)
	ctx := context.Background()
	if _, err := e.Image(ctx, "postgres:16"); err != nil {
		b.Skipf("no postgres:16 image: %v", err)
	}
	for _, mode := range []string{"probe", "exec", "inspect", "compatwait"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				pgReady(b, e, mode)
			}
		})
	}
}

// pgReady starts a PostgreSQL container and waits until it is ready.
func pgReady(b *testing.B, e *Engine, mode string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	spec := engine.ContainerSpec{Image: "postgres:16", Labels: benchLabels, Env: []string{"POSTGRES_PASSWORD=bench"},
		Ports: []engine.PortBinding{{Port: 5432, Protocol: "tcp", HostIP: e.Info().PublishIP}}}
	id := benchCreate(b, e, spec)
	if err := e.Start(ctx, id); err != nil {
		b.Fatal(err)
	}
	st, err := e.Inspect(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	addr := net.JoinHostPort(e.Info().DialHost, strconv.Itoa(st.Ports[engine.PortKey{Port: 5432, Protocol: "tcp"}].Port))
	done := make(chan struct{})
	defer close(done)
	go busy(ctx, done, e, id, mode)
	for !pgAnswers(addr) {
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			b.Fatal("not ready in 2 minutes")
		}
	}
}

// busy makes the calls of mode until done.
func busy(ctx context.Context, done chan struct{}, e *Engine, id, mode string) {
	for {
		select {
		case <-done:
			return
		default:
		}
		switch mode {
		case "exec":
			_, _ = e.Exec(ctx, id, []string{"pg_isready", "-h", "127.0.0.1"}, io.Discard, io.Discard)
		case "inspect":
			_, _ = e.Inspect(ctx, id)
		case "compatwait":
			wctx, cancel := context.WithCancel(ctx)
			go func() { <-done; cancel() }()
			_ = e.call(wctx, "POST", "/containers/"+id+"/wait", nil, nil, nil)
			return
		default:
			return
		}
	}
}

// pgAnswers sends PostgreSQL's SSLRequest: a server that accepts
// connections answers 'S' or 'N' (a port forwarder that accepts before the
// server listens does not).
func pgAnswers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	req := make([]byte, 8)
	binary.BigEndian.PutUint32(req, 8)
	binary.BigEndian.PutUint32(req[4:], 80877103)
	if _, err := c.Write(req); err != nil {
		return false
	}
	reply := make([]byte, 1)
	_, err = io.ReadFull(c, reply)
	return err == nil && (reply[0] == 'S' || reply[0] == 'N')
}
