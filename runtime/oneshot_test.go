package runtime

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
)

// logLines collects what a start logs.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) option() Option {
	return WithLogf(func(format string, args ...any) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.lines = append(l.lines, fmt.Sprintf(format, args...))
	})
}

func (l *logLines) matching(sub string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, line := range l.lines {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return out
}

func withGrace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// A one-shot that nothing depends on (a migration next to the database it
// migrates) has exited 0 when Up returns, whether the plan says it is one
// or the runtime could not tell (it exits within the grace).
func TestOneShotNobodyDependsOnCompletesBeforeUp(t *testing.T) {
	t.Parallel()
	for _, life := range []string{composeplan.LifecycleOneShot, ""} {
		t.Run("lifecycle "+life, func(t *testing.T) {
			t.Parallel()
			eng := newFakeEngine(t, map[string]behaviour{
				"db":      {listenAfter: 10 * time.Millisecond, protocol: "redis"},
				"migrate": {exitAfter: 400 * time.Millisecond},
			})
			migrate := dependsOn(composeplan.ServiceSpec{Name: "migrate", Image: "migrate", Lifecycle: life}, "db", "service_started")
			s, err := upFake(t, eng, fakePlan(server("db", "db"), migrate))
			if err != nil {
				t.Fatal(err)
			}
			if !s.replica("migrate").isCompleted() {
				t.Error("Up returned before the migration completed")
			}
			if err := s.Settle(t.Context()); err != nil {
				t.Errorf("Settle: %v", err)
			}
		})
	}
}

// A declared one-shot waits as long as it runs (no grace), and an exit
// with another code than 0 fails the start with its output; so does an
// unclassified service's.
func TestOneShotExitCodes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		life string
		code int
	}{{composeplan.LifecycleOneShot, 0}, {composeplan.LifecycleOneShot, 3}, {"", 3}} {
		t.Run(fmt.Sprintf("lifecycle %q exit %d", tc.life, tc.code), func(t *testing.T) {
			t.Parallel()
			eng := newFakeEngine(t, map[string]behaviour{
				"db":   {listenAfter: 10 * time.Millisecond, protocol: "redis"},
				"seed": {exitAfter: 600 * time.Millisecond, exitCode: tc.code},
			})
			seed := composeplan.ServiceSpec{Name: "seed", Image: "seed", Lifecycle: tc.life}
			// A grace shorter than the seed's run: only a declared
			// one-shot is waited for until it exits.
			s, err := upFake(t, eng, fakePlan(server("db", "db"), seed), withGrace(100*time.Millisecond))
			switch {
			case tc.code != 0:
				if tc.life == "" && err == nil {
					// Taken as long-running at the end of its grace: its
					// failure comes later, and Settle reports it.
					<-s.replica("seed").exitedCh
					err = s.Settle(t.Context())
				}
				wantErr(t, err, `service "seed"`, "exited with code 3", "seed run 1 log line")
			case err != nil:
				t.Fatal(err)
			case !s.replica("seed").isCompleted():
				t.Error("Up returned before the one-shot completed")
			}
		})
	}
}

// An unclassified service that still runs when the rest of the stack is
// ready and its grace is over is taken as long-running: Up returns, and
// the log says, once, how to classify it.
func TestUnclassifiedWorkerDoesNotHang(t *testing.T) {
	t.Parallel()
	eng := newFakeEngine(t, map[string]behaviour{
		"db":     {listenAfter: 10 * time.Millisecond, protocol: "redis"},
		"ticker": {}, // runs until stopped
	})
	var logs logLines
	ticker := composeplan.ServiceSpec{Name: "ticker", Image: "ticker", Replicas: 2}
	plan := fakePlan(server("db", "db"), ticker)
	plan.Files = []string{"../compose.yaml"}
	s, err := upFake(t, eng, plan, withGrace(200*time.Millisecond), logs.option())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.replica("ticker").Replicas() {
		if r.isCompleted() || !closed(r.readyCh) {
			t.Errorf("%s: completed %v, ready %v; want running and ready", r.label(), r.isCompleted(), closed(r.readyCh))
		}
	}
	got := logs.matching(`service "ticker"`)
	if len(got) != 1 {
		t.Fatalf("log lines naming ticker: %q, want one", got)
	}
	for _, want := range []string{"taken as long-running", "x-composegen: {oneshot: true}", "../compose.yaml", "oneshot: false"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("log line lacks %q: %s", want, got[0])
		}
	}
	if strings.Contains(got[0], "\n") {
		t.Errorf("log line is not one line: %q", got[0])
	}
	if err := s.Settle(t.Context()); err != nil {
		t.Errorf("Settle waits for a service taken as long-running: %v", err)
	}
}

// A worker is never waited for beyond its readiness, and a declared
// worker that exits 0 fails the start with the way to declare a one-shot.
func TestDeclaredWorker(t *testing.T) {
	t.Parallel()
	t.Run("runs", func(t *testing.T) {
		t.Parallel()
		eng := newFakeEngine(t, map[string]behaviour{"worker": {}})
		var logs logLines
		worker := composeplan.ServiceSpec{Name: "worker", Image: "worker", Lifecycle: composeplan.LifecycleWorker}
		// A grace that would fail the test's deadline if it applied.
		s, err := upFake(t, eng, fakePlan(worker), withGrace(time.Hour), logs.option())
		if err != nil {
			t.Fatal(err)
		}
		if s.replica("worker").isCompleted() || len(logs.matching(`"worker"`)) > 0 {
			t.Errorf("completed %v, logs %q", s.replica("worker").isCompleted(), logs.matching(`"worker"`))
		}
	})
	t.Run("exits 0", func(t *testing.T) {
		t.Parallel()
		eng := newFakeEngine(t, map[string]behaviour{"worker": {exitAfter: 100 * time.Millisecond}})
		worker := composeplan.ServiceSpec{Name: "worker", Image: "worker", Lifecycle: composeplan.LifecycleWorker}
		// Up waits for the exit: another service runs longer.
		slow := composeplan.ServiceSpec{Name: "slow", Image: "slow", Lifecycle: composeplan.LifecycleOneShot}
		eng.scripts["slow"] = behaviour{exitAfter: time.Second}
		_, err := upFake(t, eng, fakePlan(worker, slow))
		wantErr(t, err, `service "worker": exited with code 0`, "x-composegen: {oneshot: true}")
	})
}

