package runtime

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/internal/probe"
)

func busybox(name string, hc *composeplan.HealthcheckSpec, cmd ...string) composeplan.ServiceSpec {
	return composeplan.ServiceSpec{Name: name, Image: "busybox", Command: cmd, Healthcheck: hc}
}

// The compose interval must not delay readiness: with interval 1m the
// engine would first check after a minute; the runtime checks at once and
// then on its short backoff, so this start fits in WithTimeout(30s).
func TestHealthcheckIgnoresInterval(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	hc := &composeplan.HealthcheckSpec{Test: []string{"CMD", "test", "-f", "/tmp/ready"}, Interval: time.Minute, Retries: 3}
	plan := &composeplan.Plan{Name: "rt-hc", Services: []composeplan.ServiceSpec{
		busybox("slow", hc, "sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 300"),
		{Name: "after", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			DependsOn: []composeplan.Dependency{{Service: "slow", Condition: "service_healthy", Required: true}}},
	}}
	s := Start(t, plan, WithTimeout(30*time.Second))
	res, err := s.Service("slow").Exec(context.Background(), "test", "-f", "/tmp/ready")
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("dependent started before the healthcheck passed: %v %+v", err, res)
	}
}

// The runtime runs the compose healthcheck; the engine must not run it as
// well (its execs, every interval for the container's whole life, compete
// with the servers and may run before the server answers). The healthcheck
// counts its runs in a file: after the start, with a 100ms interval, an
// engine running it would add about ten runs a second.
func TestEngineDoesNotRunTheHealthcheck(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	hc := &composeplan.HealthcheckSpec{Test: []string{"CMD-SHELL", "echo run >> /tmp/runs"}, Interval: 100 * time.Millisecond, Timeout: time.Second, Retries: 3}
	plan := &composeplan.Plan{Name: "rt-hc-once", Services: []composeplan.ServiceSpec{
		busybox("web", hc, "sleep", "300"),
	}}
	s := Start(t, plan, WithTimeout(30*time.Second))
	runs := func() int {
		res, err := s.Service("web").Exec(context.Background(), "cat", "/tmp/runs")
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("read the healthcheck's runs: %v %+v", err, res)
		}
		return strings.Count(res.Stdout, "run")
	}
	first := runs()
	if first < 1 {
		t.Fatalf("the healthcheck never ran, yet the start returned")
	}
	time.Sleep(1500 * time.Millisecond)
	if now := runs(); now != first {
		t.Errorf("the healthcheck ran %d more time(s) after the start: the engine runs it too", now-first)
	}
}

func TestUnhealthyReportsProbeOutputAndLogs(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	hc := &composeplan.HealthcheckSpec{Test: []string{"CMD-SHELL", "echo still-warming-up; exit 1"}, Interval: 200 * time.Millisecond, Retries: 3}
	plan := &composeplan.Plan{Name: "rt-unhealthy", Services: []composeplan.ServiceSpec{
		busybox("web", hc, "sh", "-c", "echo web-booting; exec sleep 300"),
	}}
	start := time.Now()
	_, err := Up(context.Background(), plan)
	if err == nil {
		t.Fatal("Up succeeded with a failing healthcheck")
	}
	// Docker's budget: runs at 200ms, then every 200ms plus the run's
	// duration; the third failure makes it unhealthy.
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Errorf("unhealthy after %s, before Docker's budget of 3 x 200ms", d)
	}
	for _, want := range []string{`service "web"`, "unhealthy after", "3 consecutive failures every 200ms", "exited 1", "still-warming-up", "web-booting"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestHealthcheckDisabledAndNone(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	failing := []string{"CMD", "false"}
	plan := &composeplan.Plan{Name: "rt-nohc", Services: []composeplan.ServiceSpec{
		busybox("disabled", &composeplan.HealthcheckSpec{Test: failing, Disable: true, Interval: time.Second, Retries: 1}, "sleep", "300"),
		busybox("none", &composeplan.HealthcheckSpec{Test: []string{"NONE"}}, "sleep", "300"),
	}}
	s := Start(t, plan, WithTimeout(30*time.Second))
	if s.Service("disabled") == nil || s.Service("none") == nil {
		t.Fatal("services missing")
	}
}

func TestServiceControl(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	plan := pgRedisPlan()
	plan.Services = plan.Services[1:2] // redis
	s := Start(t, plan)
	redis := s.Service("redis")
	ctx := context.Background()
	res, err := redis.Exec(ctx, "redis-cli", "set", "k", "v")
	if err != nil || strings.TrimSpace(res.Stdout) != "OK" {
		t.Fatalf("exec: %v %+v", err, res)
	}
	if err := redis.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := probe.Run(ctx, "redis", "", redis.Port(6379, "tcp").Addr()); err != nil {
		t.Fatalf("not reachable after Restart on %s: %v", redis.Port(6379, "tcp").Addr(), err)
	}
	if err := redis.CopyTo(ctx, "/tmp/hello.txt", []byte("hi"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := redis.CopyFrom(ctx, "/tmp/hello.txt")
	if err != nil || string(b) != "hi" {
		t.Fatalf("CopyFrom = %q, %v", b, err)
	}
	logs, err := redis.Logs(ctx)
	if err != nil || !strings.Contains(logs, "Ready to accept connections") {
		t.Errorf("logs: %v\n%s", err, logs)
	}
}
