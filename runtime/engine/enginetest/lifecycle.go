package enginetest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

func init() {
	register("Info", "", testInfo)
	register("CreateStartInspect", "", testCreateStartInspect)
	register("PublishedPort", "", testPublishedPort)
	register("ConfigApplied", "", testConfigApplied)
	register("WaitExitCodes", "", testWaitExitCodes)
	register("WaitCreated", "", testWaitCreated)
	register("StopGrace", "", testStopGrace)
	register("StopKillsAfterTimeout", "", testStopKills)
	register("StopSignal", Signals, testStopSignal)
	register("KillSignal", Signals, testKillSignal)
	register("KillDefault", "", testKillDefault)
	register("PauseUnpause", Pause, testPause)
	register("RestartPolicy", RestartPolicy, testRestartPolicy)
	register("NotFound", "", testNotFound)
}

func testInfo(ctx context.Context, t *testing.T, s *suite) {
	i := s.eng.Info()
	switch {
	case i.Name == "" || i.Endpoint == "" || i.From == "" || i.Version == "":
		t.Errorf("Info lacks name, endpoint, origin or version: %+v", i)
	case i.DialHost == "":
		t.Errorf("Info.DialHost is empty: %+v", i)
	case i.PublishIP != "" && net.ParseIP(i.PublishIP) == nil:
		t.Errorf("Info.PublishIP %q is not an IP address", i.PublishIP)
	}
}

func testCreateStartInspect(ctx context.Context, t *testing.T, s *suite) {
	id := s.create(ctx, t, s.spec(t, "", "sleep", "300"))
	st, err := s.eng.Inspect(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "created" || st.Running || st.Pid != 0 {
		t.Errorf("created container: status %q, running %v, pid %d; want created, not running, no pid", st.Status, st.Running, st.Pid)
	}
	before := time.Now()
	if err := s.eng.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := s.eng.Start(ctx, id); err != nil {
		t.Errorf("Start of a running container: %v; want nil", err)
	}
	st = s.waitRunning(ctx, t, id)
	if st.Status != "running" || st.Paused || st.Restarting || st.StartedAt.IsZero() {
		t.Errorf("running container: %+v", st)
	}
	if d := st.StartedAt.Sub(before); d < -time.Minute || d > time.Minute {
		t.Errorf("StartedAt %v is %v away from the start", st.StartedAt, d)
	}
	if s.cfg.without[Pid] {
		if st.Pid != 0 {
			t.Errorf("running container has pid %d; want 0 from an engine that does not report pids (Without(Pid))", st.Pid)
		}
	} else if st.Pid <= 0 {
		t.Errorf("running container has pid %d", st.Pid)
	} else if s.eng.Info().Local {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", st.Pid)); err != nil {
			t.Errorf("Info().Local, but pid %d is not a process of this machine: %v", st.Pid, err)
		}
	}
}

// httpdSpec serves "hello from <name>" over HTTP on port 8080.
func (s *suite) httpdSpec(t *testing.T, suffix string) engine.ContainerSpec {
	return s.spec(t, suffix, "sh", "-c",
		`mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www`)
}

func testPublishedPort(ctx context.Context, t *testing.T, s *suite) {
	spec := s.httpdSpec(t, "")
	spec.Ports = []engine.PortBinding{{Port: 8080, Protocol: "tcp", HostIP: s.eng.Info().PublishIP}}
	id := s.run(ctx, t, spec)
	st := s.waitRunning(ctx, t, id)
	hp, ok := st.Ports[engine.PortKey{Port: 8080, Protocol: "tcp"}]
	if !ok || hp.Port <= 0 {
		t.Fatalf("port 8080/tcp is not published: %+v", st.Ports)
	}
	if ip := s.eng.Info().PublishIP; ip != "" && hp.IP != ip {
		t.Errorf("port bound on %q; want Info().PublishIP %q", hp.IP, ip)
	}
	addr := net.JoinHostPort(s.eng.Info().DialHost, strconv.Itoa(hp.Port))
	var body string
	if !eventually(ctx, 30*time.Second, func() bool { body = httpGet(ctx, "http://"+addr+"/"); return strings.HasPrefix(body, "hello from") }) {
		t.Errorf("GET http://%s/ = %q; want the container's page (DialHost must reach published ports)", addr, body)
	}
}

func httpGet(ctx context.Context, url string) string {
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return string(b)
}

