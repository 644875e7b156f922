package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/probe"
	"github.com/composegen/composegen/runtime/internal/readiness"
)

// server is a service of a known kind: a probe on 6379 (redis protocol).
func server(name, image string) composeplan.ServiceSpec {
	return composeplan.ServiceSpec{
		Name: name, Image: image, Kind: "redis",
		Ports: []composeplan.PortSpec{{Target: 6379, Protocol: "tcp"}},
		Probe: &composeplan.ProbeSpec{Protocol: "redis", Port: 6379},
	}
}

func withHC(s composeplan.ServiceSpec, hc composeplan.HealthcheckSpec) composeplan.ServiceSpec {
	if hc.Test == nil {
		hc.Test = []string{"CMD", "check"}
	}
	s.Healthcheck = &hc
	return s
}

func dependsOn(s composeplan.ServiceSpec, dep, cond string) composeplan.ServiceSpec {
	s.DependsOn = append(s.DependsOn, composeplan.Dependency{Service: dep, Condition: cond, Required: true})
	return s
}

func wantErr(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Up succeeded, want an error containing %q", wants)
	}
	for _, w := range wants {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q:\n%v", w, err)
		}
	}
}

// The healthcheck may pass long before the server accepts connections
// (pg_isready over the unix socket during the entrypoint's init): the
// kind's probe gates readiness and every exec, so the first connection
// after Up succeeds.
func TestReadyWaitsForTheProbe(t *testing.T) {
	t.Parallel()
	const listen = 400 * time.Millisecond
	eng := newFakeEngine(t, map[string]behaviour{
		"db": {listenAfter: listen, protocol: "redis", exec: func([]string, time.Duration) int { return 0 }},
	})
	s, err := upFake(t, eng, fakePlan(withHC(server("db", "db"), composeplan.HealthcheckSpec{Interval: time.Second})))
	if err != nil {
		t.Fatal(err)
	}
	if err := probe.Run(context.Background(), "redis", "", s.Service("db").Addr(6379)); err != nil {
		t.Fatalf("first connection after Up: %v", err)
	}
	execs := eng.execTimes("db")
	if len(execs) == 0 {
		t.Fatal("the healthcheck never ran")
	}
	for _, e := range execs {
		if e < listen {
			t.Errorf("healthcheck exec'd at %s, before the server listened (%s)", e, listen)
		}
	}
}

// An exec before the server is up breaks some servers (RabbitMQ): none may
// run before the probe passes.
func TestNoExecBeforeTheProbe(t *testing.T) {
	t.Parallel()
	eng := newFakeEngine(t, map[string]behaviour{
		"rabbit": {listenAfter: 300 * time.Millisecond, protocol: "redis", breakIfExecBefore: 300 * time.Millisecond},
	})
	if _, err := upFake(t, eng, fakePlan(withHC(server("rabbitmq", "rabbit"), composeplan.HealthcheckSpec{Interval: 5 * time.Second}))); err != nil {
		t.Fatal(err)
	}
}

// While the probe fails, no exec runs, so nothing says how long Docker's
// own run of the healthcheck would take; on a loaded host it takes up to
// its timeout, and Docker's schedule stretches by as much. Each probe
// failure is charged the timeout: a server that answers within
// retries × (interval + timeout) is ready, not unhealthy (at 20 stacks on
// 2 cores, PostgreSQL answered after Docker's fast-run budget, while every
// exec took its whole 3 s timeout); one that never answers still fails,
// after that budget.
func TestProbeFailuresCountDockersLongestRuns(t *testing.T) {
	t.Parallel()
	hc := composeplan.HealthcheckSpec{Interval: 200 * time.Millisecond, Timeout: 300 * time.Millisecond, Retries: 3}
	eng := newFakeEngine(t, map[string]behaviour{
		"late":  {listenAfter: 1100 * time.Millisecond, protocol: "redis", exec: func([]string, time.Duration) int { return 0 }},
		"never": {listenAfter: time.Hour, protocol: "redis", exec: func([]string, time.Duration) int { return 0 }},
	})
	// Docker with instant runs: unhealthy at 600ms; with 300ms runs: 1.5s.
	if _, err := upFake(t, eng, fakePlan(withHC(server("db", "late"), hc))); err != nil {
		t.Fatalf("a server that answered within Docker's longest budget: %v", err)
	}
	start := time.Now()
	_, err := upFake(t, eng, fakePlan(withHC(server("db", "never"), hc)))
	wantErr(t, err, `service "db": unhealthy after`, "each run lasting up to its timeout", "redis probe of port 6379")
	if d := time.Since(start); d < 1500*time.Millisecond || d > 10*time.Second {
		t.Errorf("unhealthy after %s; want Docker's longest budget, 1.5s", d)
	}
}

