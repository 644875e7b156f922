package kube

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

func TestCreateStartStopStartRemove(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	spec := p.spec("sleeper", "sh", "-c", `trap 'echo got-TERM; exit 0' TERM; echo "run $(date +%s%N)"; while :; do sleep 0.1; done`)
	id := p.create(spec)
	if st := p.inspect(id); st.Status != "created" || st.Running {
		t.Fatalf("created container: %+v", st)
	}
	if err := p.eng.Start(p.ctx(), id); err != nil {
		t.Fatal(err)
	}
	first := p.inspect(id)
	if !first.Running || first.Status != "running" || first.StartedAt.IsZero() {
		t.Fatalf("started container (Start returns once it runs): %+v", first)
	}
	if err := p.eng.Start(p.ctx(), id); err != nil {
		t.Errorf("Start of a running container: %v", err)
	}
	if !eventually(10*time.Second, func() bool { return strings.Contains(p.logs(id, engine.LogOptions{}), "run ") }) {
		t.Fatalf("no output")
	}
	if err := p.eng.Stop(p.ctx(), id, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	st := p.inspect(id)
	if st.Status != "exited" || st.Running || st.ExitCode != 0 || st.FinishedAt.IsZero() {
		t.Errorf("stopped container: %+v; want exited with 0 (its TERM handler)", st)
	}
	if code, err := p.eng.Wait(p.ctx(), id); err != nil || code != 0 {
		t.Errorf("Wait on the stopped container = %d, %v; want 0 at once", code, err)
	}
	if out := p.logs(id, engine.LogOptions{}); !strings.Contains(out, "got-TERM") {
		t.Errorf("logs after Stop = %q; want the output of the stopped run", out)
	}
	if err := p.eng.Stop(p.ctx(), id, time.Second); err != nil {
		t.Errorf("Stop of a stopped container: %v", err)
	}
	if err := p.eng.Start(p.ctx(), id); err != nil {
		t.Fatal(err)
	}
	second := p.inspect(id)
	if !second.Running || !second.StartedAt.After(first.StartedAt) {
		t.Errorf("restarted container: %+v; want running, started after %v", second, first.StartedAt)
	}
	if out := p.logs(id, engine.LogOptions{}); strings.Count(out, "run ") != 2 {
		t.Errorf("logs after the second start = %q; want both runs", out)
	}
	if err := p.eng.Remove(p.ctx(), engine.Resource{Kind: engine.KindContainer, ID: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.eng.Inspect(p.ctx(), id); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("Inspect after Remove: %v; want ErrNotFound", err)
	}
}

func TestStopKillsAfterGrace(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	// sleep as PID 1 ignores SIGTERM: it is killed when the grace ends.
	id := p.run(p.spec("stubborn", "sleep", "300"))
	start := time.Now()
	if err := p.eng.Stop(p.ctx(), id, time.Second); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	if st := p.inspect(id); st.Running || st.ExitCode != 137 {
		t.Errorf("after Stop: %+v; want killed (137)", st)
	}
	if d > 20*time.Second {
		t.Errorf("Stop with a 1s grace period took %v", d)
	}
}

func TestWaitExitCodes(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	for _, tc := range []struct {
		restart string
		code    int
	}{{"", 0}, {"", 5}, {"on-failure", 0}} {
		spec := p.spec("oneshot-"+strings.Trim(tc.restart+"-"+string(rune('0'+tc.code)), "-"), "sh", "-c", "sleep 1; exit "+string(rune('0'+tc.code)))
		spec.Restart = engine.RestartPolicy{Name: tc.restart}
		id := p.run(spec)
		code, err := p.eng.Wait(p.ctx(), id)
		if err != nil || code != tc.code {
			t.Errorf("restart %q: Wait = %d, %v; want %d", tc.restart, code, err, tc.code)
		}
		var st engine.State
		if !eventually(10*time.Second, func() bool { st = p.inspect(id); return st.Status == "exited" }) || st.ExitCode != tc.code || st.Restarting {
			t.Errorf("restart %q: one-shot state %+v; want exited with %d", tc.restart, st, tc.code)
		}
	}
}

func TestCrashLoopIsRestarting(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	spec := p.spec("crasher", "sh", "-c", "echo crashing; exit 3")
	spec.Restart = engine.RestartPolicy{Name: "always"}
	id := p.run(spec)
	code, err := p.eng.Wait(p.ctx(), id)
	if err != nil || code != 3 {
		t.Errorf("Wait = %d, %v; want 3", code, err)
	}
	var st engine.State
	if !eventually(60*time.Second, func() bool { st = p.inspect(id); return st.RestartCount >= 2 && st.Restarting }) {
		t.Fatalf("state %+v; want restarting, restarted twice", st)
	}
	if st.Status != "restarting" || st.ExitCode != 3 || st.Running {
		t.Errorf("crash-looping state %+v; want restarting with exit code 3", st)
	}
	// In the back-off the current container has no output: the last
	// run's is shown.
	if out := p.logs(id, engine.LogOptions{Tail: 20}); !strings.Contains(out, "crashing") {
		t.Errorf("logs of a crash-looping container = %q; want its last run's", out)
	}
}

func TestMissingImageFailsStart(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	spec := p.spec("ghost")
	spec.Image = "registry.invalid/composegen/ghost:1"
	id := p.create(spec)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	err := p.eng.Start(ctx, id)
	if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), spec.Image) || !strings.Contains(err.Error(), "cannot be pulled") {
		t.Fatalf("Start of a missing image = %v; want an error naming the image and the reason", err)
	}
	st := p.inspect(id)
	if st.Running || st.Status != "dead" || !strings.Contains(st.Error, "ErrImagePull") && !strings.Contains(st.Error, "ImagePullBackOff") {
		t.Errorf("state %+v; want dead with the kubelet's reason", st)
	}
	if code, err := p.eng.Wait(ctx, id); err != nil || code != exitCannotStart {
		t.Errorf("Wait = %d, %v; want %d at once", code, err, exitCannotStart)
	}
}

