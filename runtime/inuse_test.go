package runtime

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/composegen/composegen/internal/adminhook"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/lock"
	"github.com/composegen/composegen/runtime/internal/owner"
	"github.com/composegen/composegen/runtime/internal/reap"
)

// inUseChildEnv makes the test binary a process that marks the project it
// names as in use, says "held", and waits for its stdin to close.
const inUseChildEnv = "COMPOSEGEN_TEST_INUSE_CHILD"

func TestInUseChild(t *testing.T) {
	project := os.Getenv(inUseChildEnv)
	if project == "" {
		t.Skip("the child process of TestReaperSkipsAStackInUse")
	}
	if err := lock.HoldInUse(context.Background(), project); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("held\n")
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// startInUseChild starts a process that holds project in use; closing the
// returned writer ends it.
func startInUseChild(t *testing.T, project string) (end func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestInUseChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), inUseChildEnv+"="+project)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ended := false
	end = func() {
		if !ended {
			ended = true
			stdin.Close()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(end)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "held\n" {
		end()
		t.Fatalf("child: %q, %v", line, err)
	}
	return end
}

// A stack whose owner died is reaped, unless a live process uses it: the
// run's watcher killed while its test binaries still run must not cost
// them their stack. Prune says what it skipped. Once the user ends, the
// stack goes.
func TestReaperSkipsAStackInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	t.Setenv("TMPDIR", t.TempDir()) // a lock directory of the test's own
	eng := newFakeEngine(t, nil)
	dead := owner.Self()
	dead.Start = "1" // this pid with another start time: a previous process
	for _, project := range []string{"used", "unused"} {
		l := dead.Labels(time.Now())
		l[label.Project] = project
		l[label.Managed] = "true"
		eng.add("network", project+"_default", l)
	}
	end := startInUseChild(t, "used")

	pruned, err := reap.Projects(context.Background(), eng, reap.Policy{MaxAge: time.Hour}, reapHooks)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]adminhook.Pruned{}
	for _, p := range pruned {
		got[p.Project] = p
	}
	if p := got["unused"]; p.Skipped || p.Resources != 1 {
		t.Errorf("unused: %+v, want removed", p)
	}
	if p := got["used"]; !p.Skipped || p.Resources != 0 {
		t.Errorf("used: %+v, want skipped", p)
	}
	if l, _ := eng.List(context.Background(), map[string]string{label.Project: "used"}); len(l) != 1 {
		t.Fatalf("the stack in use lost resources: %d left", len(l))
	}

	end()
	pruned, err = reap.Projects(context.Background(), eng, reap.Policy{MaxAge: time.Hour}, reapHooks)
	if err != nil {
		t.Fatal(err)
	}
	if len(pruned) != 1 || pruned[0].Project != "used" || pruned[0].Skipped || pruned[0].Resources != 1 {
		t.Fatalf("after its user ended: %+v, want used removed", pruned)
	}
	if _, err := os.Stat(lock.ProjectDir("used")); !os.IsNotExist(err) {
		t.Errorf("the lock directory (and in-use file) of a removed stack stays: %v", err)
	}
}