// A healthcheck without a probe starts gently: the first exec after a
// short delay, then backing off, never back to back.
func TestExecsStartGently(t *testing.T) {
	t.Parallel()
	eng := newFakeEngine(t, map[string]behaviour{
		"app": {exec: func(_ []string, since time.Duration) int {
			if since < 1500*time.Millisecond {
				return 1
			}
			return 0
		}},
	})
	app := withHC(composeplan.ServiceSpec{Name: "app", Image: "app"}, composeplan.HealthcheckSpec{Interval: 10 * time.Second, Retries: 10})
	if _, err := upFake(t, eng, fakePlan(app)); err != nil {
		t.Fatal(err)
	}
	execs := eng.execTimes("app")
	if len(execs) < 3 || len(execs) > 8 {
		t.Fatalf("%d execs in 1.5s: %v", len(execs), execs)
	}
	if execs[0] < readiness.DefaultCadence.ExecFirst {
		t.Errorf("first exec at %s, before %s", execs[0], readiness.DefaultCadence.ExecFirst)
	}
	for i := 1; i < len(execs); i++ {
		if gap := execs[i] - execs[i-1]; gap < readiness.DefaultCadence.ExecFirst-20*time.Millisecond {
			t.Errorf("execs %d and %d only %s apart: %v", i-1, i, gap, execs)
		}
	}
}

// A crash-looping server with a restart policy fails the start as soon as
// it restarts, naming it, instead of counting as ready or completed.
func TestCrashLoopFailsFast(t *testing.T) {
	t.Parallel()
	for _, hc := range []bool{false, true} {
		t.Run(fmt.Sprintf("healthcheck=%v", hc), func(t *testing.T) {
			eng := newFakeEngine(t, map[string]behaviour{"crash": {exitAfter: 100 * time.Millisecond, exitCode: 0}})
			svc := server("cache", "crash")
			svc.Restart = "unless-stopped"
			if hc {
				svc = withHC(svc, composeplan.HealthcheckSpec{Interval: time.Second})
			}
			start := time.Now()
			_, err := upFake(t, eng, fakePlan(svc), WithTimeout(time.Minute))
			wantErr(t, err, `service "cache"`, "restarted", "unless-stopped", "last logs")
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("failed after %s; want it as soon as the restart is seen", d)
			}
		})
	}
}

// A service with a healthcheck that exits 0 is not completed: its
// service_healthy dependents fail to start, with its exit named, as compose
// says "dependency failed to start".
func TestHealthcheckedExitFailsDependents(t *testing.T) {
	t.Parallel()
	eng := newFakeEngine(t, map[string]behaviour{
		"db":  {exitAfter: 100 * time.Millisecond},
		"app": {listenAfter: time.Millisecond, protocol: "redis"},
	})
	db := withHC(composeplan.ServiceSpec{Name: "db", Image: "db"}, composeplan.HealthcheckSpec{Interval: time.Second})
	app := dependsOn(server("app", "app"), "db", "service_healthy")
	_, err := upFake(t, eng, fakePlan(app, db))
	wantErr(t, err, `service "db": exited with code 0`, "healthy")
	if eng.resources(map[string]string{label.Service: "app"}) > 0 && len(eng.execTimes("app")) > 0 {
		t.Error("app was started")
	}
}