func TestUnschedulablePodSaysWhy(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	spec := p.spec("elsewhere", "sleep", "300")
	spec.Platform = "linux/s390x" // a node selector no node matches
	id := p.create(spec)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	err := p.eng.Start(ctx, id)
	if err == nil || !strings.Contains(err.Error(), "FailedScheduling") {
		t.Errorf("Start of a pod no node can run = %v; want the scheduler's reason", err)
	}
	if st := p.inspect(id); st.Status != "created" || !strings.Contains(st.Error, "FailedScheduling") {
		t.Errorf("state %+v; want created, with the scheduler's reason", st)
	}
}

func TestKillSignals(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	id := p.run(p.spec("trapper", "sh", "-c", `trap 'echo got-hup' HUP; trap 'echo got-term; exit 0' TERM; echo ready; while :; do sleep 0.1; done`))
	if !eventually(30*time.Second, func() bool { return strings.Contains(p.logs(id, engine.LogOptions{}), "ready") }) {
		t.Fatal("not ready")
	}
	if err := p.eng.Kill(p.ctx(), id, "SIGHUP"); err != nil {
		t.Fatal(err)
	}
	if !eventually(10*time.Second, func() bool { return strings.Contains(p.logs(id, engine.LogOptions{}), "got-hup") }) || !p.inspect(id).Running {
		t.Errorf("after SIGHUP: %q, %+v; want it handled, still running", p.logs(id, engine.LogOptions{}), p.inspect(id))
	}
	if err := p.eng.Kill(p.ctx(), id, "SIGNOPE;rm"); err == nil || !strings.Contains(err.Error(), "not a signal") {
		t.Errorf("Kill with a bogus signal: %v", err)
	}
	if err := p.eng.Kill(p.ctx(), id, "TERM"); err != nil {
		t.Fatal(err)
	}
	if code, err := p.eng.Wait(p.ctx(), id); err != nil || code != 0 {
		t.Errorf("Wait after SIGTERM = %d, %v; want 0 (its handler)", code, err)
	}
}
