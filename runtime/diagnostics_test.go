package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/composegen/composegen/internal/adminhook"
	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/internal/reap"
)

// fakeTB is a runtime.TB that records what Start does with it. Fatalf ends
// the calling goroutine like testing's, so Start runs in its own goroutine
// (see run).
type fakeTB struct {
	mu       sync.Mutex
	name     string
	failed   bool
	logs     []string
	fatals   []string
	skips    []string
	cleanups []func()
}

func (f *fakeTB) Helper()      {}
func (f *fakeTB) Name() string { return f.name }

func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

func (f *fakeTB) Logf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatals = append(f.fatals, fmt.Sprintf(format, args...))
	f.failed = true
	f.mu.Unlock()
	goruntime.Goexit()
}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.mu.Lock()
	f.skips = append(f.skips, fmt.Sprintf(format, args...))
	f.mu.Unlock()
	goruntime.Goexit()
}

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

func (f *fakeTB) fail() {
	f.mu.Lock()
	f.failed = true
	f.mu.Unlock()
}

// run calls fn as a test body would be, returning when it returns or calls
// Fatalf.
func (f *fakeTB) run(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// finish runs the cleanups, last registered first, like testing.
func (f *fakeTB) finish() {
	f.mu.Lock()
	cs := f.cleanups
	f.cleanups = nil
	f.mu.Unlock()
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i]()
	}
}

func (f *fakeTB) output() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(append(append([]string(nil), f.logs...), f.fatals...), "\n")
}

var _ TB = (*fakeTB)(nil)

// TestDiagnosticsOnTestFailure: when the test fails after a good start,
// each service's state, exit code, port map, last probe outputs and last
// log lines go to the test log, then the stack is removed.
func TestDiagnosticsOnTestFailure(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	hc := &composeplan.HealthcheckSpec{Test: []string{"CMD", "test", "-f", "/tmp/ok"}, Interval: 100 * time.Millisecond, Retries: 100}
	plan := &composeplan.Plan{Name: "rt-diag", Services: []composeplan.ServiceSpec{
		{Name: "web", Image: "busybox", Healthcheck: hc,
			// 4 s: the healthcheck must fail at least once, also on a
			// loaded machine where an exec takes a second.
			Command: []string{"sh", "-c", "echo web-says-hello; sleep 4; touch /tmp/ok; exec sleep 300"},
			Ports:   []composeplan.PortSpec{{Target: 8080, Protocol: "tcp"}}},
		{Name: "job", Image: "busybox", Command: []string{"sh", "-c", "echo job-done"}},
		{Name: "after", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			DependsOn: []composeplan.Dependency{{Service: "job", Condition: "service_completed_successfully", Required: true}}},
	}}
	ft := &fakeTB{name: "TestFake"}
	var s *Stack
	ft.run(func() { s = Start(ft, plan, WithTimeout(2*time.Minute)) })
	if s == nil {
		t.Fatalf("Start failed:\n%s", ft.output())
	}
	project := s.ProjectName()
	ft.fail() // the test fails after the start
	ft.finish()
	out := ft.output()
	for _, want := range []string{
		"test failed; state of stack " + project,
		`service "web": running, ready; ports 8080/tcp→127.0.0.1:`,
		"web-says-hello",
		`service "job": exited (exit code 0), completed`, "job-done",
		`service "after": running, ready`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("test log lacks %q:\n%s", want, out)
		}
	}
	// web's healthcheck failed before it passed: start-up history, not a
	// failure, so not in the dump.
	for _, unwanted := range []string{"last probes:", "test -f /tmp/ok exited 1"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("test log shows the start-up probes of a ready service (%q):\n%s", unwanted, out)
		}
	}
	assertNoneLeft(t, project)
}