// A one-shot (no healthcheck, no kind) that exits 0 completes, and what
// waits for service_completed_successfully starts; a failing one fails the
// start and keeps its dependents from starting.
func TestOneShots(t *testing.T) {
	t.Parallel()
	for _, code := range []int{0, 3} {
		t.Run(fmt.Sprintf("exit %d", code), func(t *testing.T) {
			eng := newFakeEngine(t, map[string]behaviour{
				"migrate": {exitAfter: 150 * time.Millisecond, exitCode: code},
				"api":     {listenAfter: 10 * time.Millisecond, protocol: "redis"},
			})
			migrate := composeplan.ServiceSpec{Name: "migrate", Image: "migrate"}
			api := dependsOn(server("api", "api"), "migrate", "service_completed_successfully")
			s, err := upFake(t, eng, fakePlan(api, migrate))
			if code == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if !s.replica("migrate").isCompleted() {
					t.Error("migrate not completed")
				}
				return
			}
			wantErr(t, err, `service "migrate": exited with code 3`, "last logs", "other services:\n\tapi: created, never started: its dependency \"migrate\" failed")
			if s := startedServices(eng); s["api"] {
				t.Error("api was started")
			}
		})
	}
}

// startedServices returns the services whose containers ran.
func startedServices(eng *fakeEngine) map[string]bool {
	eng.mu.Lock()
	defer eng.mu.Unlock()
	out := map[string]bool{}
	for _, c := range eng.byID {
		if c.run > 0 {
			out[c.spec.Service] = true
		}
	}
	return out
}

// An exec that the engine reports as successful while the container
// restarted under it is not a passing healthcheck.
func TestExecDuringARestartIsNotHealthy(t *testing.T) {
	t.Parallel()
	eng := newFakeEngine(t, map[string]behaviour{
		"flaky": {exitAfter: 150 * time.Millisecond, exitCode: 1, exec: func([]string, time.Duration) int { return 0 }},
	})
	svc := withHC(composeplan.ServiceSpec{Name: "flaky", Image: "flaky", Restart: "always"}, composeplan.HealthcheckSpec{Interval: time.Second})
	_, err := upFake(t, eng, fakePlan(svc))
	wantErr(t, err, `service "flaky"`, "restarted")
}

// An unhealthy service fails after Docker's budget, not before.
func TestUnhealthyAfterDockersBudget(t *testing.T) {
	t.Parallel()
	eng := newFakeEngine(t, map[string]behaviour{"sick": {exec: func([]string, time.Duration) int { return 1 }}})
	svc := withHC(composeplan.ServiceSpec{Name: "sick", Image: "sick"}, composeplan.HealthcheckSpec{Interval: 200 * time.Millisecond, Retries: 3, StartPeriod: 300 * time.Millisecond})
	start := time.Now()
	_, err := upFake(t, eng, fakePlan(svc))
	wantErr(t, err, `service "sick": unhealthy after`, "check exited 1 (no output)")
	// Docker: runs at 200, 400, 600 (in the start period, not counted),
	// 800, 1000: unhealthy at the third counted failure.
	if d := time.Since(start); d < 800*time.Millisecond || d > 5*time.Second {
		t.Errorf("unhealthy after %s; Docker's budget ends at 0.8-1s", d)
	}
}

// No secret appears in an error, the diagnostics or the timeline: not the
// value of a password variable, not a password argument.
func TestSecretsMasked(t *testing.T) {
	t.Parallel()
	const secret = "TopSecret-4711"
	eng := newFakeEngine(t, map[string]behaviour{"cache": {exec: func([]string, time.Duration) int { return 1 }}})
	svc := withHC(composeplan.ServiceSpec{
		Name: "cache", Image: "cache",
		Command:     []string{"redis-server", "--requirepass", "${REDIS_PASSWORD}"},
		Environment: []composeplan.EnvVar{{Name: "REDIS_PASSWORD", Value: "${REDIS_PASSWORD}"}},
	}, composeplan.HealthcheckSpec{Test: []string{"CMD", "redis-cli", "-a", "${REDIS_PASSWORD}", "ping"}, Interval: 100 * time.Millisecond, Retries: 2})
	literal := withHC(composeplan.ServiceSpec{Name: "db", Image: "cache"},
		composeplan.HealthcheckSpec{Test: []string{"CMD-SHELL", "mysqladmin ping -uroot -pLiteral-9876"}, Interval: 100 * time.Millisecond, Retries: 2})
	_, err := upFake(t, eng, fakePlan(svc, literal), WithEnv("REDIS_PASSWORD", secret), WithVerbose())
	if err == nil {
		t.Fatal("Up succeeded")
	}
	for _, s := range []string{secret, "Literal-9876"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error shows %q:\n%v", s, err)
		}
	}
	if !strings.Contains(err.Error(), "${REDIS_PASSWORD}") && !strings.Contains(err.Error(), "-p****") {
		t.Errorf("error shows neither the template nor a mask:\n%v", err)
	}
}

