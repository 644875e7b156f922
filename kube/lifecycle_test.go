package kube

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

// A stopped container's pod is deleted and Start makes a new one; the
// engine keeps the output of the earlier run for Logs, and Wait on the
// stopped container returns its exit code at once. (The conformance
// suite checks create, start, stop, kill, signals and start again as on
// Docker.)
func TestStopStartKeepsEarlierOutput(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	spec := p.spec("sleeper", "sh", "-c", `trap 'echo got-TERM; exit 0' TERM; echo "run $(date +%s%N)"; while :; do sleep 0.1; done`)
	id := p.run(spec)
	first := p.inspect(id)
	if !eventually(10*time.Second, func() bool { return strings.Contains(p.logs(id, engine.LogOptions{}), "run ") }) {
		t.Fatalf("no output")
	}
	// Kill sends a signal other than SIGKILL by running kill in the
	// container: one that is not a name or a number is refused before it
	// reaches a shell.
	if err := p.eng.Kill(p.ctx(), id, "SIGNOPE;rm"); err == nil || !strings.Contains(err.Error(), "not a signal") {
		t.Errorf("Kill with a bogus signal: %v; want it refused", err)
	}
	if err := p.eng.Stop(p.ctx(), id, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if code, err := p.eng.Wait(p.ctx(), id); err != nil || code != 0 {
		t.Errorf("Wait on the stopped container = %d, %v; want 0 at once", code, err)
	}
	if err := p.eng.Start(p.ctx(), id); err != nil {
		t.Fatal(err)
	}
	second := p.inspect(id)
	if !second.Running || !second.StartedAt.After(first.StartedAt) {
		t.Errorf("restarted container: %+v; want running, started after %v", second, first.StartedAt)
	}
	var out string
	if !eventually(10*time.Second, func() bool { out = p.logs(id, engine.LogOptions{}); return strings.Count(out, "run ") == 2 }) || !strings.Contains(out, "got-TERM") {
		t.Errorf("logs after the second start = %q; want both runs, the first one's stop included", out)
	}
}

// A crash-looping container (restart always) is restarting, with its
// last run's exit code and output; a one-shot with restart on-failure
// that exits 0 has exited (its pod's policy, OnFailure, does not restart
// it).
func TestCrashLoopIsRestarting(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	oneshot := p.spec("oneshot", "sh", "-c", "sleep 1; exit 0")
	oneshot.Restart = engine.RestartPolicy{Name: "on-failure"}
	oid := p.run(oneshot)
	spec := p.spec("crasher", "sh", "-c", "echo crashing; exit 3")
	spec.Restart = engine.RestartPolicy{Name: "always"}
	id := p.run(spec)
	code, err := p.eng.Wait(p.ctx(), id)
	if err != nil || code != 3 {
		t.Errorf("Wait = %d, %v; want 3", code, err)
	}
	var st engine.State
	// Restarted once and crashed again (the conformance suite checks that
	// the restarts go on).
	if !eventually(60*time.Second, func() bool { st = p.inspect(id); return st.RestartCount >= 1 && st.Restarting }) {
		t.Fatalf("state %+v; want restarting, restarted once", st)
	}
	if st.Status != "restarting" || st.ExitCode != 3 || st.Running {
		t.Errorf("crash-looping state %+v; want restarting with exit code 3", st)
	}
	// In the back-off the current container has no output: the last
	// run's is shown.
	if out := p.logs(id, engine.LogOptions{Tail: 20}); !strings.Contains(out, "crashing") {
		t.Errorf("logs of a crash-looping container = %q; want its last run's", out)
	}
	if code, err := p.eng.Wait(p.ctx(), oid); err != nil || code != 0 {
		t.Errorf("on-failure one-shot: Wait = %d, %v; want 0", code, err)
	}
	if !eventually(10*time.Second, func() bool { st = p.inspect(oid); return st.Status == "exited" }) || st.ExitCode != 0 || st.Restarting {
		t.Errorf("on-failure one-shot that exited 0: state %+v; want exited with 0", st)
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
