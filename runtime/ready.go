package runtime

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/mask"
	"github.com/composegen/composegen/runtime/internal/probe"
)

// Readiness is a promise: a replica is ready when everything that applies
// holds at once. Its container runs (not restarting, not exited, not
// restarted since it was started), the kind's protocol probe through the
// published port answers (a real exchange that docker-proxy cannot fake),
// and the compose healthcheck passes. The probe gates the healthcheck: no
// exec runs before the server answers, because an early exec can break a
// starting server (RabbitMQ's CLI creating the Erlang cookie before the
// broker, say). Without a probe, execs start after a short delay and back
// off, never back to back.
//
// We are fast by probing on our own cadence instead of the engine's
// interval tick, never by declaring ready early; the unhealthy budget is
// Docker's (see budget).
var (
	// probeFirst and probeMax bound the cadence of host-side probes, which
	// cost little: a connection to the published port. Once a service has
	// taken a while, probes slow down to probeShare of the time it has
	// taken so far (at most probeSlowest), which bounds what that adds to
	// its start to about 1% while many slow starts at once (20 stacks
	// whose PostgreSQL initialises for a minute) stop spending the host's
	// CPU on thousands of connections a second through docker-proxy.
	probeFirst   = 5 * time.Millisecond
	probeMax     = 20 * time.Millisecond
	probeShare   = time.Duration(50) // a probe every 1/50 of the elapsed time
	probeSlowest = 250 * time.Millisecond
	// execFirst is the delay before the first healthcheck exec of a
	// service without a probe; execAfterGate the first retry after the
	// probe passed; execMax caps the exec cadence (the healthcheck's
	// interval caps it too).
	execFirst     = 250 * time.Millisecond
	execAfterGate = 100 * time.Millisecond
	execMax       = time.Second
	// stateEvery is how often the container's state is read while waiting.
	// It is a safety net only: every exit, a crash that the restart policy
	// follows with a restart included, is seen at once through the exit
	// watcher (engine.Engine.Wait), and the state is read again before a
	// replica is declared ready. Reading it more often costs the engine
	// CPU that the starting servers need: at 12 parallel stacks on 2 cores,
	// a read every 250ms per replica was 28 inspects a second.
	stateEvery = 2 * time.Second
)

// Defaults of a compose healthcheck, as Docker applies them.
const (
	defaultInterval = 30 * time.Second
	defaultHCTime   = 30 * time.Second
	defaultRetries  = 3
)

// readiness is the state of one replica's wait.
type readiness struct {
	r       *replica
	hc      *composeplan.HealthcheckSpec // nil without a healthcheck
	cmd     []string                     // the healthcheck's command, interpolated
	probe   *composeplan.ProbeSpec       // nil without one (or its port is not published)
	addr    string                       // the probe's published address
	budget  *budget
	watch   *listenWatch
	start   time.Time
	probeOK bool // the probe passed (or there is none)
	nextRun time.Time
	delay   time.Duration
	lastErr error
	inspect time.Time // last state read
}

