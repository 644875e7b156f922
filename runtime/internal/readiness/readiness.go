// Package readiness decides when a started container is ready, without
// touching one: the pace of the wait (host-side probes first, then the
// compose healthcheck, gated by the probe and backing off), Docker's
// unhealthy budget (start_period, interval, retries of consecutive
// failures, each run lasting up to its timeout), the healthcheck's test as
// a command (CMD, CMD-SHELL, NONE), what a container state means for a
// service coming up (running, completed, restarted, exited), and what a
// container listens on (/proc/PID/net/tcp) when a probe waits in vain. It
// is not the wait itself: package runtime runs the probes
// (runtime/internal/probe) and the execs on the engine, reads the states,
// and feeds the outcomes, and the time they happened, to this package,
// which therefore has no clock, sleeps never and is tested without an
// engine.
package readiness

import (
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
)

// Cadence is the pace of a wait. Readiness is a promise, so we are fast by
// probing on our own cadence instead of the engine's interval tick, never
// by declaring ready early; the unhealthy budget stays Docker's (see
// Budget).
type Cadence struct {
	// ProbeFirst and ProbeMax bound the cadence of host-side probes,
	// which cost little: a connection to the published port. Once a
	// service has taken a while, probes slow down to 1/ProbeShare of the
	// time it has taken so far (at most ProbeSlowest), which bounds what
	// that adds to its start to about 1% while many slow starts at once
	// (20 stacks whose PostgreSQL initialises for a minute) stop spending
	// the host's CPU on thousands of connections a second through
	// docker-proxy.
	ProbeFirst, ProbeMax time.Duration
	ProbeShare           time.Duration
	ProbeSlowest         time.Duration
	// ExecFirst is the delay before the first healthcheck exec of a
	// service without a probe; ExecAfterGate the first retry after the
	// probe passed; ExecMax caps the exec cadence (the healthcheck's
	// interval caps it too).
	ExecFirst, ExecAfterGate, ExecMax time.Duration
	// StateEvery is how often the container's state is read while
	// waiting, and the longest sleep of a wait. It is a safety net only:
	// every exit is seen at once through the engine's exit watcher, and
	// the state is read again before a replica is declared ready. Reading
	// it more often costs the engine CPU that the starting servers need:
	// at 12 parallel stacks on 2 cores, a read every 250ms per replica was
	// 28 inspects a second.
	StateEvery time.Duration
}

// DefaultCadence is the runtime's.
var DefaultCadence = Cadence{
	ProbeFirst:    5 * time.Millisecond,
	ProbeMax:      20 * time.Millisecond,
	ProbeShare:    50,
	ProbeSlowest:  250 * time.Millisecond,
	ExecFirst:     250 * time.Millisecond,
	ExecAfterGate: 100 * time.Millisecond,
	ExecMax:       time.Second,
	StateEvery:    2 * time.Second,
}

// Step is what a wait has to do next.
type Step int

const (
	// Idle: nothing is due; sleep (see Wait.Sleep).
	Idle Step = iota
	// Probe: run the kind's protocol probe through the published port.
	Probe
	// Exec: run the compose healthcheck in the container.
	Exec
	// Ready: everything that applies passed.
	Ready
)

func (s Step) String() string {
	switch s {
	case Probe:
		return "probe"
	case Exec:
		return "exec"
	case Ready:
		return "ready"
	}
	return "idle"
}

// Wait is the state of one replica's wait for readiness. A replica is
// ready when the kind's probe answers (if it has one) and the compose
// healthcheck passes (if it has one). The probe gates the healthcheck: no
// exec is due before the server answers, because an early exec can break
// a starting server (RabbitMQ's CLI creating the Erlang cookie before the
// broker, say). Without a probe, execs start after a short delay and back
// off, never back to back. The caller says when things happened (now):
// Wait has no clock.
type Wait struct {
	c       Cadence
	hc      *composeplan.HealthcheckSpec // nil without a healthcheck
	budget  *Budget                      // nil without a healthcheck
	start   time.Time
	probeOK bool // the probe passed (or there is none)
	nextRun time.Time
	delay   time.Duration
}

