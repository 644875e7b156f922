package kube

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadinessEndToEndOnKubernetes runs the main module's end-to-end
// readiness test (cmd/composegen/readiness_e2e_test.go: fixtures generated
// from a compose file written as in the wild, PostgreSQL's first
// connection right after Start, a toolbox, a password in a healthcheck, a
// crash loop refused, an exited dependency, three RabbitMQ brokers with
// their canonical healthcheck) on the cluster: with COMPOSEGEN_E2E_KUBE set, that test generates
// the fixtures with -engine kubernetes, in a module that requires this
// one, and COMPOSEGEN_ENGINE=kubernetes selects it. The cluster needs
// postgres:16, redis:7, rabbitmq:3-management and busybox:latest.
func TestReadinessEndToEndOnKubernetes(t *testing.T) {
	t.Parallel()
	testEngine(t)
	if testing.Short() {
		t.Skip("builds a module and starts 11 stacks (-short)")
	}
	kube, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	// The inner go test builds a module with client-go, pgx and go-redis:
	// minutes on a loaded machine. It ends before this test's deadline.
	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-30*time.Second))
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, "go", "test", "-count=1", "-v", "-timeout=25m", "-run=^TestReadinessEndToEnd$", "./cmd/composegen")
	// Its test binaries go too when the deadline comes (the stacks' own
	// watchers, in sessions of their own, remove the stacks).
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Dir = filepath.Dir(kube)
	// TestRabbitMQ runs too: three brokers at once are ready in 19-46 s on a
	// quiet machine (2 of 2 runs, 2026-12-01), within their healthcheck's
	// 90 s budget; at a load average of 40-50 they were not, as on Docker.
	cmd.Env = append(os.Environ(), "COMPOSEGEN_E2E_KUBE="+kube, "COMPOSEGEN_ENGINE=kubernetes", "GOWORK=off", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the readiness test failed on Kubernetes: %v\n%s", err, out)
	}
	for _, want := range []string{"--- PASS: TestReadinessEndToEnd ", "--- PASS: TestFirstConnection", "--- PASS: TestRabbitMQ", "--- PASS: TestToolbox", "--- PASS: TestPasswordHealthcheck", "--- PASS: TestCrashLoop", "--- PASS: TestExitedDependency"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q in the output:\n%s", want, out)
		}
	}
	t.Logf("%s", out)
}