// Down is bounded even when the engine stalls, and says so.
func TestDownBounded(t *testing.T) {
	old := downTimeout
	downTimeout = 300 * time.Millisecond
	t.Cleanup(func() { downTimeout = old })
	eng := newFakeEngine(t, map[string]behaviour{"api": {listenAfter: time.Millisecond, protocol: "redis"}})
	s, err := upFake(t, eng, fakePlan(server("api", "api")))
	if err != nil {
		t.Fatal(err)
	}
	eng.removeDelay = time.Hour
	start := time.Now()
	err = s.Down(context.Background())
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Down took %s", d)
	}
	wantErr(t, err, "gave up")
	eng.removeDelay = 0
}

// Replicas: N containers named <project>-<service>-N, each with its own
// ports, replica 1 first; WithScale overrides the count.
func TestReplicas(t *testing.T) {
	eng := newFakeEngine(t, map[string]behaviour{"web": {listenAfter: time.Millisecond, protocol: "redis"}})
	web := server("web", "web")
	web.Replicas = 3
	for _, tt := range []struct {
		opts []Option
		want int
	}{{nil, 3}, {[]Option{WithScale("web", 2)}, 2}} {
		s, err := upFake(t, eng, fakePlan(web), tt.opts...)
		if err != nil {
			t.Fatal(err)
		}
		reps := s.Service("web").Replicas()
		if len(reps) != tt.want {
			t.Fatalf("%d replicas, want %d", len(reps), tt.want)
		}
		seen := map[string]bool{}
		for i, r := range reps {
			if r.Replica() != i+1 || r.ContainerName() != fmt.Sprintf("%s-web-%d", s.ProjectName(), i+1) {
				t.Errorf("replica %d: number %d, name %s", i+1, r.Replica(), r.ContainerName())
			}
			addr := r.Addr(6379)
			if seen[addr] {
				t.Errorf("replicas share %s", addr)
			}
			seen[addr] = true
			if c, err := net.Dial("tcp", addr); err != nil {
				t.Error(err)
			} else {
				c.Close()
			}
		}
		if reps[0] != s.Service("web") {
			t.Error("Service is not replica 1")
		}
	}
	_, err := upFake(t, eng, fakePlan(web), WithScale("nope", 2))
	wantErr(t, err, `WithScale: no service "nope"`)
}

// The start's timeout explains what was not ready, with its last probes.
func TestTimeoutExplains(t *testing.T) {
	t.Parallel()
	eng := newFakeEngine(t, map[string]behaviour{"never": {}})
	_, err := upFake(t, eng, fakePlan(server("stuck", "never")), WithTimeout(500*time.Millisecond))
	wantErr(t, err, "deadline exceeded", `service "stuck": running`, "redis probe of port 6379", "last logs")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(err, DeadlineExceeded) = false for %v", err)
	}
}

// wait sleeps d, or less when ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// slowSetupEngine is a fake engine whose every exec first waits setup for
// its connection, as an exec over ssh:// waits for a session to log in.
type slowSetupEngine struct {
	*fakeEngine
	setup time.Duration
}

func (e slowSetupEngine) Exec(ctx context.Context, id string, cmd []string, stdout, stderr io.Writer) (int, error) {
	if err := wait(ctx, e.setup); err != nil {
		return -1, err
	}
	return e.fakeEngine.Exec(ctx, id, cmd, stdout, stderr)
}

