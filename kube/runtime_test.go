package kube

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/composegen/composegen/runtime"
	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
)

// Runtime-level tests: stacks started through runtime.Up and runtime.Start
// with WithEngine("kubernetes"), from plans built as generated code builds
// them. Every assertion is scoped to the stack's own compose project
// label, which its namespace carries.

// redisPlan is the lightest stack with a port, a probe and a named volume
// (an emptyDir on the cluster).
func redisPlan(name string) *composeplan.Plan {
	return &composeplan.Plan{
		Name: name,
		Services: []composeplan.ServiceSpec{{
			Name: "redis", Image: "redis:7-alpine", Kind: "redis",
			Ports:  []composeplan.PortSpec{{Target: 6379, Protocol: "tcp", Published: "6379"}},
			Probe:  &composeplan.ProbeSpec{Protocol: "redis", Port: 6379},
			Mounts: []composeplan.MountSpec{{Type: "volume", Source: "data", Target: "/data"}},
		}},
		Volumes: []composeplan.VolumeSpec{{Name: "data"}},
	}
}

func busyboxService(name string, hc *composeplan.HealthcheckSpec, cmd ...string) composeplan.ServiceSpec {
	return composeplan.ServiceSpec{Name: name, Image: "busybox:latest", Command: cmd, Healthcheck: hc}
}

// stackName returns a fresh project name (a valid label value).
func stackName(base string) string { return base + "-" + randomHex(4) }

// stackNamespaces lists the namespaces that carry project's label, with
// their phase.
func stackNamespaces(t testing.TB, project string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := testEngine(t).cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: labelComposeProject + "=" + project})
	if err != nil {
		t.Fatalf("list the namespaces of %s: %v", project, err)
	}
	var out []string
	for _, ns := range list.Items {
		out = append(out, ns.Name+" ("+string(ns.Status.Phase)+")")
	}
	return out
}

// assertNoNamespace checks that nothing of project is left on the cluster
// (its namespace, or any resource with its label), and removes what is.
func assertNoNamespace(t testing.TB, project string) {
	t.Helper()
	if left := stackNamespaces(t, project); len(left) > 0 {
		t.Errorf("stack %s: namespace %v left behind", project, left)
		removeStack(t, project)
	}
}

