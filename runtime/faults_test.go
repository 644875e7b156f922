package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/internal/label"
	docker "github.com/ory/dockertest/v3/docker"
)

// Each fault gets a clear error naming the service and the cause, and
// leaves nothing behind. WithTimeout bounds are generous functional
// limits: the errors asserted on are the causes, not the timeout.

// upErr runs Up with a known project name and returns its error, failing
// the test when Up succeeds; then checks that nothing is left.
func upErr(t *testing.T, plan *composeplan.Plan, opts ...Option) (project string, err error) {
	t.Helper()
	project = instanceName(plan.Name)
	opts = append([]Option{WithProjectName(project), WithTimeout(2 * time.Minute)}, opts...)
	s, err := Up(context.Background(), plan, opts...)
	if err == nil {
		_ = s.Down(context.Background())
		t.Fatal("Up succeeded")
	}
	t.Cleanup(func() { assertNoneLeft(t, project) })
	return project, err
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

// servicesStarted lists the services of project whose container was
// started at least once. (Containers are created ahead of their
// dependencies, like compose does; dependents of a failure are never
// started.)
func servicesStarted(t *testing.T, project string) map[string]bool {
	t.Helper()
	e, _ := getEngine(context.Background())
	out := map[string]bool{}
	for svc := range servicesCreated(t, project) {
		list, err := e.c.ListContainers(docker.ListContainersOptions{All: true, Filters: map[string][]string{"label": {label.Project + "=" + project, label.Service + "=" + svc}}})
		if err != nil || len(list) != 1 {
			t.Fatalf("container of %s: %v %d", svc, err, len(list))
		}
		info, err := e.c.InspectContainer(list[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		out[svc] = !info.State.StartedAt.IsZero()
	}
	return out
}

// servicesCreated lists the services of project that have a container.
func servicesCreated(t *testing.T, project string) map[string]bool {
	t.Helper()
	e, _ := getEngine(context.Background())
	list, err := e.c.ListContainers(docker.ListContainersOptions{All: true, Filters: map[string][]string{"label": {label.Project + "=" + project}}})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, c := range list {
		out[c.Labels[label.Service]] = true
	}
	return out
}

// keptErr runs Up with WithKeepOnFailure, so that the test can look at what
// was created, and removes the stack afterwards.
func keptErr(t *testing.T, plan *composeplan.Plan) (project string, err error) {
	t.Helper()
	project = instanceName(plan.Name)
	var logged strings.Builder
	s, err := Up(context.Background(), plan, WithProjectName(project), WithTimeout(2*time.Minute), WithKeepOnFailure(),
		WithLogf(func(f string, a ...any) { logged.WriteString(f) }))
	if err == nil {
		_ = s.Down(context.Background())
		t.Fatal("Up succeeded")
	}
	t.Cleanup(func() {
		removeProject(t, project)
		assertNoneLeft(t, project)
	})
	return project, err
}

func TestFaultServiceExitsNonZero(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	// "crash" has a healthcheck with a budget of minutes: its exit must
	// fail the start at once, and "app", which waits for it to be
	// healthy, must never be created.
	hc := &composeplan.HealthcheckSpec{Test: []string{"CMD", "true"}, Interval: time.Minute, Retries: 3, StartPeriod: time.Minute}
	plan := &composeplan.Plan{Name: "rt-exit", Services: []composeplan.ServiceSpec{
		busybox("crash", hc, "sh", "-c", "echo about-to-crash >&2; exit 4"),
		{Name: "app", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			DependsOn: []composeplan.Dependency{{Service: "crash", Condition: "service_healthy", Required: true}}},
	}}
	// The healthcheck passes while the container runs, so make it fail
	// too: the point is the exit.
	plan.Services[0].Healthcheck.Test = []string{"CMD", "false"}
	project, err := keptErr(t, plan)
	wantAll(t, err, `service "crash"`, "exited with code 4", "about-to-crash")
	if got := servicesStarted(t, project); got["app"] || !got["crash"] {
		t.Errorf("containers started: %v; want crash only (its dependent never started)", got)
	}
}

func TestFaultFailingOneShotDependency(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	plan := &composeplan.Plan{Name: "rt-oneshot", Services: []composeplan.ServiceSpec{
		{Name: "migrate", Image: "busybox", Command: []string{"sh", "-c", "echo migration-failed >&2; exit 3"}},
		{Name: "api", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			DependsOn: []composeplan.Dependency{{Service: "migrate", Condition: "service_completed_successfully", Required: true}}},
		{Name: "worker", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			DependsOn: []composeplan.Dependency{{Service: "api", Condition: "service_started", Required: true}}},
	}}
	project, err := keptErr(t, plan)
	wantAll(t, err, `service "migrate"`, "exited with code 3", "migration-failed")
	if got := servicesStarted(t, project); got["api"] || got["worker"] || !got["migrate"] {
		t.Errorf("containers started: %v; want migrate only", got)
	}
}

func TestFaultMissingImage(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	image := "composegen-test.invalid/no-such-image:never"
	plan := &composeplan.Plan{Name: "rt-noimage", Services: []composeplan.ServiceSpec{
		{Name: "ghost", Image: image},
		{Name: "ok", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker},
	}}
	_, err := upErr(t, plan)
	wantAll(t, err, `service "ghost"`, "pull image "+image)
}

func TestFaultFailingBuild(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	dir := t.TempDir()
	df := "FROM busybox\nRUN echo step-one-ok\nRUN echo the-build-broke-here && exit 7\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	image := "composegen-test-broken-build:" + strings.TrimPrefix(instanceName(""), "composegen-")
	plan := &composeplan.Plan{Name: "rt-build", Services: []composeplan.ServiceSpec{
		{Name: "app", Image: image, Build: &composeplan.BuildSpec{Context: ".", Dockerfile: "Dockerfile"}},
	}}
	if te, err := getEngine(context.Background()); err == nil {
		removeBuildFiles(t, te.eng, image)
	}
	// Plan.Dir is relative to the generated file's directory; tests of
	// this package have none.
	_, err := upErr(t, plan, WithDir(dir))
	wantAll(t, err, `service "app"`, "build image", "the-build-broke-here", "7")
	// A failed build step leaves no container behind.
	e, _ := getEngine(context.Background())
	list, _ := e.c.ListContainers(docker.ListContainersOptions{All: true})
	for _, c := range list {
		if strings.Contains(c.Command, "the-build-broke-here") {
			t.Errorf("the failed build step's container %s was left", c.ID[:12])
			_ = e.c.RemoveContainer(docker.RemoveContainerOptions{ID: c.ID, Force: true})
		}
	}
}

func TestFaultBadBindMount(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	plan := &composeplan.Plan{Name: "rt-bind", Services: []composeplan.ServiceSpec{
		{Name: "web", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			Mounts: []composeplan.MountSpec{{Type: "bind", Source: "./testdata/no-such-dir", Target: "/data"}}},
	}}
	_, err := upErr(t, plan)
	wantAll(t, err, `service "web"`, "volumes[0]", "bind mount source", "no-such-dir", "no such file or directory")
}

func TestFaultPortNotListening(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	// busybox sleeps: nothing listens on 9999. The probe has no budget of
	// its own; the timeout ends the start and the error says why.
	plan := &composeplan.Plan{Name: "rt-port", Services: []composeplan.ServiceSpec{
		{Name: "silent", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			Ports: []composeplan.PortSpec{{Target: 9999, Protocol: "tcp"}},
			Probe: &composeplan.ProbeSpec{Protocol: "tcp", Port: 9999}},
	}}
	// 20 s, as in TestFaultDeadline: on a loaded machine Podman's start
	// call alone took 5-8 s, and the deadline then ended the start before
	// the first probe. The test runs beside the others (it only waits).
	_, err := upErr(t, plan, WithTimeout(20*time.Second))
	wantAll(t, err, `service "silent"`, "not ready", "port 9999", "nothing listens")
}

func TestFaultDeadline(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	hc := &composeplan.HealthcheckSpec{Test: []string{"CMD-SHELL", "echo still-warming-up; exit 1"}, Interval: time.Minute, Retries: 3}
	plan := &composeplan.Plan{Name: "rt-deadline", Services: []composeplan.ServiceSpec{
		busybox("slow", hc, "sh", "-c", "echo slow-booting; exec sleep 300"),
		{Name: "fast", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker},
		{Name: "after", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			DependsOn: []composeplan.Dependency{{Service: "slow", Condition: "service_healthy", Required: true}}},
	}}
	// 20 s: on a loaded machine (the parallel tests beside it) the
	// containers may take seconds to start before the first healthcheck
	// runs; the test only waits, so it runs beside the others.
	_, err := upErr(t, plan, WithTimeout(20*time.Second))
	wantAll(t, err, "deadline exceeded", "not ready", `service "slow"`, "still-warming-up", "slow-booting",
		"other services:", "\n\tafter: created, never started (waiting for its dependencies)", "\n\tfast: running, ready")
	if strings.Contains(err.Error(), `service "fast"`) || strings.Contains(err.Error(), `service "after"`) {
		t.Errorf("a ready service, or one waiting for the service that was not ready, is described in full:\n%v", err)
	}
}

func TestFaultContextCancelled(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	hc := &composeplan.HealthcheckSpec{Test: []string{"CMD-SHELL", "echo not-yet; exit 1"}, Interval: time.Minute, Retries: 3}
	plan := &composeplan.Plan{Name: "rt-cancel", Services: []composeplan.ServiceSpec{busybox("slow", hc, "sleep", "300")}}
	project := instanceName(plan.Name)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e, _ := getEngine(context.Background())
	go func() {
		// Cancel once the container runs and has been probed.
		for ctx.Err() == nil {
			list, err := e.c.ListContainers(docker.ListContainersOptions{Filters: map[string][]string{
				"label": {label.Project + "=" + project}, "status": {"running"}}})
			if err == nil && len(list) > 0 {
				// A few failed probes: the first healthcheck exec runs
				// at once, but took over a second on a loaded Podman.
				time.Sleep(3 * time.Second)
				cancel()
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	s, err := Up(ctx, plan, WithProjectName(project))
	if err == nil {
		_ = s.Down(context.Background())
		t.Fatal("Up succeeded")
	}
	wantAll(t, err, "context canceled", "not ready", `service "slow"`, "not-yet")
	assertNoneLeft(t, project)
}

func TestFaultRequiredVariableUnset(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	const name = "COMPOSEGEN_TEST_REQUIRED_TOKEN"
	os.Unsetenv(name)
	plan := &composeplan.Plan{Name: "rt-required", Services: []composeplan.ServiceSpec{
		{Name: "api", Image: "busybox", Command: []string{"sleep", "300"}, Lifecycle: composeplan.LifecycleWorker,
			Environment: []composeplan.EnvVar{{Name: "TOKEN", Value: "${" + name + ":?set it to the API token for the tests}"}}},
	}}
	_, err := upErr(t, plan)
	wantAll(t, err, `service "api"`, "environment.TOKEN", name, "set it to the API token for the tests")
	// With the variable, the same plan starts.
	s, err := Up(context.Background(), plan, WithEnv(name, "x"))
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Down(context.Background())
}

func TestFaultDockerUnreachable(t *testing.T) {
	requireDocker(t) // the parent needs nothing from Docker; skip alike
	t.Parallel()
	out, code := runChild(t, "NoDocker", "", "DOCKER_HOST=unix:///nonexistent/docker.sock", "CI=")
	if code != 0 {
		t.Fatalf("child failed:\n%s", out)
	}
}

func TestChildNoDocker(t *testing.T) {
	childMode(t, "NoDocker")
	_, err := Up(context.Background(), redisPlan("rt-nodocker"), WithTimeout(time.Minute))
	if err == nil {
		t.Fatal("Up succeeded without an engine")
	}
	wantAll(t, err, "no container engine answered", "unix:///nonexistent/docker.sock (DOCKER_HOST)", "no such socket", "DOCKER_HOST")
}
