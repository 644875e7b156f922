package runtime

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/owner"
	docker "github.com/ory/dockertest/v3/docker"
)

// The leak tests run real `testing` flows in child processes: the test
// binary re-executes itself with -test.run=^TestChildX$ and
// COMPOSEGEN_CHILD=X, which makes TestChildX active (it skips otherwise).
// The child's stack uses the project name in COMPOSEGEN_CHILD_PROJECT, so
// that the parent can count what is left by label.

const (
	childEnv        = "COMPOSEGEN_CHILD"
	childProjectEnv = "COMPOSEGEN_CHILD_PROJECT"
)

// childMode skips t unless this process is the child running it.
func childMode(t *testing.T, mode string) string {
	t.Helper()
	if os.Getenv(childEnv) != mode {
		t.Skip("runs only as a child process of a leak test")
	}
	return os.Getenv(childProjectEnv)
}

// redisPlan is the lightest stack with a port, a probe, a network and a
// named volume.
func redisPlan(name string) *composeplan.Plan {
	return &composeplan.Plan{
		Name: name,
		Services: []composeplan.ServiceSpec{{
			Name: "redis", Image: "redis:7-alpine", Kind: "redis",
			ContainerName: "fixed-redis", // an alias only: never the engine name
			Ports:         []composeplan.PortSpec{{Target: 6379, Protocol: "tcp", Published: "6379"}},
			Probe:         &composeplan.ProbeSpec{Protocol: "redis", Port: 6379},
			Mounts:        []composeplan.MountSpec{{Type: "volume", Source: "data", Target: "/data"}},
		}},
		Volumes: []composeplan.VolumeSpec{{Name: "data"}},
	}
}

