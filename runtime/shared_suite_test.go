package runtime_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dt "github.com/ory/dockertest/v3/docker"

	"github.com/composegen/composegen/internal/admin"
	"github.com/composegen/composegen/runtime"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/docker"
	"github.com/composegen/composegen/runtime/internal/sharedsuite"
	"github.com/composegen/composegen/runtime/runtimetest"
)

// These tests run the packages of internal/sharedsuite with a real
// `go test -tags sharedsuite`, three test binaries at once, and check what
// the engine saw and what each test reported. Every assertion is scoped to
// the suite's plan name, unique per run (label io.composegen.shared.plan).

const planLabel = "io.composegen.shared.plan"

// suite is one `go test` of the shared-stack suite.
type suite struct {
	t      *testing.T
	name   string
	mode   string
	env    []string
	args   []string
	pkgs   []string
	report string
	// interruptAfter sends SIGINT to go test's process group once that
	// many tests reported ATTACH.
	interruptAfter int
	// keep: the stack is expected to stay after the run (reuse).
	keep bool
	// started, when not nil, is closed once go test started (a suite may
	// wait for its turn: suiteRuns).
	started chan struct{}
}

// suiteResult is what a suite run left.
type suiteResult struct {
	code     int
	out      string
	lines    []string
	projects map[string]bool // seen on the engine during the run
	creates  int             // containers of the plan created (distinct IDs)
	gone     time.Duration   // from go test's exit until nothing of the plan was left
}

func newSuite(t *testing.T, mode string) *suite {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return &suite{
		t: t, mode: mode, name: "cgsuite" + hex.EncodeToString(b[:]),
		pkgs:   []string{"./internal/sharedsuite/a", "./internal/sharedsuite/b", "./internal/sharedsuite/c"},
		report: filepath.Join(t.TempDir(), "report"),
	}
}

// engineOf returns the engine and its raw Docker client (nil elsewhere).
func engineOf(t *testing.T) (engine.Engine, *dt.Client) {
	eng := runtimetest.RequireEngine(t)
	return eng, docker.RawClient(eng)
}

