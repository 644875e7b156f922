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

	docker "github.com/ory/dockertest/v3/docker"
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
func startChild(t *testing.T, project string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "COMPOSEGEN_TEST_CHILD="+project)
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

// countResources counts the containers, networks and volumes labelled with
// project.
func countResources(t *testing.T, project string) int {
	t.Helper()
	e, err := getEngine(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	label := labelProject + "=" + project
	cs, err := e.c.ListContainers(docker.ListContainersOptions{All: true, Filters: map[string][]string{"label": {label}}})
	if err != nil {
		t.Fatal(err)
	}
	ns, err := e.c.FilteredListNetworks(docker.NetworkFilterOpts{"label": {label: true}})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := e.c.ListVolumes(docker.ListVolumesOptions{Filters: map[string][]string{"label": {label}}})
	if err != nil {
		t.Fatal(err)
	}
	return len(cs) + len(ns) + len(vs)
}

func TestSIGKILLedOwnerIsReaped(t *testing.T) {
	requireDocker(t)
	project := instanceName("rt-sigkill")
	cmd := startChild(t, project)
	if n := countResources(t, project); n == 0 {
		t.Fatal("child's stack not found")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if n := countResources(t, project); n == 0 {
		t.Fatal("nothing left after SIGKILL: the test cannot tell whether reaping works")
	}
	// What the next start does first.
	e, _ := getEngine(context.Background())
	reapDead(e)
	reaping.Wait()
	if n := countResources(t, project); n != 0 {
		t.Errorf("%d resources of the killed owner left after reaping", n)
	}
}

func TestSIGINTTearsDown(t *testing.T) {
	requireDocker(t)
	project := instanceName("rt-sigint")
	cmd := startChild(t, project)
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
	reapDead(e)
	reaping.Wait()
	if n := countResources(t, project); n == 0 {
		t.Error("the reaper removed a live process's stack")
	}
}