// childCmd prepares a child running TestChild<mode> with project.
func childCmd(mode, project string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild"+mode+"$", "-test.v", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, childProjectEnv+"="+project)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// runChild runs a child to completion and returns its output and exit code.
func runChild(t *testing.T, mode, project string, env ...string) (string, int) {
	t.Helper()
	cmd := childCmd(mode, project, env...)
	out, err := cmd.CombinedOutput()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// startChildUntil starts a child and returns once a line of its output
// starts with marker; the rest of the output keeps being collected.
func startChildUntil(t *testing.T, mode, project, marker string, env ...string) (cmd *exec.Cmd, output func() string, exited <-chan struct{}) {
	t.Helper()
	cmd = childCmd(mode, project, env...)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		buf bytes.Buffer
	)
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		seen := false
		for sc.Scan() {
			mu.Lock()
			buf.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if !seen && strings.HasPrefix(strings.TrimSpace(sc.Text()), marker) {
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
	select {
	case ok := <-found:
		if !ok {
			t.Fatalf("child %s ended before %q:\n%s", mode, marker, output())
		}
	case <-time.After(3 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("child %s did not print %q:\n%s", mode, marker, output())
	}
	return cmd, output, done
}

// --- children ---------------------------------------------------------------

// announce prints what the parent waits for, with the resources counted
// from inside the child, so that the parent knows the stack was there.
func announce(t *testing.T, project string) {
	fmt.Printf("UP %s %d\n", project, projectCount(t, project).total())
}

func TestChildPass(t *testing.T) {
	project := childMode(t, "Pass")
	s := Start(t, redisPlan("leak-pass"), WithProjectName(project))
	announce(t, project)
	res, err := s.Service("redis").Exec(context.Background(), "redis-cli", "ping")
	if err != nil || !strings.Contains(res.Stdout, "PONG") {
		t.Fatalf("ping: %v %+v", err, res)
	}
}

func TestChildFatal(t *testing.T) {
	project := childMode(t, "Fatal")
	Start(t, redisPlan("leak-fatal"), WithProjectName(project))
	announce(t, project)
	t.Fatal("deliberate t.Fatal")
}

func TestChildFailNow(t *testing.T) {
	project := childMode(t, "FailNow")
	Start(t, redisPlan("leak-failnow"), WithProjectName(project))
	announce(t, project)
	t.FailNow()
}

func TestChildPanic(t *testing.T) {
	project := childMode(t, "Panic")
	// Registered first, so it runs last: after Start's teardown.
	t.Cleanup(func() { fmt.Printf("CLEANUP-RAN %d\n", projectCount(t, project).total()) })
	Start(t, redisPlan("leak-panic"), WithProjectName(project))
	announce(t, project)
	panic("deliberate panic")
}

// TestChildSlowStart's start never ends by itself: its healthcheck fails
// for a budget of minutes; the parent interrupts it.
func TestChildSlowStart(t *testing.T) {
	project := childMode(t, "SlowStart")
	hc := &composeplan.HealthcheckSpec{Test: []string{"CMD-SHELL", "echo not-yet; exit 1"}, Interval: time.Minute, Retries: 3}
	plan := redisPlan("leak-slow")
	plan.Services = append(plan.Services,
		busybox("slow", hc, "sleep", "600"),
		composeplan.ServiceSpec{Name: "after", Image: "busybox", Command: []string{"sleep", "600"}, Lifecycle: composeplan.LifecycleWorker,
			DependsOn: []composeplan.Dependency{{Service: "slow", Condition: "service_healthy", Required: true}}})
	Start(t, plan, WithProjectName(project), WithTimeout(5*time.Minute))
	t.Error("the start was expected to be interrupted")
}

// TestChildHold starts a stack and waits to be killed.
func TestChildHold(t *testing.T) {
	project := childMode(t, "Hold")
	Start(t, redisPlan("leak-hold"), WithProjectName(project))
	announce(t, project)
	time.Sleep(5 * time.Minute)
}

// --- parents ----------------------------------------------------------------

// TestNoLeakWhateverTheOutcome runs a test that passes, one that calls
// t.Fatal, one that calls t.FailNow and one that panics, each in its own
// process: the stack existed during the test and nothing is left after.
func TestNoLeakWhateverTheOutcome(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	for _, tc := range []struct {
		mode     string
		wantCode int
		want     []string
	}{
		{"Pass", 0, []string{"--- PASS: TestChildPass"}},
		{"Fatal", 1, []string{"--- FAIL: TestChildFatal", "deliberate t.Fatal", "test failed; state of stack"}},
		{"FailNow", 1, []string{"--- FAIL: TestChildFailNow", "test failed; state of stack"}},
		// A panic still runs t.Cleanup: the cleanup registered before
		// Start runs after its teardown and counts zero resources.
		{"Panic", 2, []string{"panic: deliberate panic", "CLEANUP-RAN 0"}},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			project := instanceName("leak-" + strings.ToLower(tc.mode))
			out, code := runChild(t, tc.mode, project)
			if code != tc.wantCode {
				t.Errorf("child exit code %d, want %d", code, tc.wantCode)
			}
			if !strings.Contains(out, "UP "+project+" ") || strings.Contains(out, "UP "+project+" 0\n") {
				t.Errorf("the child's stack was not up during its test:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("child output lacks %q:\n%s", w, out)
				}
			}
			assertNoneLeft(t, project)
		})
	}
}

// TestNoLeakOnSIGINTMidStart interrupts a start while a service is still
// waiting for its healthcheck and a dependent waits for it.
func TestNoLeakOnSIGINTMidStart(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	project := instanceName("leak-sigint-start")
	cmd := childCmd("SlowStart", project)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Mid-start: the slow service runs but is not healthy, so its
	// dependent is not created yet.
	deadline := time.Now().Add(2 * time.Minute)
	e, _ := getEngine(context.Background())
	for {
		list, err := e.c.ListContainers(docker.ListContainersOptions{Filters: map[string][]string{
			"label": {label.Project + "=" + project, label.Service + "=slow"}, "status": {"running"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 0 {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			removeProject(t, project)
			t.Fatalf("the child's start did not get going:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // a few failed probes of "slow"
	_ = cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	if err == nil {
		t.Errorf("the child exited 0 after SIGINT:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "interrupt: removing 1 stack(s)") {
		t.Errorf("the child did not report its teardown:\n%s", out.String())
	}
	assertNoneLeft(t, project)
}

// TestNoLeakAfterSIGKILLAndNewStart kills a test binary mid-test: its stack
// stays until the next start of any composegen process on this host, which
// reaps it (and the next start's own stack is gone after its test).
func TestNoLeakAfterSIGKILLAndNewStart(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	project := instanceName("leak-sigkill")
	cmd, output, exited := startChildUntil(t, "Hold", project, "UP")
	pid := cmd.Process.Pid
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	if c := projectCount(t, project); c.total() == 0 {
		t.Fatalf("nothing left after SIGKILL: the test cannot tell whether the next start reaps\n%s", output())
	}
	// The next start: a new process, whose first Up reaps.
	next := instanceName("leak-next")
	out, code := runChild(t, "Pass", next)
	if code != 0 {
		t.Fatalf("the next start failed:\n%s", out)
	}
	assertNoneLeft(t, project)
	assertNoneLeft(t, next)
	if c := countLabels(t, map[string]string{owner.LabelPid: strconv.Itoa(pid)}); c.total() != 0 {
		t.Errorf("resources of the killed owner (pid %d) left: %v", pid, c)
	}
}

// TestNoLeakOnSIGTERMMidTest terminates a test binary while its test runs
// (what CI runners send on cancellation).
func TestNoLeakOnSIGTERMMidTest(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	project := instanceName("leak-sigterm")
	cmd, output, exited := startChildUntil(t, "Hold", project, "UP")
	_ = cmd.Process.Signal(syscall.SIGTERM)
	<-exited
	if !strings.Contains(output(), "terminated: removing 1 stack(s)") {
		t.Errorf("the child did not report its teardown:\n%s", output())
	}
	assertNoneLeft(t, project)
}