// NewWait starts the wait of a replica whose container started at start.
// hc is the healthcheck to run, nil for none (see Enabled); probe says
// whether a protocol probe gates it.
func NewWait(c Cadence, start time.Time, hc *composeplan.HealthcheckSpec, probe bool) *Wait {
	w := &Wait{c: c, hc: hc, start: start, probeOK: !probe, delay: c.ProbeFirst}
	if hc != nil {
		w.budget = newBudget(hc, start)
		if !probe {
			w.nextRun = start.Add(c.ExecFirst)
			w.delay = c.ExecFirst
		}
	}
	return w
}

// Next says what is due at now.
func (w *Wait) Next(now time.Time) Step {
	switch {
	case !w.probeOK:
		return Probe
	case w.hc == nil:
		return Ready
	case now.Before(w.nextRun):
		return Idle
	}
	return Exec
}

// ProbePassed records that the probe answered at now: the gate opens, and
// the healthcheck, if any, is due at once.
func (w *Wait) ProbePassed(now time.Time) {
	if w.probeOK {
		return
	}
	w.probeOK = true
	if w.hc != nil {
		w.nextRun = now
		w.delay = w.c.ExecAfterGate
	}
}

// ProbeFailed records a probe that failed at now after took, and reports
// whether Docker would have declared the container unhealthy by then.
//
// While the probe fails no exec runs, so nothing says how long Docker's
// run of the healthcheck would have taken (on a loaded host, 3 s and more:
// 20 PostgreSQL initialisations at once on 2 cores made every exec time
// out), so the longest is assumed, its timeout: Docker's schedule, and
// with it the budget, stretches by as much, and a service is never
// declared unhealthy before Docker could have declared it. Slower to
// report a service that is really broken, but a slow host never fails a
// start that compose passes.
func (w *Wait) ProbeFailed(now time.Time, took time.Duration) (unhealthy bool) {
	if w.budget == nil {
		return false
	}
	return w.budget.Fail(now, max(took, Timeout(w.hc)))
}

// ExecFailed records a healthcheck exec that failed at now after took,
// and reports whether Docker would have declared the container unhealthy
// by then. The next exec is due after the current delay, which grows by
// half each time up to ExecMax (or the healthcheck's interval), and never
// sooner than took: a slow exec means a busy engine host.
func (w *Wait) ExecFailed(now time.Time, took time.Duration) (unhealthy bool) {
	if w.hc == nil {
		return false
	}
	w.nextRun = now.Add(max(w.delay, took))
	w.delay = min(w.delay*3/2, w.execCap())
	return w.budget.Fail(now, took)
}

// execCap is the longest pause between two healthcheck execs.
func (w *Wait) execCap() time.Duration {
	c := w.c.ExecMax
	if iv := w.hc.Interval; iv > 0 && iv < c {
		c = iv
	}
	return c
}

// Sleep returns how long to sleep at now before the next step. While the
// probe fails, the pause doubles from ProbeFirst up to ProbeMax, or up to
// 1/ProbeShare of the time the wait has taken (at most ProbeSlowest); then
// it is the time until the next exec, at most StateEvery.
func (w *Wait) Sleep(now time.Time) time.Duration {
	if !w.probeOK {
		d := w.delay
		w.delay = min(w.delay*2, max(w.c.ProbeMax, min(now.Sub(w.start)/w.c.ProbeShare, w.c.ProbeSlowest)))
		return d
	}
	if d := w.nextRun.Sub(now); d > 0 {
		return min(d, w.c.StateEvery)
	}
	return w.c.ProbeFirst
}

// Budget is the unhealthy budget of the wait's healthcheck, nil without
// one.
func (w *Wait) Budget() *Budget { return w.budget }
