package docker

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/discover"
	"github.com/composegen/composegen/runtime/internal/sshconn"
)

// benchLabels mark the benchmarks' containers.
var benchLabels = map[string]string{"io.composegen.bench": "docker"}

// benchSpec is a busybox container running cmd.
func benchSpec(cmd ...string) engine.ContainerSpec {
	return engine.ContainerSpec{Image: "busybox:latest", Cmd: cmd, Labels: benchLabels}
}

// benchCreate creates a container and removes it when the benchmark ends.
func benchCreate(b *testing.B, e engine.Engine, spec engine.ContainerSpec) string {
	id, err := e.Create(context.Background(), spec)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Remove(context.Background(), engine.Resource{Kind: engine.KindContainer, ID: id}) })
	return id
}

func benchRunning(b *testing.B, e engine.Engine) string {
	id := benchCreate(b, e, benchSpec("sleep", "600"))
	if err := e.Start(context.Background(), id); err != nil {
		b.Fatal(err)
	}
	return id
}

// BenchmarkOps measures the engine's per-operation latencies.
func BenchmarkOps(b *testing.B) {
	e := openOrSkip(b)
	ctx := context.Background()
	b.Logf("engine %s %s at %s", e.Info().Name, e.Info().Version, e.Info().Endpoint)
	b.Run("Create", func(b *testing.B) {
		for b.Loop() {
			benchCreate(b, e, benchSpec("true"))
		}
	})
	b.Run("Start", func(b *testing.B) {
		ids := make([]string, b.N)
		for i := range ids {
			ids[i] = benchCreate(b, e, benchSpec("sleep", "600"))
		}
		b.ResetTimer()
		for i := range b.N {
			if err := e.Start(ctx, ids[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Inspect", func(b *testing.B) {
		id := benchRunning(b, e)
		for b.Loop() {
			if _, err := e.Inspect(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ExecTrue", func(b *testing.B) {
		id := benchRunning(b, e)
		for b.Loop() {
			if code, err := e.Exec(ctx, id, []string{"true"}, io.Discard, io.Discard); err != nil || code != 0 {
				b.Fatal(code, err)
			}
		}
	})
	b.Run("StartWaitTrue", func(b *testing.B) {
		ids := make([]string, b.N)
		for i := range ids {
			ids[i] = benchCreate(b, e, benchSpec("true"))
		}
		b.ResetTimer()
		for i := range b.N {
			if err := e.Start(ctx, ids[i]); err != nil {
				b.Fatal(err)
			}
			if code, err := e.Wait(ctx, ids[i]); err != nil || code != 0 {
				b.Fatal(code, err)
			}
		}
	})
	b.Run("WaitExited", func(b *testing.B) {
		id := benchCreate(b, e, benchSpec("true"))
		if err := e.Start(ctx, id); err != nil {
			b.Fatal(err)
		}
		if _, err := e.Wait(ctx, id); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := e.Wait(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("StartPublished", func(b *testing.B) {
		// Start of a container with a published port (port publishing's cost).
		ids := make([]string, b.N)
		for i := range ids {
			spec := benchSpec("sleep", "600")
			spec.Ports = []engine.PortBinding{{Port: 80, Protocol: "tcp", HostIP: e.Info().PublishIP}}
			ids[i] = benchCreate(b, e, spec)
		}
		b.ResetTimer()
		for i := range b.N {
			if err := e.Start(ctx, ids[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Stop", func(b *testing.B) {
		ids := make([]string, b.N)
		for i := range ids {
			ids[i] = benchRunning(b, e)
		}
		b.ResetTimer()
		for i := range b.N {
			if err := e.Stop(ctx, ids[i], 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSSHExec compares the ssh dialer's modes on the ssh:// engine of
// DOCKER_HOST: one session per connection (the docker CLI), with a
// ControlMaster, and with a ControlMaster and warm spare sessions (the
// default); back to back, and at a healthcheck's cadence.
func BenchmarkSSHExec(b *testing.B) {
	eps, err := discover.Candidates(discover.OS())
	if err != nil || len(eps) != 1 || eps[0].Scheme != "ssh" {
		b.Skip("DOCKER_HOST is not an ssh:// engine")
	}
	ep := eps[0]
	for _, mode := range []struct {
		name string
		opts sshconn.Options
	}{
		{"plain", sshconn.Options{NoControlMaster: true, NoSpares: true}},
		{"ControlMaster", sshconn.Options{NoSpares: true}},
		{"ControlMaster+spares", sshconn.Options{}},
	} {
		for _, pace := range []time.Duration{0, 500 * time.Millisecond} {
			b.Run(fmt.Sprintf("%s/pause=%v", mode.name, pace), func(b *testing.B) { sshExec(b, ep, mode.opts, pace) })
		}
	}
}

// sshExec measures exec true in one ssh mode, with a pause between execs.
func sshExec(b *testing.B, ep discover.Endpoint, opts sshconn.Options, pace time.Duration) {
	ctx := context.Background()
	d, err := sshconn.NewWith(ctx, ep.SSH, opts)
	if err != nil {
		b.Fatal(err)
	}
	e, err := newEngine(d, ep)
	if err == nil {
		err = e.hello(ctx, ep)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	id := benchRunning(b, e)
	time.Sleep(2 * time.Second) // let the spares log in
	for b.Loop() {
		if code, err := e.Exec(ctx, id, []string{"true"}, io.Discard, io.Discard); err != nil || code != 0 {
			b.Fatal(code, err)
		}
		if pace > 0 {
			// A healthcheck's cadence: the pause is not measured.
			b.StopTimer()
			time.Sleep(pace)
			b.StartTimer()
		}
	}
}