// An unclassified service is waited for until the rest of the stack is
// ready, not only for its grace: one that exits 0 while a slower server
// starts completed.
func TestUnclassifiedWaitsForTheRest(t *testing.T) {
	t.Parallel()
	eng := newFakeEngine(t, map[string]behaviour{
		"db":      {listenAfter: 800 * time.Millisecond, protocol: "redis"},
		"prepare": {exitAfter: 300 * time.Millisecond},
	})
	prepare := composeplan.ServiceSpec{Name: "prepare", Image: "prepare"}
	s, err := upFake(t, eng, fakePlan(server("db", "db"), prepare), withGrace(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if !s.replica("prepare").isCompleted() {
		t.Error("prepare exited 0 before the rest of the stack was ready, but is not completed")
	}
}

// On Docker: a service the generator could not classify that exits 0
// within its grace (a seed run from a script file) has completed when
// Start returns, and what it wrote is there; an unclassified worker with
// no ports next to it does not hang the start; a declared one-shot that
// nothing depends on and that exits with another code fails the start
// with its output.
func TestOneShotsOnDocker(t *testing.T) {
	requireDocker(t)
	t.Run("unclassified completes", func(t *testing.T) {
		t.Parallel()
		plan := &composeplan.Plan{Name: "rt-oneshot", Services: []composeplan.ServiceSpec{
			{Name: "prepare", Image: "busybox", Command: []string{"sh", "-c", "sleep 1; echo ready > /shared/marker"},
				Mounts: []composeplan.MountSpec{{Type: "volume", Source: "shared", Target: "/shared"}}},
			{Name: "app", Image: "busybox", Command: []string{"sleep", "infinity"}, Lifecycle: composeplan.LifecycleWorker,
				Mounts: []composeplan.MountSpec{{Type: "volume", Source: "shared", Target: "/shared"}}},
		}, Volumes: []composeplan.VolumeSpec{{Name: "shared"}}}
		// The grace is long: whatever the machine's load, the script
		// ends within it.
		s := Start(t, plan, withGrace(time.Minute))
		if !s.replica("prepare").isCompleted() {
			t.Fatal("Start returned before prepare completed")
		}
		res, err := s.Service("app").Exec(t.Context(), "cat", "/shared/marker")
		if err != nil || strings.TrimSpace(res.Stdout) != "ready" {
			t.Errorf("the marker prepare wrote: %+v, %v", res, err)
		}
	})
	t.Run("unclassified worker", func(t *testing.T) {
		t.Parallel()
		var logs logLines
		plan := &composeplan.Plan{Name: "rt-oneshot", Files: []string{"compose.yaml"}, Services: []composeplan.ServiceSpec{
			{Name: "ticker", Image: "busybox", Command: []string{"sh", "-c", "trap 'exit 0' TERM; while sleep 1; do :; done"}},
			{Name: "worker", Image: "busybox", Command: []string{"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"}, Lifecycle: composeplan.LifecycleWorker},
		}}
		s := Start(t, plan, logs.option())
		for _, name := range []string{"ticker", "worker"} {
			if r := s.replica(name); r.isCompleted() || closed(r.exitedCh) {
				t.Errorf("%s: not running when Start returned", name)
			}
		}
		if got := logs.matching(`service "ticker" still runs`); len(got) != 1 {
			t.Errorf("log lines naming ticker: %q", got)
		}
		if got := logs.matching(`"worker"`); len(got) != 0 {
			t.Errorf("log lines naming the declared worker: %q", got)
		}
	})
	t.Run("one-shot fails", func(t *testing.T) {
		t.Parallel()
		plan := &composeplan.Plan{Name: "rt-oneshot", Services: []composeplan.ServiceSpec{
			{Name: "migrate", Image: "busybox", Command: []string{"sh", "-c", "sleep 1; echo 'relation \"users\" already exists' >&2; exit 3"}, Lifecycle: composeplan.LifecycleOneShot},
			{Name: "app", Image: "busybox", Command: []string{"sleep", "infinity"}, Lifecycle: composeplan.LifecycleWorker},
		}}
		_, err := upErr(t, plan)
		wantAll(t, err, `service "migrate"`, "exited with code 3", `relation "users" already exists`)
	})
}

// A declared one-shot that keeps running is waited for until the start's
// timeout, whose error says how to declare it long-running.
func TestOneShotThatKeepsRunning(t *testing.T) {
	t.Parallel()
	eng := newFakeEngine(t, map[string]behaviour{"loader": {}})
	loader := composeplan.ServiceSpec{Name: "loader", Image: "loader", Lifecycle: composeplan.LifecycleOneShot}
	_, err := upFake(t, eng, fakePlan(loader), WithTimeout(300*time.Millisecond))
	wantErr(t, err, "deadline exceeded", `loader is a one-shot: the start waits until it exits`, "x-composegen: {oneshot: false}")
}
