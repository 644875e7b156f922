package runtime

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/internal/reap"
)

// TestMain lets the test binary act as a child process that starts a stack
// and waits to be killed, for the leak tests.
func TestMain(m *testing.M) {
	if project := os.Getenv("COMPOSEGEN_TEST_CHILD"); project != "" {
		plan := pgRedisPlan()
		plan.Services = plan.Services[1:2] // redis
		s, err := Up(context.Background(), plan, WithProjectName(project))
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("UP", s.ProjectName())
		time.Sleep(5 * time.Minute)
		os.Exit(0)
	}
	// TestIsolationEightParallelStacks needs its 8 parallel subtests to run
	// at once; the default -test.parallel is GOMAXPROCS (2 here).
	flag.Parse()
	if f := flag.Lookup("test.parallel"); f != nil && f.Value.String() == strconv.Itoa(goruntime.GOMAXPROCS(0)) && goruntime.GOMAXPROCS(0) < 8 {
		_ = flag.Set("test.parallel", "8")
	}
	os.Exit(m.Run())
}

// startChild runs a child that starts a stack under project and returns it
// once the stack is up.
func startChild(t *testing.T, project string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "COMPOSEGEN_TEST_CHILD="+project), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if !strings.HasPrefix(line, "UP") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("child did not start its stack: %q", line)
	}
	return cmd
}

// countResources counts the resources labelled with project.
func countResources(t *testing.T, project string) int {
	t.Helper()
	return projectCount(t, project).total()
}

// waitGone waits up to limit for project's resources to go.
func waitGone(t *testing.T, project string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for countResources(t, project) != 0 {
		if time.Since(start) > limit {
			t.Fatalf("%d resources of project %s still there after %s", countResources(t, project), project, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start)
}

// A SIGKILLed test binary cannot clean up: its watcher process removes its
// stack within seconds, without any new start.
func TestSIGKILLedOwnerIsRemovedByItsWatcher(t *testing.T) {
	requireDocker(t)
	project := instanceName("rt-sigkill-watch")
	cmd := startChild(t, project)
	if n := countResources(t, project); n == 0 {
		t.Fatal("child's stack not found")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	t.Logf("removed %s after the kill", waitGone(t, project, 10*time.Second))
}

// Without a watcher (it was killed too, or disabled), the next start's
// reaper removes a dead owner's stack.
func TestSIGKILLedOwnerIsReaped(t *testing.T) {
	requireDocker(t)
	project := instanceName("rt-sigkill")
	cmd := startChild(t, project, "COMPOSEGEN_NO_WATCHER=1")
	if n := countResources(t, project); n == 0 {
		t.Fatal("child's stack not found")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if n := countResources(t, project); n == 0 {
		t.Fatal("nothing left after SIGKILL: the test cannot tell whether reaping works")
	}
	e, _ := getEngine(context.Background())
	pruned, err := reap.Projects(context.Background(), e.eng, reap.Policy{MaxAge: reap.OrphanAge()}, reapHooks)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range pruned {
		found = found || p.Project == project
	}
	if !found {
		t.Errorf("the reaper did not report %s (it reported %+v)", project, pruned)
	}
	if n := countResources(t, project); n != 0 {
		t.Errorf("%d resources of the killed owner left after reaping", n)
	}
}

func TestSIGINTTearsDown(t *testing.T) {
	requireDocker(t)
	project := instanceName("rt-sigint")
	cmd := startChild(t, project, "COMPOSEGEN_NO_WATCHER=1")
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	if n := countResources(t, project); n != 0 {
		t.Errorf("%d resources left after SIGINT", n)
	}
}

func TestReaperSparesLiveOwners(t *testing.T) {
	requireDocker(t)
	project := instanceName("rt-live")
	cmd := startChild(t, project)
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}()
	e, _ := getEngine(context.Background())
	if _, err := reap.Projects(context.Background(), e.eng, reap.Policy{MaxAge: time.Nanosecond}, reapHooks); err != nil {
		t.Fatal(err)
	}
	if n := countResources(t, project); n == 0 {
		t.Error("the reaper removed a live process's stack")
	}
}
