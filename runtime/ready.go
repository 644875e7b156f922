package runtime

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/diag"
	"github.com/composegen/composegen/runtime/internal/probe"
	"github.com/composegen/composegen/runtime/internal/readiness"
)

// stateEvery and probeMax pace the waits of package runtime as they pace
// readiness's (see readiness.Cadence).
var (
	stateEvery = readiness.DefaultCadence.StateEvery
	probeMax   = readiness.DefaultCadence.ProbeMax
)

// readyWait is one replica's wait for readiness: the engine-bound half of
// a readiness.Wait, which decides what is due, and when the replica is
// unhealthy.
type readyWait struct {
	r       *replica
	wait    *readiness.Wait
	hc      *composeplan.HealthcheckSpec // nil without a healthcheck
	cmd     []string                     // the healthcheck's command, interpolated
	probe   *composeplan.ProbeSpec       // nil without one (or its port is not published)
	addr    string                       // the probe's published address
	watch   *readiness.Watch
	start   time.Time
	lastErr error
	inspect time.Time // last state read
}

// awaitReady waits until the replica is ready: for a one-shot, until it
// has exited 0 (its probe and healthcheck are not run). Any other exit, a
// restart, an unhealthy verdict or the end of ctx is an error that names
// the service and the cause. An unclassified service is ready once it runs
// (or completed); see awaitGrace for the rest of its wait.
func (r *replica) awaitReady(ctx context.Context) error {
	w, err := r.newReadyWait()
	if err != nil {
		return err
	}
	for {
		if done, err := w.checkState(ctx, false); done || err != nil {
			return err
		}
		if r.unit.life == lifeOneShot {
			if err := r.awaitExit(ctx); err != nil {
				return err
			}
			continue
		}
		ready, err := w.step(ctx)
		if err != nil {
			return err
		}
		if ready {
			// Declare ready only after reading the state once more: a
			// container that died under the last probe is not ready.
			done, err := w.checkState(ctx, true)
			if done || err != nil {
				return err
			}
			return nil
		}
		select {
		case <-r.exitedCh:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(w.wait.Sleep(time.Now())):
		}
	}
}

// awaitExit waits until the container exited (at most stateEvery, the
// safety net of the exit watcher).
func (r *replica) awaitExit(ctx context.Context) error {
	exited, wait := r.exitedCh, stateEvery
	if closed(exited) {
		// The state has not caught up with the exit yet.
		exited, wait = nil, probeMax
	}
	select {
	case <-exited:
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(wait):
	}
	return nil
}

