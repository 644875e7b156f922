package enginetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

func init() {
	register("ExecOutputAndExitCode", "", testExec)
	register("ExecLargeOutput", "", testExecLarge)
	register("ExecConcurrent", "", testExecConcurrent)
	register("ExecContextCancel", "", testExecCancel)
	register("ExecTimeout", "", testExecTimeout)
	register("ExecNotRunning", "", testExecNotRunning)
	register("ExecContainerKilled", "", testExecContainerKilled)
	register("ExecContainerRestarted", RestartPolicy, testExecContainerRestarted)
	register("ExecContainerStoppedAndStarted", StopStart, testExecStopStart)
}

// sleeper runs a container that sleeps.
func (s *suite) sleeper(ctx context.Context, t *testing.T) string {
	id := s.run(ctx, t, s.spec(t, "", "sleep", "300"))
	s.waitRunning(ctx, t, id)
	return id
}

func testExec(ctx context.Context, t *testing.T, s *suite) {
	id := s.sleeper(ctx, t)
	code, out, errs := s.exec(ctx, t, id, "sh", "-c", "echo out; echo err >&2; exit 7")
	if code != 7 || out != "out\n" || errs != "err\n" {
		t.Errorf("exec = %d, %q, %q; want 7, \"out\\n\", \"err\\n\"", code, out, errs)
	}
	if code, out, _ := s.exec(ctx, t, id, "true"); code != 0 || out != "" {
		t.Errorf("exec true = %d, %q; want 0", code, out)
	}
	if code, _, _ := s.exec(ctx, t, id, "false"); code != 1 {
		t.Errorf("exec false = %d; want 1", code)
	}
	// No shell: the argument reaches the program as it is.
	if _, out, _ := s.exec(ctx, t, id, "echo", "$HOME;", "*"); out != "$HOME; *\n" {
		t.Errorf("exec echo = %q; want the arguments unexpanded", out)
	}
	code, err := s.eng.Exec(ctx, id, []string{"/no/such/program"}, nil, nil)
	if err == nil && code == 0 {
		t.Errorf("exec of a missing program = 0, nil; want an error or a non-zero exit code")
	}
}

// countWriter counts bytes.
type countWriter struct{ n atomic.Int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n.Add(int64(len(p))); return len(p), nil }

func testExecLarge(ctx context.Context, t *testing.T, s *suite) {
	id := s.sleeper(ctx, t)
	const size = 8 << 20
	var out, errs countWriter
	code, err := s.eng.Exec(ctx, id, []string{"sh", "-c", fmt.Sprintf("head -c %d /dev/zero; head -c 1000 /dev/zero >&2", size)}, &out, &errs)
	if err != nil || code != 0 || out.n.Load() != size || errs.n.Load() != 1000 {
		t.Errorf("exec = %d, %v with %d bytes out and %d err; want 0, nil, %d and 1000", code, err, out.n.Load(), errs.n.Load(), size)
	}
}

func testExecConcurrent(ctx context.Context, t *testing.T, s *suite) {
	id := s.sleeper(ctx, t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out strings.Builder
			want := fmt.Sprintf("exec-%d\n", i)
			code, err := s.eng.Exec(ctx, id, []string{"sh", "-c", fmt.Sprintf("echo exec-%d; exit %d", i, i)}, &out, nil)
			if err != nil || code != i || out.String() != want {
				t.Errorf("exec %d = %d, %v, %q; want %d, nil, %q", i, code, err, out.String(), i, want)
			}
		}()
	}
	wg.Wait()
}

func testExecCancel(ctx context.Context, t *testing.T, s *suite) {
	id := s.sleeper(ctx, t)
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var out syncBuilder
	start := time.Now()
	code, err := s.eng.Exec(cctx, id, []string{"sh", "-c", "echo started; sleep 60"}, &out, nil)
	d := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec with a context that ends after 1s = %d, %v; want context.DeadlineExceeded", code, err)
	}
	if d > 10*time.Second {
		t.Errorf("Exec returned %v after its context ended", d-time.Second)
	}
	// Nothing writes to the caller's writer after Exec returned.
	before := out.String()
	time.Sleep(200 * time.Millisecond)
	if out.String() != before {
		t.Errorf("the output writer was written to after Exec returned")
	}
}