// listPlan lists the resources of the suite's plan.
func listPlan(t *testing.T, eng engine.Engine, name string) []engine.Resource {
	t.Helper()
	list, err := eng.List(context.Background(), map[string]string{planLabel: name})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// suiteRuns bounds the suites that run at once: the tests of this file run
// in parallel (each waits on its containers most of the time), but each
// suite is three test binaries on a PostgreSQL server, and too many at once
// on two CPUs would stretch what they time (a stack gone within 10 s).
var suiteRuns = make(chan struct{}, 4)

// run runs go test on the suite and waits, unless keep, until nothing of
// the plan is left (10 s at most).
func (s *suite) run() *suiteResult {
	t := s.t
	t.Helper()
	eng, _ := engineOf(t)
	suiteRuns <- struct{}{}
	defer func() { <-suiteRuns }()
	res := &suiteResult{projects: map[string]bool{}}
	// Containers are counted by ID, from the listing every 100 ms (they
	// live for seconds at least). Not from the engine's event stream: the
	// client's listeners cannot be added and removed concurrently by the
	// suites that run in parallel (the suites hung on Podman), and a stream
	// that reconnects repeats events.
	created := map[string]bool{}
	for _, r := range listPlan(t, eng, s.name) {
		created[r.ID] = true // there before the run (a kept stack): not created by it
	}
	_ = os.Remove(s.report) // a suite may run several times

	// Watch the engine: projects and containers, by polling.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			for _, r := range listPlan(t, eng, s.name) {
				mu.Lock()
				res.projects[r.Labels["com.docker.compose.project"]] = true
				if r.Kind == engine.KindContainer && !created[r.ID] {
					created[r.ID] = true
					res.creates++
				}
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	args := append([]string{"test", "-tags", "sharedsuite", "-count=1", "-p", "3", "-parallel", "3"}, s.args...)
	args = append(args, s.pkgs...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(),
		"COMPOSEGEN_SUITE_NAME="+s.name, "COMPOSEGEN_SUITE_MODE="+s.mode, "COMPOSEGEN_SUITE_REPORT="+s.report)
	cmd.Env = append(cmd.Env, s.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if s.started != nil {
		close(s.started)
	}
	if s.interruptAfter > 0 {
		go func() {
			for ctx.Err() == nil {
				if n := strings.Count(readFile(s.report), "ATTACH "); n >= s.interruptAfter {
					time.Sleep(200 * time.Millisecond)
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	err := cmd.Wait()
	exited := time.Now()
	if ctx.Err() != nil {
		t.Fatalf("go test did not end within 5 minutes (does it wait for a watcher?):\n%s", out.String())
	}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	res.out = out.String()
	for _, l := range strings.Split(readFile(s.report), "\n") {
		if l != "" {
			res.lines = append(res.lines, l)
		}
	}
	if !s.keep {
		for len(listPlan(t, eng, s.name)) > 0 {
			if time.Since(exited) > 10*time.Second {
				t.Errorf("10 s after go test ended, %d resources of the shared stack are left", len(listPlan(t, eng, s.name)))
				removePlan(t, eng, s.name)
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		res.gone = time.Since(exited)
	}
	close(stop)
	wg.Wait()
	t.Logf("go test (mode %s) exited %d; stack gone %s after it", s.mode, res.code, res.gone.Round(time.Millisecond))
	return res
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// removePlan removes what a failed test left.
func removePlan(t *testing.T, eng engine.Engine, name string) {
	for _, r := range listPlan(t, eng, name) {
		if r.Kind == engine.KindContainer {
			_ = eng.Remove(context.Background(), r)
		}
	}
	for _, r := range listPlan(t, eng, name) {
		_ = eng.Remove(context.Background(), r)
	}
}

// field returns the lines of kind ("ATTACH", "FRESH"...) split in fields.
func (r *suiteResult) field(kind string) [][]string {
	var out [][]string
	for _, l := range r.lines {
		if f := strings.Fields(l); len(f) > 0 && f[0] == kind {
			out = append(out, f)
		}
	}
	return out
}

// attached checks that every ATTACH line names the same project and
// containers, and returns them.
func (r *suiteResult) attached(t *testing.T, want int) (project, containers string) {
	t.Helper()
	lines := r.field("ATTACH")
	if len(lines) != want {
		t.Fatalf("%d tests attached, want %d\n%s", len(lines), want, r.out)
	}
	for _, f := range lines {
		if project == "" {
			project, containers = f[3], f[4]
		}
		if f[3] != project || f[4] != containers {
			t.Errorf("tests attached to different stacks: %s %s and %s %s", project, containers, f[3], f[4])
		}
	}
	return project, containers
}

// notices checks that go test's output holds one composegen notice per
// want (each containing it) and no other.
func (r *suiteResult) notices(t *testing.T, want ...string) {
	t.Helper()
	var got []string
	for _, l := range strings.Split(r.out, "\n") {
		if strings.HasPrefix(l, "composegen: ") && strings.Contains(l, "shared stack") {
			got = append(got, l)
		}
	}
	if len(got) != len(want) {
		t.Errorf("notices in go test's output: %q, want %d:\n%s", got, len(want), r.out)
		return
	}
	for i, w := range want {
		if !strings.Contains(got[i], w) {
			t.Errorf("notice %q lacks %q", got[i], w)
		}
	}
}

// durations returns the sorted values of field i of the lines of kind, in
// microseconds.
func (r *suiteResult) durations(kind string, i int) []time.Duration {
	var out []time.Duration
	for _, f := range r.field(kind) {
		us, _ := strconv.Atoi(f[i])
		out = append(out, time.Duration(us)*time.Microsecond)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

// Three test binaries at once, three parallel tests each: exactly one stack
// is created (one create event per container), every test attaches to it,
// sees only its own rows and keys in fresh databases, and the stack is gone
// within 10 s of go test's end.
func TestSharedOneStackForManyBinaries(t *testing.T) {
	t.Parallel()
	s := newSuite(t, "share")
	r := s.run()
	if r.code != 0 {
		t.Fatalf("go test failed:\n%s", r.out)
	}
	project, _ := r.attached(t, 9)
	if len(r.projects) != 1 || !r.projects[project] {
		t.Errorf("projects seen on the engine: %v, want only %s", r.projects, project)
	}
	if _, raw := engineOf(t); raw != nil && r.creates != 4 {
		t.Errorf("%d containers created, want 4 (one stack: postgres, migrate, seed, redis)", r.creates)
	}
	if n := len(r.field("OK")); n != 9 {
		t.Errorf("%d tests passed the isolation checks, want 9", n)
	}
	if b := r.field("ISOLATION-BROKEN"); len(b) > 0 {
		t.Errorf("isolation broken: %v", b)
	}
	att, fresh, url := r.durations("ATTACH", 5), r.durations("FRESH", 3), r.durations("FRESH", 4)
	t.Logf("Shared call: min %s, median %s, max %s; FreshDSN median %s, FreshURL median %s",
		att[0], att[len(att)/2], att[len(att)-1], fresh[len(fresh)/2], url[len(url)/2])
}

// However the run ends, the stack goes within 10 s of go test's end: a
// failing test, a panic, -timeout, a SIGKILLed test binary, and SIGINT to
// go test and its test binaries (Ctrl-C).
func TestSharedLifetime(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mode      string
		args      []string
		interrupt int
	}{
		{mode: "fail"},
		{mode: "panic"},
		// Package b's binary alone gets a short -test.timeout (its
		// TestMain), so that the other packages have go test's default
		// to start the stack and pass, and only b's sleeping test times
		// out.
		{mode: "timeout"},
		{mode: "sigkill"},
		{mode: "wait", interrupt: 9},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			s := newSuite(t, tc.mode)
			s.args, s.interruptAfter = tc.args, tc.interrupt
			r := s.run()
			if r.code == 0 {
				t.Errorf("go test passed, want a failure:\n%s", r.out)
			}
			if tc.mode == "timeout" && !strings.Contains(r.out, "panic: test timed out after 40s") {
				t.Errorf("package b's binary did not time out:\n%s", r.out)
			}
			if tc.mode != "wait" {
				// The other packages passed on the same stack.
				if n := len(r.field("OK")); n < 6 {
					t.Errorf("%d tests passed, want at least the 6 of packages a and c:\n%s", n, r.out)
				}
			}
			if len(r.field("ATTACH")) == 0 {
				t.Fatalf("no test attached:\n%s", r.out)
			}
		})
	}
}

// A start that fails fails every test of the run with the same message,
// and is tried once, not once per test binary.
func TestSharedStartFailure(t *testing.T) {
	t.Parallel()
	s := newSuite(t, "startfail")
	r := s.run()
	if r.code == 0 {
		t.Fatalf("go test passed:\n%s", r.out)
	}
	fatals := r.field("FATAL")
	if len(fatals) != 9 {
		t.Fatalf("%d tests failed at Shared, want 9:\n%s", len(fatals), r.out)
	}
	msg := strings.Join(fatals[0][3:], " ")
	for _, f := range fatals {
		if m := strings.Join(f[3:], " "); !strings.HasPrefix(m, strings.Split(msg, "\\n(this start failed earlier")[0]) {
			t.Errorf("different failures:\n%s\n%s", msg, m)
		}
	}
	for _, want := range []string{`"migrate"`, "exited with code"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the failure does not say %s: %s", want, msg)
		}
	}
	if strings.Contains(r.out, "suite-secret") || strings.Contains(strings.Join(r.lines, "\n"), "suite-secret") {
		t.Error("a secret is in the output")
	}
	if _, raw := engineOf(t); raw != nil && r.creates != 4 {
		t.Errorf("%d containers created, want 4: one attempt", r.creates)
	}
	if len(r.projects) != 1 {
		t.Errorf("projects: %v, want one", r.projects)
	}
}

// A container of the shared stack that dies is reported to every test that
// asks for the stack afterwards, never used.
func TestSharedDeadContainerIsReported(t *testing.T) {
	t.Parallel()
	s := newSuite(t, "dead")
	s.args = []string{"-p", "1"} // a, then b (which kills postgres), then c
	r := s.run()
	if len(r.field("KILLED")) != 1 {
		t.Fatalf("postgres was not killed:\n%s", r.out)
	}
	var inC int
	for _, f := range r.field("FATAL") {
		if f[1] != "c" {
			continue
		}
		inC++
		m := strings.Join(f[3:], " ")
		if !strings.Contains(m, `service "postgres"`) || !strings.Contains(m, "stopped after the shared stack was ready") {
			t.Errorf("package c's failure does not say that postgres stopped: %s", m)
		}
	}
	if inC != 3 {
		t.Errorf("%d tests of package c failed at Shared, want 3:\n%s", inC, r.out)
	}
}

// With reuse the stack stays after the run, the next run attaches to it
// (no container created), a changed input replaces it, and Prune removes
// the kept stack and says what it removed. The runs pass, and go test
// (package list mode) hides a passing package's output: yet the user sees
// one line when the stack is kept and one when it is replaced, none when
// it is reused.
func TestSharedReuseDriftAndPrune(t *testing.T) {
	t.Parallel()
	eng, raw := engineOf(t)
	s := newSuite(t, "share")
	s.env, s.keep = []string{"COMPOSEGEN_REUSE=1"}, true
	r1 := s.run()
	if r1.code != 0 {
		t.Fatalf("run 1 failed:\n%s", r1.out)
	}
	p1, c1 := r1.attached(t, 9)
	t.Cleanup(func() { removePlan(t, eng, s.name) })
	r1.notices(t, "shared stack "+p1+" is kept for the next run (reuse); `composegen prune -project "+p1+"` removes it")
	time.Sleep(2 * time.Second) // the watchers of the test binaries ran
	if n := len(listPlan(t, eng, s.name)); n == 0 {
		t.Fatal("the reused stack was removed after the run")
	}

	r2 := s.run()
	if r2.code != 0 {
		t.Fatalf("run 2 failed:\n%s", r2.out)
	}
	p2, c2 := r2.attached(t, 9)
	if p2 != p1 || c2 != c1 {
		t.Errorf("run 2 used %s %s, want the kept %s %s", p2, c2, p1, c1)
	}
	if raw != nil && r2.creates != 0 {
		t.Errorf("run 2 created %d containers, want 0", r2.creates)
	}
	r2.notices(t)
	att := r2.durations("ATTACH", 5)
	t.Logf("reuse: Shared in the next run: min %s, median %s, max %s", att[0], att[len(att)/2], att[len(att)-1])

	s.env = append(s.env, "COMPOSEGEN_SUITE_DRIFT=changed")
	r3 := s.run()
	if r3.code != 0 {
		t.Fatalf("run 3 failed:\n%s", r3.out)
	}
	p3, _ := r3.attached(t, 9)
	if p3 == p1 {
		t.Fatalf("a changed value reused the stack %s", p1)
	}
	r3.notices(t, "kept shared stack "+p1+" replaced by "+p3+" (what it was started from changed)")
	for _, res := range listPlan(t, eng, s.name) {
		if res.Labels["com.docker.compose.project"] == p1 {
			t.Errorf("the drifted stack's %s %s is left", res.Kind, res.Name)
		}
	}

	pruned, err := admin.Prune(context.Background(), admin.PruneOptions{Project: p3})
	if err != nil {
		t.Fatal(err)
	}
	if len(pruned) != 1 || pruned[0].Project != p3 || !strings.Contains(pruned[0].Reason, "kept") || len(pruned[0].Removed) == 0 || pruned[0].Shared == "" {
		t.Fatalf("Prune reported %+v, want the kept shared stack %s with what it removed", pruned, p3)
	}
	t.Logf("prune: %+v", pruned[0])
	if n := len(listPlan(t, eng, s.name)); n != 0 {
		t.Errorf("%d resources left after prune", n)
	}
}

// A test binary run on its own (not by go test) owns its shared stack: it
// goes within 10 s of the binary's end, also when the binary is killed.
func TestSharedStandaloneBinary(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"share", "sigkill"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			eng, _ := engineOf(t)
			s := newSuite(t, mode)
			bin := filepath.Join(t.TempDir(), "b.test")
			build := exec.Command("go", "test", "-c", "-tags", "sharedsuite", "-o", bin, "./internal/sharedsuite/b")
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			cmd := exec.Command(bin, "-test.count=1", "-test.parallel=3")
			cmd.Env = append(os.Environ(), "COMPOSEGEN_SUITE_NAME="+s.name, "COMPOSEGEN_SUITE_MODE="+mode, "COMPOSEGEN_SUITE_REPORT="+s.report)
			out, err := cmd.CombinedOutput()
			if mode == "share" && err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			exited := time.Now()
			// With sigkill, the victim may end the binary before its
			// siblings attach.
			if n := strings.Count(readFile(s.report), "ATTACH "); n != 3 && (mode == "share" || n == 0) {
				t.Fatalf("%d tests attached, want 3\n%s", n, out)
			}
			for len(listPlan(t, eng, s.name)) > 0 {
				if time.Since(exited) > 10*time.Second {
					removePlan(t, eng, s.name)
					t.Fatal("the stack is left 10 s after the test binary ended")
				}
				time.Sleep(50 * time.Millisecond)
			}
			t.Logf("gone %s after the binary ended", time.Since(exited).Round(time.Millisecond))
		})
	}
}

// The run's watcher dies (SIGKILL) while its test binaries use the shared
// stack, and package d, which does not use it, starts a stack of its own
// (its start runs the reaper) and asks prune to remove the shared one: no
// process of the run removes it, prune says it skipped it, and every test
// on it passes. Once the run is over nothing uses it, and prune removes it.
//
// Not parallel: its last prune wants every process of the run gone, and
// run beside the parallel suites it once found the stack still in use
// right after go test ended (not investigated further).
func TestSharedWatcherKilled(t *testing.T) {
	// Not parallel: beside the other tests on Podman (-parallel 4), the
	// prune right after the run once found the stack still in use by a
	// process of the run (2026-12-08, not understood yet; it passed ×3 in
	// parallel on Docker and in every serial run).
	s := newSuite(t, "killwatcher")
	s.pkgs = append(s.pkgs, "./internal/sharedsuite/d")
	s.args = []string{"-p=4"} // every package at once: they wait for each other
	s.keep = true             // its watcher is dead: nothing removes it at the end
	r := s.run()
	eng, _ := engineOf(t)
	t.Cleanup(func() { removePlan(t, eng, s.name) })
	if r.code != 0 {
		t.Fatalf("go test failed:\n%s", r.out)
	}
	project, _ := r.attached(t, 9)
	if len(r.field("WATCHER")) != 1 || len(r.field("KILLED-WATCHER")) != 1 {
		t.Fatalf("the watcher was not killed once: %v", r.lines)
	}
	if n := len(r.field("OK")); n != 9 {
		t.Errorf("%d tests passed the isolation checks on the shared stack, want 9", n)
	}
	pr := r.field("PRUNED")
	if len(pr) != 1 || pr[0][1] != project || pr[0][2] != "skipped=true" {
		t.Errorf("prune during the run: %v, want the shared stack %s skipped", pr, project)
	}
	if len(listPlan(t, eng, s.name)) == 0 {
		t.Fatal("the shared stack is gone after the run; it should wait for prune or the reaper")
	}
	pruned, err := admin.Prune(context.Background(), admin.PruneOptions{Project: project})
	if err != nil {
		t.Fatal(err)
	}
	if len(pruned) != 1 || pruned[0].Skipped || pruned[0].Resources == 0 {
		t.Fatalf("prune after the run: %+v, want the stack removed", pruned)
	}
	for _, r := range listPlan(t, eng, s.name) {
		t.Errorf("left after prune: %s %s", r.Kind, r.ID)
	}
}

// A kept stack in use is never removed under its tests: a second run whose
// inputs changed (COMPOSEGEN_REUSE=1) starts a new stack beside it, and
// prune skips it; run 1 passes on it. Once its users ended, the next run
// of the new version removes it.
func TestSharedReuseDriftWhileInUse(t *testing.T) {
	t.Parallel()
	eng, _ := engineOf(t)
	s1 := newSuite(t, "hold")
	s1.env, s1.keep, s1.started = []string{"COMPOSEGEN_REUSE=1"}, true, make(chan struct{})
	t.Cleanup(func() { removePlan(t, eng, s1.name) })
	done := make(chan *suiteResult, 1)
	go func() { done <- s1.run() }()
	select {
	case <-s1.started:
	case r1 := <-done:
		t.Fatalf("run 1 did not start:\n%s", r1.out)
	case <-time.After(8 * time.Minute): // waiting for its turn, and failed
		t.Fatal("run 1 did not start within 8 minutes")
	}
	deadline := time.Now().Add(4 * time.Minute)
	for strings.Count(readFile(s1.report), "ATTACH ") < 9 {
		if time.Now().After(deadline) {
			t.Fatalf("run 1 did not attach 9 tests:\n%s", readFile(s1.report))
		}
		time.Sleep(100 * time.Millisecond)
	}
	p1 := strings.Fields(strings.SplitN(readFile(s1.report), "\n", 2)[0])[3]

	// Run 2, drifted, while run 1 uses the kept stack.
	s2 := newSuite(t, "share")
	s2.name = s1.name
	s2.env, s2.keep = []string{"COMPOSEGEN_REUSE=1", "COMPOSEGEN_SUITE_DRIFT=changed"}, true
	r2 := s2.run()
	if r2.code != 0 {
		t.Fatalf("run 2 failed:\n%s", r2.out)
	}
	p2, _ := r2.attached(t, 9)
	if p2 == p1 {
		t.Fatalf("the drifted run attached to %s", p1)
	}
	if !strings.Contains(r2.out, "kept shared stack "+p1+" changed (what it was started from) but a running process uses it") {
		t.Errorf("run 2 did not say it left %s to its users:\n%s", p1, r2.out)
	}
	pruned, err := admin.Prune(context.Background(), admin.PruneOptions{Project: p1})
	if err != nil {
		t.Fatal(err)
	}
	if len(pruned) != 1 || !pruned[0].Skipped {
		t.Errorf("prune of the kept stack in use: %+v, want it skipped", pruned)
	}

	if err := os.WriteFile(s1.report, []byte(readFile(s1.report)+"RELEASE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r1 := <-done
	if r1.code != 0 {
		t.Fatalf("run 1 failed on the kept stack in use:\n%s", r1.out)
	}
	if n := len(r1.field("OK")); n != 9 {
		t.Errorf("run 1: %d tests passed on the kept stack, want 9", n)
	}

	// Run 3, of the new version: attaches to run 2's stack and removes
	// run 1's, which nobody uses any more.
	r3 := s2.run()
	if r3.code != 0 {
		t.Fatalf("run 3 failed:\n%s", r3.out)
	}
	if p3, _ := r3.attached(t, 9); p3 != p2 {
		t.Errorf("run 3 used %s, want the kept %s", p3, p2)
	}
	for _, res := range listPlan(t, eng, s1.name) {
		if res.Labels["com.docker.compose.project"] == p1 {
			t.Errorf("the old stack's %s %s is left after its users ended", res.Kind, res.Name)
		}
	}
	if _, err := admin.Prune(context.Background(), admin.PruneOptions{Project: p2}); err != nil {
		t.Fatal(err)
	}
}

// Per-test readiness on the one shared stack: package e needs only
// PostgreSQL, package f the whole stack with a broker that is ready only
// once f's test lets it. With -p 1, e runs first: its tests get PostgreSQL,
// migrated and seeded, while the broker is not ready, and its test binary
// ends with the start half-way. f then completes that start: it attaches to
// the PostgreSQL container e used (never removing a service that tests may
// use), starts the broker, and its tests get the same stack.
func TestSharedWaitsOnlyForWhatTheTestUses(t *testing.T) {
	t.Parallel()
	s := newSuite(t, "part")
	s.pkgs = []string{"./internal/sharedsuite/e", "./internal/sharedsuite/f"}
	s.args = []string{"-p", "1"}
	r := s.run()
	if r.code != 0 {
		t.Fatalf("go test failed:\n%s", r.out)
	}
	part, full := r.field("ATTACH-PART"), r.field("ATTACH-FULL")
	if len(part) != 4 || len(full) != 1 {
		t.Fatalf("%d tests attached for postgres only, %d for the whole stack; want 4 and 1:\n%s", len(part), len(full), r.out)
	}
	for _, f := range append(part, full...) {
		if f[3] != full[0][3] || f[4] != full[0][4] {
			t.Errorf("tests attached to different stacks or PostgreSQL containers: %v and %v", f, full[0])
		}
	}
	if len(r.projects) != 1 {
		t.Errorf("projects seen on the engine: %v, want one", r.projects)
	}
	if n := len(r.field("OK")); n != 5 {
		t.Errorf("%d tests passed, want 5:\n%s", n, r.out)
	}
	if _, raw := engineOf(t); raw != nil && (r.creates < 5 || r.creates > 6) {
		// postgres, migrate, seed, redis, broker; the broker again when e's
		// binary ended before it was ready.
		t.Errorf("%d containers created, want 5 or 6 (one stack)", r.creates)
	}
}

// A broken broker fails the test that needs it, not those that wait only
// for PostgreSQL, in the process that starts the stack or another.
func TestSharedPartialFailureIsAttributed(t *testing.T) {
	t.Parallel()
	s := newSuite(t, "partfail")
	s.pkgs = []string{"./internal/sharedsuite/e", "./internal/sharedsuite/f"}
	r := s.run()
	if r.code == 0 {
		t.Fatalf("go test passed, want f's whole-stack test to fail:\n%s", r.out)
	}
	fatals := r.field("FATAL")
	if len(fatals) != 1 || fatals[0][1] != "f" || fatals[0][2] != "TestWholeStack" {
		t.Fatalf("failed at Shared: %v, want f's TestWholeStack only:\n%s", fatals, r.out)
	}
	msg := strings.Join(fatals[0][3:], " ")
	for _, want := range []string{`"broker"`, "exited with code 3", "broker broke"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the failure does not say %s: %s", want, msg)
		}
	}
	if n := len(r.field("OK")); n != 4 {
		t.Errorf("%d tests passed, want the 4 that need only PostgreSQL:\n%s", n, r.out)
	}
}

// In one test binary: a test that waits only for PostgreSQL gets it (and
// its migration) while the broker is not ready, a test that needs the whole
// stack gets the same stack once the broker is, and the first test's
// services are those of that stack. (Run with -race: the waiters read the
// start in progress.)
func TestSharedPartInOneProcess(t *testing.T) {
	runtimetest.RequireEngine(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "cgpart" + hex.EncodeToString(b[:])
	t.Setenv("COMPOSEGEN_SUITE_NAME", name)
	t.Setenv("COMPOSEGEN_SUITE_MODE", "part")
	plan := sharedsuite.Plan()
	part := runtime.Shared(t, plan, runtime.WithServices("postgres"))
	if part.Service("broker") != nil || part.Service("redis") != nil || part.Service("migrate") == nil || part.Service("seed") == nil {
		t.Fatalf("Shared(WithServices(postgres)) holds the wrong services")
	}
	if res, err := part.Service("postgres").Exec(context.Background(), "psql", "-U", "app", "-d", "app", "-tAc", "SELECT owner FROM items"); err != nil || strings.TrimSpace(res.Stdout) != "seed" {
		t.Fatalf("the migration and the seed had not run: %v %+v", err, res)
	}
	eng := runtimetest.RequireEngine(t)
	list, err := eng.List(context.Background(), map[string]string{planLabel: name, "com.docker.compose.service": "broker"})
	if err != nil || len(list) == 0 {
		t.Fatalf("no broker container while PostgreSQL was ready (%v): the whole stack is not starting", err)
	}
	for _, r := range list {
		if r.Kind != engine.KindContainer {
			continue
		}
		if code, err := eng.Exec(context.Background(), r.ID, []string{"test", "-f", "/tmp/go"}, io.Discard, io.Discard); err == nil && code == 0 {
			t.Fatal("the broker was ready: Shared(WithServices(postgres)) waited for it")
		}
	}
	stop := sharedsuite.LetBrokerStart(t)
	full := runtime.Shared(t, plan)
	stop()
	if full.ProjectName() != part.ProjectName() || full.Service("postgres").ContainerID() != part.Service("postgres").ContainerID() {
		t.Errorf("the whole stack is another one: %s and %s", full.ProjectName(), part.ProjectName())
	}
	if res, err := full.Service("broker").Exec(context.Background(), "test", "-f", "/tmp/go"); err != nil || res.ExitCode != 0 {
		t.Errorf("broker not ready after Shared: %v %+v", err, res)
	}
	again := runtime.Shared(t, plan, runtime.WithServices("postgres"))
	if again.Service("broker") != nil || again.Service("postgres").ContainerID() != part.Service("postgres").ContainerID() {
		t.Errorf("a later Shared(WithServices(postgres)) got another stack or the broker")
	}
}