// TestStartFailureDumpInterleaved: a one-shot that writes to stdout and
// stderr in turn fails the start; the dump shows its lines in the order it
// wrote them (one stream of both, as the engine recorded it), then the
// other services in one line each. The pauses between the writes are there
// because the engines capture a container's stdout and stderr through two
// pipes: lines written microseconds apart are recorded, timestamps
// included, in the order the engine happened to read the pipes (the
// unpaused command came out "out1 out2 err1 err2" or "err1 err2 out1 out2"
// in 15 runs of 15 on Docker 20.10, and in 10 of 10 in Podman's own log
// file), which no reader of the logs can undo.
func TestStartFailureDumpInterleaved(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	project := instanceName("rt-interleave")
	plan := &composeplan.Plan{Name: "rt-interleave", Services: []composeplan.ServiceSpec{
		{Name: "migrate", Image: "busybox", Command: []string{"sh", "-c",
			"echo out1; sleep 0.3; echo err1 >&2; sleep 0.3; echo out2; sleep 0.3; echo err2 >&2; exit 3"}},
		{Name: "cache", Image: "busybox", Command: []string{"sleep", "300"},
			Ports: []composeplan.PortSpec{{Target: 6379, Protocol: "tcp"}}},
		{Name: "app", Image: "busybox", Command: []string{"sleep", "300"},
			DependsOn: []composeplan.Dependency{{Service: "migrate", Condition: "service_completed_successfully", Required: true}}},
	}}
	ft := &fakeTB{name: "TestFake"}
	ft.run(func() { Start(ft, plan, WithProjectName(project)) })
	ft.finish()
	if len(ft.fatals) != 1 {
		t.Fatalf("Start did not fail the test once:\n%s", ft.output())
	}
	msg := ft.fatals[0]
	want := `service "migrate": exited with code 3; last logs:` + "\n\tout1\n\terr1\n\tout2\n\terr2\nother services:\n"
	if !strings.Contains(msg, want) {
		t.Errorf("the dump does not show migrate's output in order, then the others:\n%s", msg)
	}
	for _, line := range []string{
		"\n\tcache: running, ",
		"\n\tapp: created, never started: its dependency \"migrate\" failed",
	} {
		if !strings.Contains(msg, line) {
			t.Errorf("the dump lacks %q:\n%s", line, msg)
		}
	}
	if strings.Contains(msg, "\n\tmigrate:") {
		t.Errorf("the failing service is listed again with the others:\n%s", msg)
	}
	assertNoneLeft(t, project)
}

// TestDiagnosticsQuietOnSuccess: a passing test logs no diagnostics.
func TestDiagnosticsQuietOnSuccess(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	plan := &composeplan.Plan{Name: "rt-quiet", Services: []composeplan.ServiceSpec{{Name: "a", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker}}}
	ft := &fakeTB{name: "TestFake"}
	var s *Stack
	ft.run(func() { s = Start(ft, plan) })
	if s == nil {
		t.Fatalf("Start failed:\n%s", ft.output())
	}
	ft.finish()
	if out := ft.output(); out != "" {
		t.Errorf("a passing test logged:\n%s", out)
	}
	assertNoneLeft(t, s.ProjectName())
}

// TestStartFailureFailsTheTest: Start fails the test with the cause and
// the service's logs, and the cleanup it registered removes what was
// created.
func TestStartFailureFailsTheTest(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	project := instanceName("rt-startfail")
	plan := &composeplan.Plan{Name: "rt-startfail", Services: []composeplan.ServiceSpec{
		{Name: "crash", Image: "busybox", Command: []string{"sh", "-c", "echo cannot-open-config >&2; exit 5"}},
		{Name: "app", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			DependsOn: []composeplan.Dependency{{Service: "crash", Condition: "service_completed_successfully", Required: true}}},
	}}
	ft := &fakeTB{name: "TestFake"}
	returned := false
	ft.run(func() {
		Start(ft, plan, WithProjectName(project))
		returned = true
	})
	if returned || len(ft.fatals) != 1 {
		t.Fatalf("Start did not fail the test once (returned %v):\n%s", returned, ft.output())
	}
	for _, want := range []string{"composegen: start rt-startfail", `service "crash"`, "exited with code 5", "cannot-open-config"} {
		if !strings.Contains(ft.fatals[0], want) {
			t.Errorf("Fatalf lacks %q:\n%s", want, ft.fatals[0])
		}
	}
	if len(ft.cleanups) == 0 {
		t.Fatal("Start registered no cleanup before failing")
	}
	ft.finish()
	assertNoneLeft(t, project)
}

