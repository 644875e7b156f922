package runtime

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
)

// Service control against real containers. TestServiceControl in
// health_test.go covers a Redis round trip through Exec, Restart, CopyTo
// and Logs; these cover each operation's contract.

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestControlExec(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	s := Start(t, &composeplan.Plan{Name: "rt-exec", Services: []composeplan.ServiceSpec{sleeper("app")}})
	app := s.Service("app")
	ctx := context.Background()
	res, err := app.Exec(ctx, "sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 7")
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 7 || res.Stdout != "to-stdout\n" || res.Stderr != "to-stderr\n" {
		t.Errorf("Exec = %+v", res)
	}
	// No shell: arguments are passed as they are.
	res, err = app.Exec(ctx, "echo", "$HOME", "a b")
	if err != nil || res.ExitCode != 0 || res.Stdout != "$HOME a b\n" {
		t.Errorf("Exec without a shell = %+v, %v", res, err)
	}
	// A command that does not exist is an exit code, as with docker exec.
	res, err = app.Exec(ctx, "/no/such/binary")
	if err == nil && res.ExitCode == 0 {
		t.Errorf("missing binary: %+v", res)
	}
	// A cancelled context ends a long exec.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if _, err := app.Exec(cctx, "sleep", "30"); err == nil {
		t.Error("Exec outlived its context")
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("cancelled Exec took %s", d)
	}
}

func TestControlLogs(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	s := Start(t, &composeplan.Plan{Name: "rt-logs", Services: []composeplan.ServiceSpec{{
		Name: "app", Image: "busybox", Command: []string{"sh", "-c", "echo boot-out; echo boot-err >&2; exec sleep 300"}, Lifecycle: composeplan.LifecycleWorker,
	}}})
	app := s.Service("app")
	ctx := context.Background()
	waitUntil(t, "boot logs", func() bool {
		logs, _ := app.Logs(ctx)
		return strings.Contains(logs, "boot-out") && strings.Contains(logs, "boot-err")
	})
	fctx, cancel := context.WithCancel(ctx)
	var buf syncBuffer
	done := make(chan error, 1)
	go func() { done <- app.FollowLogs(fctx, &buf) }()
	waitUntil(t, "followed boot logs", func() bool { return strings.Contains(buf.String(), "boot-out") })
	// Write to the main process's stdout from an exec: it is followed.
	sh(t, app, "echo followed-later > /proc/1/fd/1")
	waitUntil(t, "a line written after FollowLogs started", func() bool { return strings.Contains(buf.String(), "followed-later") })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("FollowLogs after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("FollowLogs did not return after its context was cancelled")
	}
	// FollowLogs also returns when the container stops.
	done2 := make(chan error, 1)
	go func() { done2 <- app.FollowLogs(ctx, &bytes.Buffer{}) }()
	if err := app.Kill(ctx, ""); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done2:
	case <-time.After(10 * time.Second):
		t.Fatal("FollowLogs did not return when the container stopped")
	}
}

// readyPlan has a service whose healthcheck passes 300ms after each start
// (its marker lives in a tmpfs, emptied by every stop), with an HTTP port,
// and a dependent that declares restart: true.
func readyPlan() *composeplan.Plan {
	yes := true // init: the shell and httpd ignore SIGTERM as pid 1
	return &composeplan.Plan{Name: "rt-ctl", Services: []composeplan.ServiceSpec{
		{
			Name: "web", Image: "busybox", Init: &yes,
			Command: []string{"sh", "-c", "mkdir -p /www && echo hello > /www/index.html && sleep 0.3 && touch /run/st/ready && exec httpd -f -p 8080 -h /www"},
			Tmpfs:   []string{"/run/st"},
			Ports:   []composeplan.PortSpec{{Target: 8080, Protocol: "tcp"}},
			Healthcheck: &composeplan.HealthcheckSpec{
				Test: []string{"CMD", "test", "-f", "/run/st/ready"}, Interval: 5 * time.Second, Retries: 5,
			},
		},
		{
			Name: "client", Image: "busybox", Tmpfs: []string{"/run/st"}, Init: &yes, Lifecycle: composeplan.LifecycleWorker,
			Command:   []string{"sh", "-c", "date +%s%N > /run/st/started; exec sleep 300"},
			DependsOn: []composeplan.Dependency{{Service: "web", Condition: "service_healthy", Required: true, Restart: true}},
		},
	}}
}

func httpGet(t *testing.T, svc *Service) string {
	t.Helper()
	return dialReadHTTP(t, svc.Port(8080, "tcp").Addr())
}

func dialReadHTTP(t *testing.T, addr string) string {
	t.Helper()
	out := dialRead(t, "tcp", addr, "GET / HTTP/1.0\r\n\r\n")
	return out
}