// awaitReady waits until the replica is ready: for a one-shot, until it
// has exited 0 (its probe and healthcheck are not run). Any other exit, a
// restart, an unhealthy verdict or the end of ctx is an error that names
// the service and the cause. An unclassified service is ready once it runs
// (or completed); see awaitGrace for the rest of its wait.
func (r *replica) awaitReady(ctx context.Context) error {
	w, err := r.newReadiness()
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
		case <-time.After(w.wait()):
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
	w := &readiness{r: r}
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

func (r *replica) newReadiness() (*readiness, error) {
	w := &readiness{r: r, start: r.startedAt(), probeOK: true}
	if hasHealthcheck(r.spec) {
		w.hc = r.spec.Healthcheck
		cmd, err := r.healthCmd()
		if err != nil {
			return nil, fmt.Errorf("service %q: healthcheck: %w", r.label(), err)
		}
		w.cmd = cmd
		w.budget = newBudget(w.hc, w.start)
	}
	if p := r.spec.Probe; p != nil {
		if port, ok := r.LookupPort(p.Port, "tcp"); ok {
			w.probe, w.addr, w.probeOK = p, port.Addr(), false
			if w.hc == nil && r.stack.info.Local {
				w.watch = &listenWatch{s: r, port: p.Port}
			}
		}
	}
	w.delay = probeFirst
	if w.probe == nil && w.hc != nil {
		w.nextRun = w.start.Add(execFirst)
		w.delay = execFirst
	}
	return w, nil
}

// checkState reads the container's state (at most every stateEvery unless
// force, or at once after an exit) and judges it. done is set when the
// replica completed as a one-shot.
func (w *readiness) checkState(ctx context.Context, force bool) (done bool, err error) {
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
	restarts := st.RestartCount - base.RestartCount
	restarted := restarts > 0 || st.Restarting ||
		(!base.StartedAt.IsZero() && !st.StartedAt.IsZero() && !st.StartedAt.Equal(base.StartedAt))
	switch {
	case restarted:
		if restarts < 1 {
			restarts = 1
		}
		return false, fmt.Errorf("service %q: restarted %d time(s) while starting (its restart policy %q restarts it after each exit; last exit code %d): it crashes%s",
			r.label(), restarts, r.spec.Restart, st.ExitCode, r.logTail())
	case st.Running:
		return false, nil
	case st.Status == "created":
		return false, nil // not started yet, or the engine has not caught up
	}
	// Exited (or dead): a success only for a one-shot that exited 0.
	r.mu.Lock()
	r.exitCode = st.ExitCode
	r.mu.Unlock()
	if st.ExitCode == 0 && r.unit.mayComplete() {
		r.mu.Lock()
		r.completed = true
		r.mu.Unlock()
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
	var why []string
	if st.OOMKilled {
		why = append(why, "killed by the kernel for lack of memory (OOM)")
	}
	if st.Error != "" {
		why = append(why, st.Error)
	}
	if st.ExitCode == 0 {
		need := "the stack needs it running"
		if r.unit.neededHealthy {
			need = "a dependent needs it healthy (service_healthy)"
		} else if hasHealthcheck(r.spec) {
			need = "it has a healthcheck, so it is expected to keep running"
		} else if r.spec.Kind != "" {
			need = "it is a " + r.spec.Kind + " server, which is expected to keep running"
		} else if r.unit.life == lifeWorker {
			need = "it is taken as a long-running service; if it is a one-shot (a migration, a seed), set x-composegen: {oneshot: true} on it in the compose file"
		}
		why = append(why, need)
	}
	msg := fmt.Sprintf("service %q: exited with code %d", r.label(), st.ExitCode)
	if len(why) > 0 {
		msg += " (" + strings.Join(why, "; ") + ")"
	}
	return errors.New(msg + r.logTail())
}

// step runs what is due: the probe until it passes, then the healthcheck.
// It reports ready when everything that applies passed.
func (w *readiness) step(ctx context.Context) (bool, error) {
	r := w.r
	if !w.probeOK {
		t := time.Now()
		err := probe.Run(ctx, w.probe.Protocol, w.probe.Path, w.addr)
		if err == nil {
			w.probeOK = true
			if w.hc == nil {
				return true, nil
			}
			w.nextRun = time.Now() // the gate opened: check at once
			w.delay = execAfterGate
		} else {
			w.lastErr = fmt.Errorf("%s probe of port %d: %w", w.probe.Protocol, w.probe.Port, err)
			if w.watch != nil {
				if note, fatal := w.watch.check(); note != "" {
					if fatal && w.probe.Protocol == "tcp" {
						return false, fmt.Errorf("service %q: not ready after %s: %s: fix its ports or expose in the compose file, or give it a healthcheck%s", r.label(), time.Since(w.start).Round(time.Second), note, r.logTail())
					}
					w.lastErr = fmt.Errorf("%v (%s)", w.lastErr, note)
				}
			}
			r.recordProbe(w.lastErr.Error())
			return false, w.failed(w.dockerRun(time.Since(t)))
		}
	}
	if w.hc == nil {
		return true, nil
	}
	if time.Now().Before(w.nextRun) {
		return false, nil
	}
	t := time.Now()
	err := r.runHealthcheck(ctx, w.hc, w.cmd)
	if err == nil {
		return true, nil
	}
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	took := time.Since(t)
	w.lastErr = err
	r.recordProbe(err.Error())
	// A slow exec means a busy engine host: leave it at least as long
	// before the next one (on an idle host, execs take far less than the
	// delay).
	w.nextRun = time.Now().Add(max(w.delay, took))
	w.delay = min(w.delay*3/2, w.execCap())
	return false, w.failed(took)
}

// failed counts a failed probe or healthcheck against Docker's budget.
func (w *readiness) failed(took time.Duration) error {
	if w.budget == nil || !w.budget.fail(time.Now(), took) {
		return nil
	}
	return fmt.Errorf("service %q: unhealthy after %s (Docker's budget: start_period %s, then %d consecutive failures every %s, each run lasting up to its timeout): %v%s",
		w.r.label(), time.Since(w.start).Round(time.Millisecond), w.budget.startPeriod, w.budget.retries, w.budget.interval, w.lastErr, w.r.logTail())
}

// dockerRun is how long Docker's healthcheck run is taken to last when our
// check was a probe that failed after took: Docker would have exec'd the
// healthcheck, and an exec lasts up to the healthcheck's timeout. Nothing
// says how long it would have taken (on a loaded host, 3 s and more: 20
// PostgreSQL initialisations at once on 2 cores made every exec time out),
// so the longest is assumed: Docker's schedule, and with it the budget,
// stretches by as much, and a service is never declared unhealthy before
// Docker could have declared it. Slower to report a service that is
// really broken, but a slow host never fails a start that compose passes.
func (w *readiness) dockerRun(took time.Duration) time.Duration {
	if w.hc == nil {
		return took
	}
	timeout := w.hc.Timeout
	if timeout <= 0 {
		timeout = defaultHCTime
	}
	return max(took, timeout)
}

// execCap is the longest pause between two healthcheck execs.
func (w *readiness) execCap() time.Duration {
	c := execMax
	if iv := w.hc.Interval; iv > 0 && iv < c {
		c = iv
	}
	return c
}

// wait returns how long to sleep before the next step.
func (w *readiness) wait() time.Duration {
	if !w.probeOK {
		d := w.delay
		w.delay = min(w.delay*2, max(probeMax, min(time.Since(w.start)/probeShare, probeSlowest)))
		return d
	}
	if d := time.Until(w.nextRun); d > 0 {
		return min(d, stateEvery)
	}
	return probeFirst
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
	timeout := hc.Timeout
	if timeout <= 0 {
		timeout = defaultHCTime
	}
	select {
	case healthExecs <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	res, err := r.exec(ctx, timeout, cmd)
	<-healthExecs
	name := shortCmd(hc.Test)
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
		return fmt.Errorf("%s exited %d: %s", name, res.ExitCode, lastLines(r.stack.mask.String(out), 3, 512))
	}
	return nil
}

// healthCmd returns the healthcheck's command, interpolated.
func (r *replica) healthCmd() ([]string, error) {
	t := r.spec.Healthcheck.Test
	res := r.stack.res
	var cmd []string
	var err error
	switch t[0] {
	case "CMD":
		if len(t) < 2 {
			return nil, errors.New("CMD without a command")
		}
		cmd, err = res.ExpandAll("healthcheck.test", t[1:])
	case "CMD-SHELL":
		var c string
		c, err = res.Expand("healthcheck.test", strings.Join(t[1:], " "))
		cmd = []string{"/bin/sh", "-c", c}
	default:
		var c string
		c, err = res.Expand("healthcheck.test", strings.Join(t, " "))
		cmd = []string{"/bin/sh", "-c", c}
	}
	if err != nil {
		return nil, err
	}
	r.stack.mask.AddArgs(cmd)
	return cmd, nil
}

// shortCmd shows a healthcheck test as written (templates, not values),
// password arguments masked, at most 80 bytes.
func shortCmd(test []string) string {
	if len(test) > 1 && (test[0] == "CMD" || test[0] == "CMD-SHELL") {
		test = test[1:]
	}
	s := strings.Join(mask.Args(test), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
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

// budget decides when Docker would declare a container unhealthy: it runs
// the healthcheck every interval (each run bounded by timeout, the first one
// interval after the start), failures during start_period do not count, and
// retries consecutive failures make it unhealthy. We probe faster than the
// interval, so our failures are mapped onto Docker's schedule: a failure
// counts for every one of Docker's runs that would have happened by then.
// The budget is never shorter than Docker's.
type budget struct {
	interval, startPeriod time.Duration
	retries               int
	start                 time.Time
	next                  time.Time // Docker's next run
	failures              int
}

func newBudget(hc *composeplan.HealthcheckSpec, start time.Time) *budget {
	b := &budget{interval: hc.Interval, startPeriod: hc.StartPeriod, retries: hc.Retries, start: start}
	if b.interval <= 0 {
		b.interval = defaultInterval
	}
	if b.retries <= 0 {
		b.retries = defaultRetries
	}
	b.next = start.Add(b.interval)
	return b
}

// fail records a failed check that ended at now after running for took; it
// reports whether Docker would have declared the container unhealthy. Each
// of Docker's runs is taken to last took too: the run that starts at next
// fails at next+took, and the one after it starts interval later.
func (b *budget) fail(now time.Time, took time.Duration) bool {
	for !b.next.Add(took).After(now) {
		if !b.next.Before(b.start.Add(b.startPeriod)) {
			b.failures++
		}
		b.next = b.next.Add(b.interval + took)
		if b.failures >= b.retries {
			return true
		}
	}
	return false
}

// lastLines returns the last n lines of s, at most max bytes of them, with
// non-printable bytes escaped.
func lastLines(s string, n, max int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := printable(strings.Join(lines, "\n"))
	if len(out) > max {
		out = "…" + out[len(out)-max:]
	}
	return out
}

// printable escapes what a terminal or a test log should not receive raw:
// NUL and other control bytes (not tabs and newlines), invalid UTF-8.
func printable(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}