// TestLogDirWritesFullLogs: WithLogDir (and COMPOSEGEN_LOG_DIR) write each
// service's full log at teardown, not just the tail.
func TestLogDirWritesFullLogs(t *testing.T) {
	requireDocker(t)
	plan := &composeplan.Plan{Name: "rt-logdir", Services: []composeplan.ServiceSpec{
		{Name: "chatty", Image: "busybox", Command: []string{"sh", "-c", "for i in $$(seq 1 500); do echo line-$$i; done; exec sleep 300"}, Lifecycle: composeplan.LifecycleWorker},
	}}
	for _, viaEnv := range []bool{false, true} {
		t.Run(fmt.Sprintf("env=%v", viaEnv), func(t *testing.T) {
			dir := t.TempDir()
			var opts []Option
			if viaEnv {
				t.Setenv("COMPOSEGEN_LOG_DIR", dir)
			} else {
				opts = append(opts, WithLogDir(dir))
			}
			ft := &fakeTB{name: "TestFake"}
			var s *Stack
			ft.run(func() { s = Start(ft, plan, opts...) })
			if s == nil {
				t.Fatalf("Start failed:\n%s", ft.output())
			}
			// The log is written at teardown: let the loop finish first.
			deadline := time.Now().Add(time.Minute)
			for {
				l, _ := s.Service("chatty").Logs(context.Background())
				if strings.Contains(l, "line-500") || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			ft.finish()
			b, err := os.ReadFile(filepath.Join(dir, s.ProjectName(), "chatty.log"))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), "line-1\n") || !strings.Contains(string(b), "line-500\n") {
				t.Errorf("log file is not the full log:\n%.200s…", b)
			}
			assertNoneLeft(t, s.ProjectName())
		})
	}
}

// TestKeepOnFailure: a failed test leaves the stack running and logs how
// to inspect and remove it; the printed removal commands work.
func TestKeepOnFailure(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	plan := redisPlan("rt-keep")
	ft := &fakeTB{name: "TestFake"}
	var s *Stack
	ft.run(func() { s = Start(ft, plan, WithKeepOnFailure()) })
	if s == nil {
		t.Fatalf("Start failed:\n%s", ft.output())
	}
	project := s.ProjectName()
	t.Cleanup(func() { removeProject(t, project) })
	ft.fail()
	ft.finish()
	out := ft.output()
	for _, want := range []string{
		"test failed; state of stack " + project,
		"keeping stack " + project,
		"docker ps -a --filter label=com.docker.compose.project=" + project,
		"composegen prune -project " + project,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("test log lacks %q:\n%s", want, out)
		}
	}
	// The stack, plus the volume that marks it as kept.
	if c := projectCount(t, project); c.containers != 1 || c.networks != 1 || c.volumes != 2 {
		t.Fatalf("kept stack: %v, want 1 container, 1 network, 2 volumes", c)
	}
	// The reaper spares it although its owner is gone (as if this
	// process had ended): only prune removes it.
	e, _ := getEngine(context.Background())
	if _, err := reap.Projects(context.Background(), e.eng, reap.Policy{MaxAge: time.Nanosecond}, reapHooks); err != nil {
		t.Fatal(err)
	}
	if c := projectCount(t, project); c.containers != 1 {
		t.Fatalf("the reaper removed a kept stack: %v left", c)
	}
	// What the printed `composegen prune -project` does removes it.
	if !strings.Contains(out, "prune -project "+project) {
		t.Fatalf("no removal command in:\n%s", out)
	}
	pruned, err := prune(context.Background(), adminhook.PruneOptions{Project: project})
	if err != nil || len(pruned) != 1 || pruned[0].Reason != "kept (failure)" {
		t.Fatalf("Prune = %+v, %v", pruned, err)
	}
	if c := projectCount(t, project); c.total() != 0 {
		t.Errorf("after prune: %v left", c)
	}
}