// testExecTimeout: an engine.ExecTimeouter bounds the command, and a
// command that outlives its timeout is an error that wraps
// context.DeadlineExceeded, although ctx goes on.
func testExecTimeout(ctx context.Context, t *testing.T, s *suite) {
	et, ok := s.eng.(engine.ExecTimeouter)
	if !ok {
		t.Skip("the engine does not implement engine.ExecTimeouter")
	}
	id := s.sleeper(ctx, t)
	var out syncBuilder
	code, err := et.ExecTimeout(ctx, id, []string{"sh", "-c", "echo quick"}, 10*time.Second, &out, nil)
	if err != nil || code != 0 || strings.TrimSpace(out.String()) != "quick" {
		t.Errorf("ExecTimeout of a quick command = %d, %v, output %q; want 0, nil, \"quick\"", code, err, out.String())
	}
	start := time.Now()
	code, err = et.ExecTimeout(ctx, id, []string{"sleep", "60"}, 2*time.Second, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		t.Errorf("ExecTimeout of a command that outlives its timeout = %d, %v; want an error wrapping context.DeadlineExceeded", code, err)
	}
	if d := time.Since(start); d > 50*time.Second {
		t.Errorf("ExecTimeout with a 2s timeout returned after %v (the command sleeps 60s)", d)
	}
}

func testExecNotRunning(ctx context.Context, t *testing.T, s *suite) {
	id := s.create(ctx, t, s.spec(t, "", "sleep", "300"))
	if code, err := s.eng.Exec(ctx, id, []string{"true"}, nil, nil); err == nil {
		t.Errorf("Exec in a created container = %d, nil; want an error", code)
	}
}

// execDuring runs a long exec and does something to its container while
// it runs; the exec must not report success.
func (s *suite) execDuring(ctx context.Context, t *testing.T, id string, act func()) {
	t.Helper()
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	out := &signalWriter{want: "started", seen: make(chan struct{})}
	go func() {
		code, err := s.eng.Exec(ctx, id, []string{"sh", "-c", "echo started; sleep 30; exit 0"}, out, nil)
		done <- result{code, err}
	}()
	// Act once the command runs: over ssh:// an exec may wait seconds for
	// its session before it starts.
	select {
	case <-out.seen:
	case r := <-done:
		t.Fatalf("Exec ended before its command had started: %d, %v", r.code, r.err)
	case <-time.After(3 * time.Minute):
		t.Fatalf("the exec's command did not start within 3 minutes")
	}
	act()
	select {
	case r := <-done:
		if r.err == nil && r.code == 0 {
			t.Errorf("Exec whose container died under it = 0, nil; want an error or a non-zero exit code")
		}
		t.Logf("Exec whose container died under it = %d, %v", r.code, r.err)
	case <-time.After(45 * time.Second):
		t.Errorf("Exec did not return within 45s after its container died")
	}
}

func testExecContainerKilled(ctx context.Context, t *testing.T, s *suite) {
	id := s.sleeper(ctx, t)
	s.execDuring(ctx, t, id, func() {
		if err := s.eng.Kill(ctx, id, ""); err != nil {
			t.Errorf("Kill: %v", err)
		}
	})
}

// testExecContainerRestarted crashes a container under an exec; its
// restart policy restarts it (an engine's Kill would count as a manual
// stop, which is not restarted).
func testExecContainerRestarted(ctx context.Context, t *testing.T, s *suite) {
	// It crashes a second after the file appears, so that the exec that
	// makes the file gets its exit code before the restart (on Podman, an
	// exec whose container restarts loses it).
	spec := s.spec(t, "", "sh", "-c", "while [ ! -e /tmp/crash ]; do sleep 0.1; done; rm /tmp/crash; sleep 1; exit 1")
	spec.Restart = engine.RestartPolicy{Name: "always"}
	id := s.run(ctx, t, spec)
	first := s.waitRunning(ctx, t, id)
	s.execDuring(ctx, t, id, func() { s.exec(ctx, t, id, "touch", "/tmp/crash") })
	if !eventually(ctx, 30*time.Second, func() bool {
		st, err := s.eng.Inspect(ctx, id)
		return err == nil && st.Running && st.StartedAt.After(first.StartedAt)
	}) {
		t.Errorf("the container was not restarted by its policy")
	}
}

// testExecStopStart stops and starts the container under an exec (Podman
// then forgets the exec).
func testExecStopStart(ctx context.Context, t *testing.T, s *suite) {
	id := s.sleeper(ctx, t)
	s.execDuring(ctx, t, id, func() {
		if err := s.eng.Stop(ctx, id, 0); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if err := s.eng.Start(ctx, id); err != nil {
			t.Errorf("Start: %v", err)
		}
	})
}

// signalWriter closes seen once want has been written to it.
type signalWriter struct {
	mu   sync.Mutex
	buf  []byte
	want string
	seen chan struct{}
	once sync.Once
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if strings.Contains(string(w.buf), w.want) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}