func testConfigApplied(ctx context.Context, t *testing.T, s *suite) {
	spec := s.spec(t, "")
	spec.Entrypoint = []string{"sh", "-c", `echo "$0|$1|$FOO|$(pwd)|$(id -u)|$(hostname)"`}
	spec.Cmd = []string{"first", "second"}
	spec.Env = []string{"FOO=bar baz"}
	spec.WorkingDir = "/tmp"
	spec.User = "1234"
	spec.Hostname = "confighost"
	id := s.run(ctx, t, spec)
	if _, err := s.eng.Wait(ctx, id); err != nil {
		t.Fatal(err)
	}
	out, _ := s.logs(ctx, t, id, engine.LogOptions{})
	if want := "first|second|bar baz|/tmp|1234|confighost\n"; out != want {
		t.Errorf("output %q; want %q (entrypoint, cmd, env, working dir, user, hostname)", out, want)
	}
}

func testWaitExitCodes(ctx context.Context, t *testing.T, s *suite) {
	for _, code := range []int{0, 3} {
		id := s.run(ctx, t, s.spec(t, strconv.Itoa(code), "sh", "-c", fmt.Sprintf("sleep 1; exit %d", code)))
		got, err := s.eng.Wait(ctx, id)
		if err != nil || got != code {
			t.Errorf("Wait = %d, %v; want %d", got, err, code)
		}
		st, err := s.eng.Inspect(ctx, id)
		if err != nil || st.Status != "exited" || st.Running || st.ExitCode != code || st.FinishedAt.Before(st.StartedAt) {
			t.Errorf("exited container: %+v, %v; want exited with %d", st, err, code)
		}
		// Again, on the exited container: at once.
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		got, err = s.eng.Wait(wctx, id)
		cancel()
		if err != nil || got != code {
			t.Errorf("Wait on the exited container = %d, %v; want %d at once", got, err, code)
		}
	}
}

func testWaitCreated(ctx context.Context, t *testing.T, s *suite) {
	id := s.create(ctx, t, s.spec(t, "", "sleep", "300"))
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := s.eng.Wait(wctx, id); err != nil {
		t.Errorf("Wait on a created container: %v; want it to return at once", err)
	}
}

// trapSpec runs a shell that reports the signals it gets and exits 0 on
// sig; the first line of output says it is ready.
func (s *suite) trapSpec(t *testing.T, sig string) engine.ContainerSpec {
	return s.spec(t, "", "sh", "-c",
		fmt.Sprintf(`trap 'echo got-%s; exit 0' %s; trap 'echo got-hup' HUP; echo ready; while :; do sleep 0.1; done`, sig, sig))
}

func (s *suite) waitOutput(ctx context.Context, t *testing.T, id, want string) {
	t.Helper()
	var out string
	if !eventually(ctx, 30*time.Second, func() bool { out, _ = s.logs(ctx, t, id, engine.LogOptions{}); return strings.Contains(out, want) }) {
		t.Fatalf("output %q does not contain %q after 30s", out, want)
	}
}

func testStopGrace(ctx context.Context, t *testing.T, s *suite) {
	id := s.run(ctx, t, s.trapSpec(t, "TERM"))
	s.waitOutput(ctx, t, id, "ready")
	start := time.Now()
	if err := s.eng.Stop(ctx, id, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Stop took %v for a container that exits on SIGTERM", d)
	}
	st, err := s.eng.Inspect(ctx, id)
	if err != nil || st.Running || st.ExitCode != 0 {
		t.Errorf("after Stop: %+v, %v; want exited with 0 (its SIGTERM handler)", st, err)
	}
	s.waitOutput(ctx, t, id, "got-TERM")
	if err := s.eng.Stop(ctx, id, time.Second); err != nil {
		t.Errorf("Stop of a stopped container: %v; want nil", err)
	}
}

func testStopKills(ctx context.Context, t *testing.T, s *suite) {
	id := s.run(ctx, t, s.spec(t, "", "sh", "-c", `trap '' TERM; echo ready; while :; do sleep 0.1; done`))
	s.waitOutput(ctx, t, id, "ready")
	start := time.Now()
	if err := s.eng.Stop(ctx, id, time.Second); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	st, err := s.eng.Inspect(ctx, id)
	if err != nil || st.Running || st.ExitCode != 137 {
		t.Errorf("after Stop: %+v, %v; want killed (exit code 137)", st, err)
	}
	if d < 900*time.Millisecond || d > 15*time.Second {
		t.Errorf("Stop with a 1s grace period took %v", d)
	}
}

