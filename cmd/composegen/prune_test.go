package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime"
	"github.com/composegen/composegen/runtime/composeplan"
)

// orphanEnv makes the test binary start a stack and exit without removing
// it, as a test process that crashed would (TestPruneCommand).
const orphanEnv = "COMPOSEGEN_TEST_ORPHAN"

func orphanStack() {
	plan := &composeplan.Plan{Name: "prunecli", Services: []composeplan.ServiceSpec{{
		Name: "sleeper", Image: "busybox", Command: []string{"sleep", "600"},
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := runtime.Up(ctx, plan)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(s.ProjectName())
	os.Exit(0) // no Down: the stack is left behind
}

// stackContainers lists the containers of a compose project.
func stackContainers(t *testing.T, project string) []string {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+project).Output()
	if err != nil {
		t.Fatalf("docker ps: %v", err)
	}
	return strings.Fields(string(out))
}

// A stack left by a process that died is removed by composegen prune,
// which says what it removed; a second prune has nothing to do.
func TestPruneCommand(t *testing.T) {
	requireDocker(t)
	helper := exec.Command(os.Args[0], "-test.run=^$")
	helper.Env = append(os.Environ(), orphanEnv+"=1", "COMPOSEGEN_NO_WATCHER=1")
	var helperErr bytes.Buffer
	helper.Stderr = &helperErr
	out, err := helper.Output()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, helperErr.String())
	}
	project := strings.TrimSpace(string(out))
	if project == "" || len(stackContainers(t, project)) != 1 {
		t.Fatalf("the helper left project %q with containers %v, want 1", project, stackContainers(t, project))
	}
	t.Cleanup(func() {
		if ids := stackContainers(t, project); len(ids) > 0 {
			_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
		}
	})

	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"prune", "-v", "-project", project}, newProc(&stdout, &stderr)); code != 0 {
		t.Fatalf("prune exited %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	got := stdout.String()
	if !strings.Contains(got, "removed "+project+":") || !strings.Contains(got, "container "+project) {
		t.Errorf("prune output does not name the stack and its container:\n%s", got)
	}
	if ids := stackContainers(t, project); len(ids) != 0 {
		t.Errorf("containers %v left after prune", ids)
	}

	stdout.Reset()
	if code := run(context.Background(), []string{"prune", "-project", project}, newProc(&stdout, &stderr)); code != 0 || strings.TrimSpace(stdout.String()) != "nothing to prune" {
		t.Errorf("second prune: exit %d, output %q, want 0 and \"nothing to prune\"", code, stdout.String())
	}

	stdout.Reset()
	stderr.Reset()
	if code := run(context.Background(), []string{"prune", "extra"}, newProc(&stdout, &stderr)); code != 2 || !strings.Contains(stderr.String(), "-project") {
		t.Errorf("prune extra: exit %d, stderr %q, want 2 and a hint", code, stderr.String())
	}
}