// waitNoNamespace waits up to limit for project's namespace to go.
func waitNoNamespace(t testing.TB, project string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for len(stackNamespaces(t, project)) > 0 {
		if time.Now().After(deadline) {
			t.Errorf("stack %s: namespace %v still there after %s", project, stackNamespaces(t, project), limit)
			removeStack(t, project)
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// removeStack removes what carries project's label (after a failed
// assertion, or for tests that leave stacks on purpose).
func removeStack(t testing.TB, project string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eng := testEngine(t)
	rs, err := eng.List(ctx, map[string]string{labelComposeProject: project})
	if err != nil {
		t.Errorf("removing %s: %v", project, err)
		return
	}
	for _, kind := range []string{engine.KindContainer, engine.KindVolume, engine.KindNetwork, engine.KindProject} {
		for _, r := range rs {
			if r.Kind == kind {
				if err := eng.Remove(ctx, r); err != nil && !errors.Is(err, engine.ErrNotFound) {
					t.Errorf("removing %s: %s %s: %v", project, r.Kind, r.Name, err)
				}
			}
		}
	}
}

// redisCmd sends one command to a Redis server over RESP and returns the
// first line of its answer.
func redisCmd(t *testing.T, addr string, args ...string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	msg := fmt.Sprintf("*%d\r\n", len(args))
	for _, a := range args {
		msg += fmt.Sprintf("$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("%s: %v", addr, err)
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %q: %v", addr, args, err)
	}
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "$") && line != "$-1" {
		v, _ := r.ReadString('\n')
		return strings.TrimSpace(v)
	}
	return line
}

// Two stacks of the same plan started at the same time run in namespaces
// of their own: a key written in one is not seen in the other, through
// each stack's own port-forward.
func TestRuntimeParallelStacksIsolated(t *testing.T) {
	testEngine(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var (
		stacks [2]*runtime.Stack
		errs   [2]error
		wg     sync.WaitGroup
	)
	for i := range stacks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stacks[i], errs[i] = runtime.Up(ctx, redisPlan("kt-iso"), runtime.WithEngine("kubernetes"))
		}()
	}
	wg.Wait()
	for i, s := range stacks {
		if s != nil {
			t.Cleanup(func() {
				if err := s.Down(context.Background()); err != nil {
					t.Errorf("Down: %v", err)
				}
				assertNoNamespace(t, s.ProjectName())
			})
		}
		if errs[i] != nil {
			t.Fatalf("Up %d: %v", i, errs[i])
		}
	}
	a, b := stacks[0], stacks[1]
	if a.ProjectName() == b.ProjectName() {
		t.Fatalf("both stacks are %s", a.ProjectName())
	}
	nsA, nsB := stackNamespaces(t, a.ProjectName()), stackNamespaces(t, b.ProjectName())
	if len(nsA) != 1 || len(nsB) != 1 || nsA[0] == nsB[0] {
		t.Fatalf("namespaces %v and %v; want one each, different", nsA, nsB)
	}
	addrA, addrB := a.Service("redis").Addr(6379), b.Service("redis").Addr(6379)
	if addrA == addrB {
		t.Fatalf("both stacks forward %s", addrA)
	}
	if got := redisCmd(t, addrA, "SET", "written-in", a.ProjectName()); got != "+OK" {
		t.Fatalf("SET on %s: %q", a.ProjectName(), got)
	}
	if got := redisCmd(t, addrA, "GET", "written-in"); got != a.ProjectName() {
		t.Errorf("GET on the stack that wrote it: %q, want %q", got, a.ProjectName())
	}
	if got := redisCmd(t, addrB, "GET", "written-in"); got != "$-1" {
		t.Errorf("GET on the other stack: %q, want no such key ($-1)", got)
	}
	// And from inside the pods, by the service's compose name.
	res, err := b.Service("redis").Exec(ctx, "redis-cli", "-h", "redis", "EXISTS", "written-in")
	if err != nil || strings.TrimSpace(res.Stdout) != "0" {
		t.Errorf("EXISTS in the other stack's pod: %+v, %v; want 0", res, err)
	}
}

// --- faults -----------------------------------------------------------------

// upErr runs Up on the cluster with a known project name, fails the test
// when it succeeds, and checks afterwards that nothing is left.
func upErr(t *testing.T, plan *composeplan.Plan, opts ...runtime.Option) error {
	t.Helper()
	project := stackName(plan.Name)
	opts = append([]runtime.Option{runtime.WithEngine("kubernetes"), runtime.WithProjectName(project), runtime.WithTimeout(3 * time.Minute)}, opts...)
	s, err := runtime.Up(context.Background(), plan, opts...)
	if err == nil {
		_ = s.Down(context.Background())
		t.Fatal("Up succeeded")
	}
	assertNoNamespace(t, project)
	return err
}

func wantAll(t *testing.T, err error, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
	if strings.Contains(err.Error(), "goroutine ") {
		t.Errorf("error carries a stack trace:\n%v", err)
	}
}

// A service that exits non-zero while it should become healthy fails the
// start at once (its healthcheck has a budget of minutes), named, with its
// exit code and its last output.
func TestRuntimeFaultExitsNonZero(t *testing.T) {
	testEngine(t)
	t.Parallel()
	hc := &composeplan.HealthcheckSpec{Test: []string{"CMD", "false"}, Interval: time.Minute, Retries: 3, StartPeriod: time.Minute}
	plan := &composeplan.Plan{Name: "kt-exit", Services: []composeplan.ServiceSpec{
		busyboxService("crash", hc, "sh", "-c", "echo about-to-crash >&2; exit 4"),
		{Name: "app", Image: "busybox:latest", Command: []string{"sleep", "300"},
			DependsOn: []composeplan.Dependency{{Service: "crash", Condition: "service_healthy", Required: true}}},
	}}
	start := time.Now()
	err := upErr(t, plan)
	wantAll(t, err, `service "crash"`, "exited with code 4", "about-to-crash")
	if d := time.Since(start); d > time.Minute {
		t.Errorf("the exit failed the start after %s, not at once", d)
	}
}

// A service whose healthcheck keeps failing is unhealthy after its
// budget; the error gives the probe's output and the service's log.
func TestRuntimeFaultUnhealthy(t *testing.T) {
	testEngine(t)
	t.Parallel()
	hc := &composeplan.HealthcheckSpec{Test: []string{"CMD-SHELL", "echo still-warming-up; exit 1"}, Interval: 200 * time.Millisecond, Retries: 3}
	plan := &composeplan.Plan{Name: "kt-unhealthy", Services: []composeplan.ServiceSpec{
		busyboxService("web", hc, "sh", "-c", "echo web-booting; exec sleep 300"),
	}}
	err := upErr(t, plan)
	wantAll(t, err, `service "web"`, "unhealthy after", "3 consecutive failures every 200ms", "exited 1", "still-warming-up", "web-booting")
}

// A one-shot dependency (service_completed_successfully) that fails ends
// the start, named, with its exit code and output; its dependents never
// start.
func TestRuntimeFaultOneShotFails(t *testing.T) {
	testEngine(t)
	t.Parallel()
	plan := &composeplan.Plan{Name: "kt-oneshot", Services: []composeplan.ServiceSpec{
		{Name: "migrate", Image: "busybox:latest", Command: []string{"sh", "-c", "echo migration-failed >&2; exit 3"}},
		{Name: "api", Image: "busybox:latest", Command: []string{"sleep", "300"},
			DependsOn: []composeplan.Dependency{{Service: "migrate", Condition: "service_completed_successfully", Required: true}}},
	}}
	project := stackName(plan.Name)
	var logged strings.Builder
	s, err := runtime.Up(context.Background(), plan, runtime.WithEngine("kubernetes"), runtime.WithProjectName(project),
		runtime.WithTimeout(3*time.Minute), runtime.WithKeepOnFailure(), runtime.WithLogf(func(f string, a ...any) { fmt.Fprintf(&logged, f, a...) }))
	if err == nil {
		_ = s.Down(context.Background())
		t.Fatal("Up succeeded")
	}
	t.Cleanup(func() {
		removeStack(t, project)
		assertNoNamespace(t, project)
	})
	wantAll(t, err, `service "migrate"`, "exited with code 3", "migration-failed")
	// The kept stack shows what ran: migrate's pod ran, api's never did.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	eng := testEngine(t)
	rs, lerr := eng.List(ctx, map[string]string{labelComposeProject: project})
	if lerr != nil {
		t.Fatal(lerr)
	}
	started := map[string]bool{}
	for _, r := range rs {
		if r.Kind != engine.KindContainer {
			continue
		}
		st, err := eng.Inspect(ctx, r.ID)
		if err != nil {
			t.Fatalf("Inspect %s: %v", r.Name, err)
		}
		started[r.Labels["com.docker.compose.service"]] = !st.StartedAt.IsZero()
	}
	if !started["migrate"] || started["api"] {
		t.Errorf("started: %v; want migrate only (its dependent never started)", started)
	}
}

// An image the cluster does not have (and cannot pull) fails the start,
// naming the service and the image.
func TestRuntimeFaultMissingImage(t *testing.T) {
	testEngine(t)
	t.Parallel()
	image := "composegen-test.invalid/no-such-image:never"
	plan := &composeplan.Plan{Name: "kt-noimage", Services: []composeplan.ServiceSpec{
		{Name: "ghost", Image: image},
		{Name: "ok", Image: "busybox:latest", Command: []string{"sleep", "300"}},
	}}
	err := upErr(t, plan)
	wantAll(t, err, `service "ghost"`, image, "cannot be pulled")
}

// --- no namespace left ------------------------------------------------------

// The leak tests run real `testing` flows in child processes: the test
// binary re-executes itself with -test.run=^TestKubeChildX$ and
// kubeChildEnv=X, which makes TestKubeChildX active (it skips otherwise).

const (
	kubeChildEnv        = "COMPOSEGEN_KUBE_CHILD"
	kubeChildProjectEnv = "COMPOSEGEN_KUBE_CHILD_PROJECT"
)

func kubeChild(t *testing.T, mode string) string {
	t.Helper()
	if os.Getenv(kubeChildEnv) != mode {
		t.Skip("runs only as a child process of a leak test")
	}
	return os.Getenv(kubeChildProjectEnv)
}

// childStart starts the child's stack and prints "UP project n", n the
// number of its namespaces, for the parent to know it was there.
func childStart(t *testing.T, project string) *runtime.Stack {
	s := runtime.Start(t, redisPlan("kt-leak"), runtime.WithEngine("kubernetes"), runtime.WithProjectName(project))
	fmt.Printf("UP %s %d\n", project, len(stackNamespaces(t, project)))
	return s
}

func TestKubeChildPass(t *testing.T) {
	s := childStart(t, kubeChild(t, "Pass"))
	res, err := s.Service("redis").Exec(context.Background(), "redis-cli", "ping")
	if err != nil || !strings.Contains(res.Stdout, "PONG") {
		t.Fatalf("ping: %v %+v", err, res)
	}
}

func TestKubeChildFatal(t *testing.T) {
	childStart(t, kubeChild(t, "Fatal"))
	t.Fatal("deliberate t.Fatal")
}

func TestKubeChildSubtestFails(t *testing.T) {
	project := kubeChild(t, "SubtestFails")
	t.Run("sub", func(t *testing.T) {
		childStart(t, project)
		t.Fail()
	})
}

func TestKubeChildPanic(t *testing.T) {
	project := kubeChild(t, "Panic")
	// Registered first, so it runs last: after Start's teardown.
	t.Cleanup(func() { fmt.Printf("CLEANUP-RAN %d\n", len(stackNamespaces(t, project))) })
	childStart(t, project)
	panic("deliberate panic")
}

func TestKubeChildHold(t *testing.T) {
	childStart(t, kubeChild(t, "Hold"))
	time.Sleep(5 * time.Minute)
}

func kubeChildCmd(mode, project string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestKubeChild"+mode+"$", "-test.v", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), kubeChildEnv+"="+mode, kubeChildProjectEnv+"="+project)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

func runKubeChild(t *testing.T, mode, project string, env ...string) (string, int) {
	t.Helper()
	out, err := kubeChildCmd(mode, project, env...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return string(out), 0
}

// startKubeChild starts a child and returns once it printed "UP "; the
// rest of its output keeps being collected.
func startKubeChild(t *testing.T, mode, project string, env ...string) (cmd *exec.Cmd, output func() string, exited <-chan struct{}) {
	t.Helper()
	cmd = kubeChildCmd(mode, project, env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		buf strings.Builder
	)
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		seen := false
		for sc.Scan() {
			mu.Lock()
			buf.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if !seen && strings.HasPrefix(sc.Text(), "UP ") {
				seen = true
				found <- true
			}
		}
		if !seen {
			found <- false
		}
	}()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); pw.Close(); close(done) }()
	output = func() string {
		mu.Lock()
		defer mu.Unlock()
		return buf.String()
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-done })
	select {
	case ok := <-found:
		if !ok {
			t.Fatalf("child %s ended before its stack was up:\n%s", mode, output())
		}
	case <-time.After(4 * time.Minute):
		t.Fatalf("child %s did not start its stack:\n%s", mode, output())
	}
	return cmd, output, done
}