func testStopSignal(ctx context.Context, t *testing.T, s *suite) {
	spec := s.trapSpec(t, "INT")
	spec.StopSignal = "SIGINT"
	id := s.run(ctx, t, spec)
	s.waitOutput(ctx, t, id, "ready")
	if err := s.eng.Stop(ctx, id, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	s.waitOutput(ctx, t, id, "got-INT")
}

func testKillSignal(ctx context.Context, t *testing.T, s *suite) {
	id := s.run(ctx, t, s.trapSpec(t, "TERM"))
	s.waitOutput(ctx, t, id, "ready")
	if err := s.eng.Kill(ctx, id, "SIGHUP"); err != nil {
		t.Fatal(err)
	}
	s.waitOutput(ctx, t, id, "got-hup")
	if st, err := s.eng.Inspect(ctx, id); err != nil || !st.Running {
		t.Errorf("after SIGHUP, which it handles: %+v, %v; want it running", st, err)
	}
}

func testKillDefault(ctx context.Context, t *testing.T, s *suite) {
	id := s.run(ctx, t, s.spec(t, "", "sleep", "300"))
	s.waitRunning(ctx, t, id)
	if err := s.eng.Kill(ctx, id, ""); err != nil {
		t.Fatal(err)
	}
	if code, err := s.eng.Wait(ctx, id); err != nil || code != 137 {
		t.Errorf("Wait after Kill = %d, %v; want 137 (SIGKILL)", code, err)
	}
}

func testPause(ctx context.Context, t *testing.T, s *suite) {
	id := s.run(ctx, t, s.spec(t, "", "sh", "-c", `i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done`))
	s.waitRunning(ctx, t, id)
	if err := s.eng.Pause(ctx, id); err != nil {
		t.Fatal(err)
	}
	st, err := s.eng.Inspect(ctx, id)
	if err != nil || !st.Paused || st.Status != "paused" {
		t.Errorf("after Pause: %+v, %v; want paused", st, err)
	}
	if !s.cfg.without[ExecWhilePausedFails] {
		if code, err := s.eng.Exec(ctx, id, []string{"true"}, nil, nil); err == nil {
			t.Errorf("Exec in a paused container = %d, nil; want an error", code)
		}
	}
	if err := s.eng.Unpause(ctx, id); err != nil {
		t.Fatal(err)
	}
	st, err = s.eng.Inspect(ctx, id)
	if err != nil || st.Paused || !st.Running || st.Status != "running" {
		t.Errorf("after Unpause: %+v, %v; want running", st, err)
	}
	_, first, _ := s.exec(ctx, t, id, "cat", "/tmp/count")
	if !eventually(ctx, 10*time.Second, func() bool { _, now, _ := s.exec(ctx, t, id, "cat", "/tmp/count"); return now != first }) {
		t.Errorf("the container's loop does not run on after Unpause")
	}
}

func testRestartPolicy(ctx context.Context, t *testing.T, s *suite) {
	spec := s.spec(t, "", "sh", "-c", "sleep 0.5; exit 3")
	spec.Restart = engine.RestartPolicy{Name: "always"}
	id := s.run(ctx, t, spec)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	code, err := s.eng.Wait(wctx, id)
	cancel()
	if err != nil || code != 3 {
		t.Errorf("Wait on a crash-looping container = %d, %v; want its first exit code 3", code, err)
	}
	var st engine.State
	if !eventually(ctx, 60*time.Second, func() bool { st, err = s.eng.Inspect(ctx, id); return err == nil && st.RestartCount >= 2 }) {
		t.Errorf("RestartCount did not reach 2 within 60s: %+v, %v", st, err)
	}
}

func testNotFound(ctx context.Context, t *testing.T, s *suite) {
	id := s.name(t, "absent")
	_, err := s.eng.Inspect(ctx, id)
	notFound(t, "Inspect", err)
	notFound(t, "Start", s.eng.Start(ctx, id))
	notFound(t, "Stop", s.eng.Stop(ctx, id, time.Second))
	notFound(t, "Kill", s.eng.Kill(ctx, id, ""))
	_, err = s.eng.Wait(ctx, id)
	notFound(t, "Wait", err)
	_, err = s.eng.Exec(ctx, id, []string{"true"}, nil, nil)
	notFound(t, "Exec", err)
	notFound(t, "Logs", s.eng.Logs(ctx, id, engine.LogOptions{}, io.Discard, io.Discard))
	_, err = s.eng.CopyFrom(ctx, id, "/")
	notFound(t, "CopyFrom", err)
	for _, kind := range []string{engine.KindContainer, engine.KindNetwork, engine.KindVolume} {
		if err := s.eng.Remove(ctx, engine.Resource{Kind: kind, ID: id, Name: id}); err != nil {
			t.Errorf("Remove of an absent %s: %v; want nil", kind, err)
		}
	}
}