// ExecTimeout starts the command's clock after the set-up.
func (e slowSetupEngine) ExecTimeout(ctx context.Context, id string, cmd []string, timeout time.Duration, stdout, stderr io.Writer) (int, error) {
	if err := wait(ctx, e.setup); err != nil {
		return -1, err
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return e.fakeEngine.Exec(cctx, id, cmd, stdout, stderr)
}

// A healthcheck's timeout bounds its command, not the engine's set-up of
// the exec: over ssh:// an exec waits seconds for a session, which used
// to make every healthcheck "not finish within its timeout (3s)".
func TestHealthcheckTimeoutExcludesExecSetup(t *testing.T) {
	fe := newFakeEngine(t, map[string]behaviour{"app": {exec: func([]string, time.Duration) int { return 0 }}})
	eng := slowSetupEngine{fakeEngine: fe, setup: 300 * time.Millisecond}
	t.Setenv("COMPOSEGEN_NO_WATCHER", "1")
	name := "fake-slow-setup-" + strconv.Itoa(int(fakeSeq.Add(1)))
	engine.Register(name, func(context.Context) (engine.Engine, error) { return eng, nil })
	app := withHC(composeplan.ServiceSpec{Name: "app", Image: "app"}, composeplan.HealthcheckSpec{Interval: time.Second, Timeout: 100 * time.Millisecond, Retries: 3})
	s, err := Up(context.Background(), fakePlan(app), WithEngine(name), WithDir(t.TempDir()), WithLogf(t.Logf))
	if s != nil {
		t.Cleanup(func() { _ = s.Down(context.Background()) })
	}
	if err != nil {
		t.Fatalf("Up with execs that take 300ms to set up and a 100ms healthcheck timeout: %v", err)
	}
}

// A wait for a container's exit that fails (Podman's /events stream ended
// early) is retried: the one-shot's exit still reaches its dependent
// (service_completed_successfully), which starts, instead of waiting until
// the timeout.
func TestExitSeenAfterTheWaitBreaks(t *testing.T) {
	t.Parallel()
	eng := newFakeEngine(t, map[string]behaviour{
		// Long enough for all 3 broken waits (retried after 50, 100 and
		// 200 ms) to hit the running migration, even on a loaded machine.
		"migrate": {exitAfter: 1500 * time.Millisecond},
		"seed":    {exitAfter: 100 * time.Millisecond},
	})
	eng.waitBreaks = 3
	plan := fakePlan(
		composeplan.ServiceSpec{Name: "migrate", Image: "migrate"},
		composeplan.ServiceSpec{Name: "seed", Image: "seed",
			DependsOn: []composeplan.Dependency{{Service: "migrate", Condition: "service_completed_successfully", Required: true}}},
	)
	s, err := upFake(t, eng, plan, WithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !closed(s.replica("seed").startedCh) {
		t.Error("seed did not start")
	}
	eng.mu.Lock()
	left := eng.waitBreaks
	eng.mu.Unlock()
	if left != 0 {
		t.Errorf("%d of the 3 broken waits left: the test did not break any wait", left)
	}
}

// The generic tcp probe takes a connection that stays open as a server,
// and so was a docker-proxy slow to close a connection that nothing in the
// container accepted (under load): on a local engine the container's port
// must also listen. The fake engine's ports hold every connection, as such
// a proxy does; its containers' sockets are this process's.
func TestTCPProbeNeedsTheContainerToListen(t *testing.T) {
	t.Parallel()
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freePort := free.Addr().(*net.TCPAddr).Port
	free.Close()
	svc := func(port int) composeplan.ServiceSpec {
		return composeplan.ServiceSpec{Name: "app", Image: "app", Lifecycle: composeplan.LifecycleWorker,
			Ports: []composeplan.PortSpec{{Target: port, Protocol: "tcp"}},
			Probe: &composeplan.ProbeSpec{Protocol: "tcp", Port: port}}
	}
	scripts := map[string]behaviour{"app": {listenAfter: time.Millisecond, protocol: "tcp"}}

	eng := newFakeEngine(t, scripts)
	eng.localPid = os.Getpid()
	_, err = upFake(t, eng, fakePlan(svc(freePort)), WithTimeout(2*time.Second))
	if err == nil || !strings.Contains(err.Error(), "nothing listens on it in the container") {
		t.Errorf("port %d, on which nothing listens: Up = %v, want not ready because nothing listens", freePort, err)
	}

	eng = newFakeEngine(t, scripts)
	eng.localPid = os.Getpid()
	if _, err := upFake(t, eng, fakePlan(svc(held.Addr().(*net.TCPAddr).Port)), WithTimeout(10*time.Second)); err != nil {
		t.Errorf("port that listens: %v", err)
	}

	eng = newFakeEngine(t, scripts) // a remote engine: the probe alone decides
	if _, err := upFake(t, eng, fakePlan(svc(freePort)), WithTimeout(10*time.Second)); err != nil {
		t.Errorf("remote engine: %v", err)
	}
}