// A test that passes, one that calls t.Fatal, a subtest that fails and a
// test that panics, each in its own process: the stack's namespace existed
// during the test and is gone when the process has ended.
func TestRuntimeNoNamespaceLeftWhateverTheOutcome(t *testing.T) {
	testEngine(t)
	if testing.Short() {
		t.Skip("runs test binaries that start stacks (-short)")
	}
	t.Parallel()
	for _, tc := range []struct {
		mode     string
		wantCode int
		want     []string
	}{
		{"Pass", 0, []string{"--- PASS: TestKubeChildPass"}},
		{"Fatal", 1, []string{"--- FAIL: TestKubeChildFatal", "deliberate t.Fatal", "test failed; state of stack"}},
		{"SubtestFails", 1, []string{"--- FAIL: TestKubeChildSubtestFails/sub", "test failed; state of stack"}},
		{"Panic", 2, []string{"panic: deliberate panic", "CLEANUP-RAN 0"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			project := stackName("kt-leak-" + strings.ToLower(tc.mode))
			out, code := runKubeChild(t, tc.mode, project)
			if code != tc.wantCode {
				t.Errorf("child exit code %d, want %d", code, tc.wantCode)
			}
			if !strings.Contains(out, "UP "+project+" 1\n") {
				t.Errorf("the child's namespace was not there during its test:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("child output lacks %q:\n%s", w, out)
				}
			}
			assertNoNamespace(t, project)
		})
	}
}

