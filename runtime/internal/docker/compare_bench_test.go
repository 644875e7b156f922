package docker

import (
	"context"
	"io"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/discover"
)

// BenchmarkDockerVsPodman runs the same operations on the local Docker and
// the rootful Podman socket, alternately, so that both see the same load
// on a busy machine; the metrics are each operation's median in
// milliseconds. It needs both sockets.
func BenchmarkDockerVsPodman(b *testing.B) {
	engines := map[string]*Engine{}
	for name, path := range map[string]string{"docker": discover.DefaultSocket, "podman": discover.RootfulPodmanSocket} {
		if _, err := os.Stat(path); err != nil {
			b.Skipf("no %s socket: %v", name, err)
		}
		e, err := Connect(context.Background(), discover.Endpoint{Host: "unix://" + path, From: "bench", Scheme: "unix", Addr: path})
		if err != nil {
			b.Skipf("%s: %v", name, err)
		}
		defer e.Close()
		engines[name] = e
	}
	times := map[string][]time.Duration{}
	for b.Loop() {
		for _, name := range []string{"docker", "podman"} {
			for op, d := range opTimes(b, engines[name]) {
				times[name+"-"+op] = append(times[name+"-"+op], d)
			}
		}
	}
	for key, ds := range times {
		slices.Sort(ds)
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, key+"-ms")
	}
}

// opTimes times one round of operations on e.
func opTimes(b *testing.B, e *Engine) map[string]time.Duration {
	ctx := context.Background()
	out := map[string]time.Duration{}
	timed := func(op string, f func() error) {
		start := time.Now()
		if err := f(); err != nil {
			b.Fatalf("%s %s: %v", e.Info().Name, op, err)
		}
		out[op] += time.Since(start)
	}
	var id, pid string
	timed("create", func() (err error) { id, err = e.Create(ctx, benchSpec("sleep", "600")); return })
	timed("start", func() error { return e.Start(ctx, id) })
	timed("inspect", func() error { _, err := e.Inspect(ctx, id); return err })
	timed("exec", func() error { _, err := e.Exec(ctx, id, []string{"true"}, io.Discard, io.Discard); return err })
	timed("stop", func() error { return e.Stop(ctx, id, 0) })
	timed("wait-exited", func() error { _, err := e.Wait(ctx, id); return err })
	timed("remove", func() error { return e.Remove(ctx, engine.Resource{Kind: engine.KindContainer, ID: id}) })
	spec := benchSpec("sleep", "600")
	spec.Ports = []engine.PortBinding{{Port: 80, Protocol: "tcp", HostIP: "127.0.0.1"}}
	timed("create-published", func() (err error) { pid, err = e.Create(ctx, spec); return })
	timed("start-published", func() error { return e.Start(ctx, pid) })
	timed("remove-running-published", func() error { return e.Remove(ctx, engine.Resource{Kind: engine.KindContainer, ID: pid}) })
	r, rm := pgReady(b, e, "probe")
	out["postgres-ready"], out["postgres-remove"] = r, rm
	return out
}