// awaitGrace is the rest of the wait for a replica of an unclassified
// service that runs: it ends when the replica exits (code 0 completes it,
// any other fails the start), or when every other service of the stack is
// ready and the replica has run for the grace
// (composeplan.UnclassifiedGrace), which takes it as long-running and logs,
// once per service, how to classify it. So a migration that nothing names
// as such still completes before Start returns, and a worker that nothing
// names as such delays the start by the grace at most.
func (r *replica) awaitGrace(ctx context.Context) error {
	w := &readyWait{r: r}
	grace := time.NewTimer(time.Until(r.startedAt().Add(r.stack.cfg.grace)))
	defer grace.Stop()
	graceOver, othersReady := false, false
	for {
		if done, err := w.checkState(ctx, closed(r.exitedCh)); done || err != nil {
			return err
		}
		if graceOver && othersReady {
			r.unit.unclassifiedLog.Do(func() {
				file := "the compose file"
				if fs := r.stack.plan.Files; len(fs) > 0 {
					file = fs[0]
				}
				r.stack.logf("composegen: service %q still runs %s after it started: taken as long-running, not waited for (if it is a migration or a seed, set x-composegen: {oneshot: true} on it in %s and run go generate; oneshot: false silences this)",
					r.spec.Name, time.Since(r.startedAt()).Round(100*time.Millisecond), file)
			})
			return nil
		}
		exited, wait := r.exitedCh, stateEvery
		if closed(exited) {
			// The state has not caught up with the exit yet.
			exited, wait = nil, probeMax
		}
		others := r.stack.othersReady
		if othersReady {
			others = nil
		}
		select {
		case <-exited:
		case <-grace.C:
			graceOver = true
		case <-others:
			othersReady = true
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// newReadyWait prepares the replica's wait: its healthcheck's command, its
// probe's published address, and the listening watch of a probe with
// nothing else to tell why it waits.
func (r *replica) newReadyWait() (*readyWait, error) {
	w := &readyWait{r: r, start: r.startedAt()}
	if readiness.Enabled(r.spec.Healthcheck) {
		w.hc = r.spec.Healthcheck
		cmd, err := r.healthCmd()
		if err != nil {
			return nil, fmt.Errorf("service %q: healthcheck: %w", r.label(), err)
		}
		w.cmd = cmd
	}
	if p := r.spec.Probe; p != nil {
		if port, ok := r.LookupPort(p.Port, "tcp"); ok {
			w.probe, w.addr = p, port.Addr()
			if w.hc == nil && r.stack.info.Local {
				w.watch = readiness.NewWatch(p.Port, r.listening)
			}
		}
	}
	w.wait = readiness.NewWait(readiness.DefaultCadence, w.start, w.hc, w.probe != nil)
	return w, nil
}

// checkState reads the container's state (at most every stateEvery unless
// force, or at once after an exit) and judges it. done is set when the
// replica completed as a one-shot.
func (w *readyWait) checkState(ctx context.Context, force bool) (done bool, err error) {
	r := w.r
	if !force && !closed(r.exitedCh) && time.Since(w.inspect) < stateEvery {
		return false, nil
	}
	w.inspect = time.Now()
	st, err := r.stack.eng.Inspect(ctx, r.ContainerID())
	if err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		return false, fmt.Errorf("service %q: %w", r.label(), err)
	}
	r.setState(st)
	return r.judge(st)
}

// judge says what a container state means for a replica that is coming up
// or up: running (nil, false), completed (a one-shot that exited 0: nil,
// true), or an error.
func (r *replica) judge(st engine.State) (completed bool, err error) {
	r.mu.Lock()
	base := r.base
	r.mu.Unlock()
	v, restarts := readiness.Judge(base, st, r.unit.mayComplete())
	switch v {
	case readiness.Restarted:
		return false, fmt.Errorf("service %q: restarted %d time(s) while starting (its restart policy %q restarts it after each exit; last exit code %d): it crashes%s",
			r.label(), restarts, r.spec.Restart, st.ExitCode, r.logTail())
	case readiness.Running:
		return false, nil
	}
	// Exited (or dead): a success only for a one-shot that exited 0.
	r.mu.Lock()
	r.exitCode = st.ExitCode
	if v == readiness.Completed {
		r.completed = true
	}
	r.mu.Unlock()
	if v == readiness.Completed {
		return true, nil
	}
	return false, r.exitErrorCode(st)
}

// exitError is the start's error for a replica whose container stopped
// while the stack came up: nil for a one-shot that exited 0.
func (r *replica) exitError() error {
	ctx, cancel := context.WithTimeout(context.Background(), diagnosticsTimeout)
	defer cancel()
	st, err := r.stack.eng.Inspect(ctx, r.ContainerID())
	if err != nil {
		st = engine.State{Status: "exited", ExitCode: r.exit()}
	}
	_, err = r.judge(st)
	if err == nil && st.Running {
		// It stopped, and its restart policy started it again.
		st.Restarting = true
		_, err = r.judge(st)
	}
	return err
}

// exitErrorCode explains an exit like compose does.
func (r *replica) exitErrorCode(st engine.State) error {
	why := readiness.ExitCauses(st, readiness.Role{
		NeededHealthy: r.unit.neededHealthy,
		Healthcheck:   readiness.Enabled(r.spec.Healthcheck),
		Kind:          r.spec.Kind,
		Worker:        r.unit.life == lifeWorker,
	})
	msg := fmt.Sprintf("service %q: exited with code %d", r.label(), st.ExitCode)
	if len(why) > 0 {
		msg += " (" + strings.Join(why, "; ") + ")"
	}
	return errors.New(msg + r.logTail())
}

// step runs what is due: the probe until it passes, then the healthcheck.
// It reports ready when everything that applies passed.
func (w *readyWait) step(ctx context.Context) (bool, error) {
	r := w.r
	for {
		switch w.wait.Next(time.Now()) {
		case readiness.Ready:
			return true, nil
		case readiness.Idle:
			return false, nil
		case readiness.Probe:
			t := time.Now()
			err := probe.Run(ctx, w.probe.Protocol, w.probe.Path, w.addr)
			if err == nil && (w.probe.Protocol == "tcp" || w.probe.Protocol == "") {
				// The generic probe takes a connection that stays open as
				// a server, and so is a docker-proxy slow to close one
				// that nothing behind it accepted (it was, under load):
				// where the container's sockets can be read, its port
				// must listen too.
				if ports, ok := r.listening(); ok && !ports[w.probe.Port] {
					err = errors.New("the published port held the connection, but nothing listens on it in the container")
				}
			}
			if err == nil {
				w.wait.ProbePassed(time.Now()) // the gate opened: check at once
				continue
			}
			w.lastErr = fmt.Errorf("%s probe of port %d: %w", w.probe.Protocol, w.probe.Port, err)
			if w.watch != nil {
				if note, fatal := w.watch.Check(time.Now()); note != "" {
					if fatal && w.probe.Protocol == "tcp" {
						return false, fmt.Errorf("service %q: not ready after %s: %s: fix its ports or expose in the compose file, or give it a healthcheck%s", r.label(), time.Since(w.start).Round(time.Second), note, r.logTail())
					}
					w.lastErr = fmt.Errorf("%v (%s)", w.lastErr, note)
				}
			}
			r.recordProbe(w.lastErr.Error())
			return false, w.failed(w.wait.ProbeFailed(time.Now(), time.Since(t)))
		case readiness.Exec:
			t := time.Now()
			err := r.runHealthcheck(ctx, w.hc, w.cmd)
			if err == nil {
				return true, nil
			}
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			w.lastErr = err
			r.recordProbe(err.Error())
			return false, w.failed(w.wait.ExecFailed(time.Now(), time.Since(t)))
		}
	}
}

// failed is the error of a failed probe or healthcheck that exhausted
// Docker's budget (unhealthy), nil for one that did not.
func (w *readyWait) failed(unhealthy bool) error {
	if !unhealthy {
		return nil
	}
	return fmt.Errorf("service %q: unhealthy after %s (Docker's budget: %s, each run lasting up to its timeout): %v%s",
		w.r.label(), time.Since(w.start).Round(time.Millisecond), w.wait.Budget(), w.lastErr, w.r.logTail())
}

// healthExecs bounds the healthcheck execs that run at once in this
// process, across its stacks. An exec costs the engine a process start in
// the container (runc), and many at once on a small host make each one
// slow enough to reach its timeout, which fails it, and the retry adds
// load: at 20 stacks on 2 cores, 18 ran at once and 157 of 181 timed out. A
// queued exec has not started, so its timeout does not run, and nothing
// counts against the budget while it waits. Service.Exec is not bounded.
var healthExecs = make(chan struct{}, max(4, goruntime.NumCPU()))

// runHealthcheck execs the healthcheck once, bounded by its timeout.
func (r *replica) runHealthcheck(ctx context.Context, hc *composeplan.HealthcheckSpec, cmd []string) error {
	timeout := readiness.Timeout(hc)
	select {
	case healthExecs <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	res, err := r.exec(ctx, timeout, cmd)
	<-healthExecs
	name := readiness.Display(hc.Test)
	switch {
	case err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: the healthcheck did not finish within its timeout (%s)", name, timeout)
	case err != nil:
		return fmt.Errorf("%s: %v", name, err)
	case res.ExitCode != 0:
		out := strings.TrimSpace(res.Stdout + res.Stderr)
		if out == "" {
			return fmt.Errorf("%s exited %d (no output)", name, res.ExitCode)
		}
		// Masked before it is cut: a cut secret is no longer recognised.
		return fmt.Errorf("%s exited %d: %s", name, res.ExitCode, diag.LastLines(r.stack.mask.String(out), 3, 512))
	}
	return nil
}

// healthCmd returns the healthcheck's command, interpolated.
func (r *replica) healthCmd() ([]string, error) {
	cmd, err := readiness.Command(r.spec.Healthcheck.Test, r.stack.res.Expand)
	if err != nil {
		return nil, err
	}
	r.stack.mask.AddArgs(cmd)
	return cmd, nil
}

// recordProbe keeps the last five probe and healthcheck outputs.
func (r *replica) recordProbe(out string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.probes = append(r.probes, time.Since(r.tStarted).Round(time.Millisecond).String()+": "+out)
	if len(r.probes) > 5 {
		r.probes = r.probes[len(r.probes)-5:]
	}
}

func (r *replica) startedAt() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tStarted.IsZero() {
		return time.Now()
	}
	return r.tStarted
}