// SIGINT to a test binary while its test runs: it removes its stack and
// exits.
func TestRuntimeNoNamespaceLeftOnSIGINT(t *testing.T) {
	testEngine(t)
	if testing.Short() {
		t.Skip("runs a test binary that starts a stack (-short)")
	}
	t.Parallel()
	project := stackName("kt-leak-sigint")
	cmd, output, exited := startKubeChild(t, "Hold", project)
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the child did not exit within 2m of SIGINT:\n%s", output())
	}
	if cmd.ProcessState.Success() {
		t.Errorf("the child exited 0 after SIGINT:\n%s", output())
	}
	if !strings.Contains(output(), "interrupt: removing 1 stack(s)") {
		t.Errorf("the child did not report its teardown:\n%s", output())
	}
	assertNoNamespace(t, project)
}

// SIGKILL leaves the stack of a test binary without a watcher; the next
// start of a composegen process reaps it (and that process's own stack is
// gone after its test).
func TestRuntimeNoNamespaceLeftAfterSIGKILLAndNextStart(t *testing.T) {
	testEngine(t)
	if testing.Short() {
		t.Skip("runs test binaries that start stacks (-short)")
	}
	t.Parallel()
	project := stackName("kt-leak-sigkill")
	cmd, output, exited := startKubeChild(t, "Hold", project, "COMPOSEGEN_NO_WATCHER=1")
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	if left := stackNamespaces(t, project); len(left) != 1 {
		t.Fatalf("namespaces after SIGKILL: %v; want the killed child's (else the test cannot tell whether the next start reaps)\n%s", left, output())
	}
	next := stackName("kt-leak-next")
	if out, code := runKubeChild(t, "Pass", next); code != 0 {
		t.Fatalf("the next start failed:\n%s", out)
	}
	// The next start reaps in the background of its first Up; the
	// namespace is deleted once its pods are.
	waitNoNamespace(t, project, 2*time.Minute)
	assertNoNamespace(t, next)
}
