package lock

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// childEnv makes the test binary a process that takes what its value says
// ("in-use <project>": marks project as in use; "lease <project>": leases
// the one slot of lease "db" of project and takes its lock "once"), says
// "held", and waits for its stdin to close or to be killed.
const childEnv = "COMPOSEGEN_LOCK_TEST_CHILD"

func TestChild(t *testing.T) {
	what, project, _ := strings.Cut(os.Getenv(childEnv), " ")
	// A bound on what must not block, so that a broken lock fails its
	// test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch what {
	case "":
		t.Skip("the child process of the tests across processes")
	case "in-use":
		if err := HoldInUse(ctx, project); err != nil {
			t.Fatal(err)
		}
	case "lease":
		if _, _, err := Lease(ctx, project, "db", 1); err != nil {
			t.Fatal(err)
		}
		if _, err := Named(ctx, project, "once"); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("unknown child %q", what)
	}
	fmt.Println("held")
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// startChild starts a process that holds what TestChild takes for what and
// project, in this test's TMPDIR, and returns once it holds it. end closes
// its stdin and waits for it; kill kills it and waits for it.
func startChild(t *testing.T, what, project string) (end, kill func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+what+" "+project)
	cmd.Stderr = os.Stderr
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
	stop := func(kill bool) {
		if ended {
			return
		}
		ended = true
		if kill {
			_ = cmd.Process.Kill()
		}
		stdin.Close()
		_ = cmd.Wait()
	}
	end, kill = func() { stop(false) }, func() { stop(true) }
	t.Cleanup(kill)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "held\n" {
		kill()
		t.Fatalf("child %s %s: %q, %v", what, project, line, err)
	}
	return end, kill
}