func TestControlStopStartRestart(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	s := Start(t, readyPlan())
	web, client := s.Service("web"), s.Service("client")
	ctx := context.Background()
	if got := httpGet(t, web); !strings.Contains(got, "200 OK") {
		t.Fatalf("GET before stop: %q", got)
	}
	clientStarted := sh(t, client, "cat /run/st/started")

	if err := web.Stop(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := web.Exec(ctx, "true"); err == nil {
		t.Error("Exec in a stopped container succeeded")
	}
	if err := web.Stop(ctx, 0); err != nil {
		t.Errorf("Stop of a stopped container: %v", err)
	}
	// Start awaits readiness again: the healthcheck's marker exists as soon
	// as Start returns, and the (possibly new) host port answers.
	if err := web.Start(ctx); err != nil {
		t.Fatal(err)
	}
	sh(t, web, "test -f /run/st/ready")
	if got := httpGet(t, web); !strings.Contains(got, "200 OK") {
		t.Errorf("GET after Start: %q", got)
	}
	if err := web.Start(ctx); err != nil {
		t.Errorf("Start of a running container: %v", err)
	}

	// Restart: the same, and the dependent with restart: true is restarted
	// after web is ready again.
	if err := web.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	sh(t, web, "test -f /run/st/ready")
	if got := httpGet(t, web); !strings.Contains(got, "200 OK") {
		t.Errorf("GET after Restart: %q", got)
	}
	if again := sh(t, client, "cat /run/st/started"); again == clientStarted {
		t.Error("depends_on restart: true: client was not restarted with web")
	}
}

func TestControlPauseKillCopy(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	s := Start(t, &composeplan.Plan{Name: "rt-pause", Services: []composeplan.ServiceSpec{{
		Name: "app", Image: "busybox", Lifecycle: composeplan.LifecycleWorker,
		Command: []string{"sh", "-c", "trap 'echo got-hup' HUP; while true; do sleep 0.1; done"},
	}}})
	app := s.Service("app")
	ctx := context.Background()
	c := testClient(t)

	if err := app.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if info, err := c.InspectContainer(app.ContainerID()); err != nil || !info.State.Paused {
		t.Errorf("Pause: state %+v, %v", info.State, err)
	}
	if _, err := app.Exec(ctx, "true"); err == nil {
		t.Error("Exec in a paused container succeeded")
	}
	if err := app.Unpause(ctx); err != nil {
		t.Fatal(err)
	}
	sh(t, app, "true")

	// Kill with a signal the process handles: it keeps running.
	if err := app.Kill(ctx, "SIGHUP"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the HUP handler's output", func() bool {
		logs, _ := app.Logs(ctx)
		return strings.Contains(logs, "got-hup")
	})
	sh(t, app, "true")
	if err := app.Kill(ctx, "SIGNOPE"); err == nil || !strings.Contains(err.Error(), "unknown signal") {
		t.Errorf("Kill with a bad signal: %v", err)
	}

	// CopyTo / CopyFrom, with the file mode kept.
	if err := app.CopyTo(ctx, "/etc/app.conf", []byte("key=value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := sh(t, app, "stat -c '%a %s' /etc/app.conf && cat /etc/app.conf"); got != "600 10\nkey=value" {
		t.Errorf("CopyTo: %q", got)
	}
	// Missing parent directories are created; existing ones keep their
	// mode (/tmp stays 1777).
	if err := app.CopyTo(ctx, "/tmp/new/deeper/file.txt", []byte("deep"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got := sh(t, app, "stat -c '%a %n' /tmp /tmp/new /tmp/new/deeper /tmp/new/deeper/file.txt && cat /tmp/new/deeper/file.txt"); got != "1777 /tmp\n755 /tmp/new\n755 /tmp/new/deeper\n640 /tmp/new/deeper/file.txt\ndeep" {
		t.Errorf("CopyTo with missing parents: %q", got)
	}
	if err := app.CopyTo(ctx, "/opt/fresh/x", []byte("x"), 0o644); err != nil {
		t.Errorf("CopyTo under a missing top-level directory: %v", err)
	} else if got := sh(t, app, "cat /opt/fresh/x"); got != "x" {
		t.Errorf("CopyTo /opt/fresh/x: %q", got)
	}
	sh(t, app, "printf 'made inside' > /tmp/out.txt")
	if b, err := app.CopyFrom(ctx, "/tmp/out.txt"); err != nil || string(b) != "made inside" {
		t.Errorf("CopyFrom = %q, %v", b, err)
	}
	if _, err := app.CopyFrom(ctx, "/no/such/file"); err == nil || !strings.Contains(err.Error(), "/no/such/file") {
		t.Errorf("CopyFrom of a missing file: %v", err)
	}

	// Kill without a signal: SIGKILL; files can still be copied out.
	if err := app.Kill(ctx, ""); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the container to exit", func() bool {
		info, err := c.InspectContainer(app.ContainerID())
		return err == nil && !info.State.Running
	})
	if info, _ := c.InspectContainer(app.ContainerID()); info.State.ExitCode != 137 {
		t.Errorf("exit code after Kill = %d, want 137", info.State.ExitCode)
	}
	if b, err := app.CopyFrom(ctx, "/tmp/out.txt"); err != nil || string(b) != "made inside" {
		t.Errorf("CopyFrom a stopped container = %q, %v", b, err)
	}
}
