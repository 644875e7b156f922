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

// pgModes are the calls a runtime may make while a PostgreSQL container
// starts, besides the host-side protocol probe:
//
//   - probe: none;
//   - exec250ms: `pg_isready -h 127.0.0.1` every 250 ms (a healthcheck run
//     by the runtime at its fallback cadence);
//   - execBusy: the same, back to back;
//   - inspect10ms: Inspect every 10 ms;
//   - compatwait: the engine's own wait (POST /containers/{id}/wait),
//     pending from the start, as dockertest's WaitContainer does.
var pgModes = []string{"probe", "exec250ms", "execBusy", "inspect10ms", "compatwait"}

// BenchmarkPostgresReady measures a PostgreSQL container from Create to
// ready (the server answers a protocol request through the published
// port) under each of pgModes. Each iteration runs every mode once, in a
// rotating order, so that a machine's changing load spreads over all of
// them; the metrics are the mean seconds of each mode.
func BenchmarkPostgresReady(b *testing.B) {
	e := openOrSkip(b)
	if _, err := e.Image(context.Background(), "postgres:16"); err != nil {
		b.Skipf("no postgres:16 image: %v", err)
	}
	ready, removed := map[string]time.Duration{}, map[string]time.Duration{}
	n := 0
	for b.Loop() {
		for i := range pgModes {
			mode := pgModes[(i+n)%len(pgModes)]
			r, rm := pgReady(b, e, mode)
			ready[mode] += r
			removed[mode] += rm
		}
		n++
	}
	for _, mode := range pgModes {
		b.ReportMetric((ready[mode] / time.Duration(n)).Seconds(), mode+"-ready-s")
		b.ReportMetric((removed[mode] / time.Duration(n)).Seconds(), mode+"-remove-s")
	}
}

// pgReady starts a PostgreSQL container, waits until it is ready and
// removes it; it returns the time from Create to ready, and the time the
// removal took (with mode's calls stopped).
func pgReady(b *testing.B, e *Engine, mode string) (ready, removed time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	spec := engine.ContainerSpec{Image: "postgres:16", Labels: benchLabels, Env: []string{"POSTGRES_PASSWORD=bench"},
		Ports: []engine.PortBinding{{Port: 5432, Protocol: "tcp", HostIP: e.Info().PublishIP}}}
	start := time.Now()
	id, err := e.Create(ctx, spec)
	if err != nil {
		b.Fatal(err)
	}
	if err := e.Start(ctx, id); err != nil {
		b.Fatal(err)
	}
	st, err := e.Inspect(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	addr := net.JoinHostPort(e.Info().DialHost, strconv.Itoa(st.Ports[engine.PortKey{Port: 5432, Protocol: "tcp"}].Port))
	bctx, stop := context.WithCancel(ctx)
	go busy(bctx, e, id, mode)
	for !pgAnswers(addr) {
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			b.Fatal("not ready in 3 minutes")
		}
	}
	ready = time.Since(start)
	stop()
	start = time.Now()
	if err := e.Remove(ctx, engine.Resource{Kind: engine.KindContainer, ID: id}); err != nil {
		b.Fatal(err)
	}
	return ready, time.Since(start)
}

// busy makes the calls of mode until ctx ends.
func busy(ctx context.Context, e *Engine, id, mode string) {
	pause := map[string]time.Duration{"exec250ms": 250 * time.Millisecond, "inspect10ms": 10 * time.Millisecond}[mode]
	for ctx.Err() == nil {
		switch mode {
		case "exec250ms", "execBusy":
			_, _ = e.Exec(ctx, id, []string{"pg_isready", "-h", "127.0.0.1"}, io.Discard, io.Discard)
		case "inspect10ms":
			_, _ = e.Inspect(ctx, id)
		case "compatwait":
			_ = e.call(ctx, "POST", "/containers/"+id+"/wait", nil, nil, nil)
			return
		default:
			return
		}
		_ = sleep(ctx, pause)
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
