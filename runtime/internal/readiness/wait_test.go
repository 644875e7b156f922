package readiness

import (
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
)

var c = DefaultCadence

func hc(interval, timeout time.Duration, retries int) *composeplan.HealthcheckSpec {
	return &composeplan.HealthcheckSpec{Test: []string{"CMD", "check"}, Interval: interval, Timeout: timeout, Retries: retries}
}

func TestWaitWithoutChecksIsReadyAtOnce(t *testing.T) {
	if s := NewWait(c, t0, nil, false).Next(t0); s != Ready {
		t.Errorf("Next = %s, want ready", s)
	}
	if w := NewWait(c, t0, hc(time.Second, 0, 3), false); w.Budget() == nil {
		t.Error("no budget with a healthcheck")
	}
	if w := NewWait(c, t0, nil, true); w.Budget() != nil {
		t.Error("a budget without a healthcheck")
	}
}

// The probe gates the healthcheck: no exec is due before the probe
// passed, however long that takes, and it is due at once after.
func TestWaitProbeGatesTheHealthcheck(t *testing.T) {
	w := NewWait(c, t0, hc(time.Second, time.Second, 1000), true)
	now := t0
	for now.Before(at(time.Minute)) {
		if s := w.Next(now); s != Probe {
			t.Fatalf("Next at %s = %s before the probe passed, want probe", now.Sub(t0), s)
		}
		w.ProbeFailed(now, time.Millisecond)
		now = now.Add(w.Sleep(now))
	}
	w.ProbePassed(now)
	if s := w.Next(now); s != Exec {
		t.Fatalf("Next right after the probe passed = %s, want exec", s)
	}
	w.ExecFailed(now, 10*time.Millisecond)
	if s := w.Next(now.Add(c.ExecAfterGate - time.Millisecond)); s != Idle {
		t.Errorf("Next before ExecAfterGate after a failed exec = %s, want idle", s)
	}
	if s := w.Next(now.Add(c.ExecAfterGate)); s != Exec {
		t.Errorf("Next ExecAfterGate after a failed exec = %s, want exec", s)
	}
}

func TestWaitProbeOnly(t *testing.T) {
	w := NewWait(c, t0, nil, true)
	if w.Next(t0) != Probe {
		t.Fatal("the probe is not due first")
	}
	for i := range 100 {
		if w.ProbeFailed(at(time.Duration(i)*time.Hour), 0) {
			t.Fatal("unhealthy without a healthcheck")
		}
	}
	w.ProbePassed(at(time.Second))
	if s := w.Next(at(time.Second)); s != Ready {
		t.Errorf("Next after the probe passed = %s, want ready", s)
	}
}

// Probes start fast and slow down: doubling up to ProbeMax, then to a
// share of the time taken so far, at most ProbeSlowest.
func TestWaitProbeCadence(t *testing.T) {
	w := NewWait(c, t0, nil, true)
	var got []time.Duration
	for range 4 {
		got = append(got, w.Sleep(t0))
	}
	want := []time.Duration{c.ProbeFirst, 2 * c.ProbeFirst, 4 * c.ProbeFirst, c.ProbeMax}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sleeps = %v, want %v", got, want)
		}
	}
	// After 5s the pauses double on up to 5s/ProbeShare, not beyond.
	got = got[:0]
	for range 5 {
		got = append(got, w.Sleep(at(5*time.Second)))
	}
	want = []time.Duration{c.ProbeMax, 2 * c.ProbeMax, 4 * c.ProbeMax, 5 * time.Second / c.ProbeShare, 5 * time.Second / c.ProbeShare}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("sleeps after 5s = %v, want %v", got, want)
		}
	}
	for range 10 {
		w.Sleep(at(time.Hour))
	}
	if d := w.Sleep(at(time.Hour)); d != c.ProbeSlowest {
		t.Errorf("pause after an hour = %s, want %s", d, c.ProbeSlowest)
	}
}

// Without a probe, the first exec waits ExecFirst; then the pauses grow by
// half up to the interval (or ExecMax), and never fall below how long the
// last exec took.
func TestWaitExecCadence(t *testing.T) {
	w := NewWait(c, t0, hc(400*time.Millisecond, time.Second, 1000), false)
	if s := w.Next(at(c.ExecFirst - time.Millisecond)); s != Idle {
		t.Fatalf("Next before ExecFirst = %s", s)
	}
	if d := w.Sleep(t0); d != c.ExecFirst {
		t.Errorf("first sleep = %s, want %s", d, c.ExecFirst)
	}
	now := at(c.ExecFirst)
	var gaps []time.Duration
	for range 4 {
		if s := w.Next(now); s != Exec {
			t.Fatalf("Next at %s = %s, want exec", now.Sub(t0), s)
		}
		w.ExecFailed(now, 0)
		gap := w.Sleep(now)
		gaps = append(gaps, gap)
		now = now.Add(gap)
	}
	want := []time.Duration{250 * time.Millisecond, 375 * time.Millisecond, 400 * time.Millisecond, 400 * time.Millisecond}
	for i := range want {
		if gaps[i] != want[i] {
			t.Fatalf("gaps = %v, want %v", gaps, want)
		}
	}
	// A slow exec (a busy engine host) leaves at least as long.
	w.ExecFailed(now, 3*time.Second)
	if s := w.Next(now.Add(2999 * time.Millisecond)); s != Idle {
		t.Errorf("exec due before a pause as long as the last exec took: %s", s)
	}
	// Sleeps are capped by StateEvery (the state is read in between).
	if d := w.Sleep(now); d != c.StateEvery {
		t.Errorf("sleep = %s, want StateEvery %s", d, c.StateEvery)
	}
	// Once due, the wait sleeps the shortest.
	if d := w.Sleep(now.Add(time.Minute)); d != c.ProbeFirst {
		t.Errorf("sleep when due = %s, want %s", d, c.ProbeFirst)
	}
}

// Each probe failure is charged the healthcheck's timeout: a server that
// answers within retries × (interval + timeout) is not unhealthy, one that
// never answers is, at that budget. With interval 200ms, timeout 300ms and
// 3 retries, Docker with instant runs says unhealthy at 600ms; with 300ms
// runs at 1.5s.
func TestWaitProbeFailuresCountDockersLongestRuns(t *testing.T) {
	w := NewWait(c, t0, hc(200*time.Millisecond, 300*time.Millisecond, 3), true)
	fail := func(now time.Time) bool { return w.ProbeFailed(now, 5*time.Millisecond) }
	if d := firstUnhealthy(t, fail, 20*time.Millisecond); d != 1500*time.Millisecond {
		t.Errorf("unhealthy at %s, want 1.5s", d)
	}
}

// firstUnhealthy fails a check every step from t0 on and returns when the
// first failure made the wait unhealthy.
func firstUnhealthy(t *testing.T, fail func(now time.Time) bool, step time.Duration) time.Duration {
	t.Helper()
	for d := time.Duration(0); d <= time.Minute; d += step {
		if fail(at(d)) {
			return d
		}
	}
	t.Fatal("never unhealthy")
	return 0
}

// An exec failure counts as long as it took, against Docker's schedule.
func TestWaitExecFailuresUseTheBudget(t *testing.T) {
	w := NewWait(c, t0, &composeplan.HealthcheckSpec{Test: []string{"CMD", "check"}, Interval: 200 * time.Millisecond, Retries: 3, StartPeriod: 300 * time.Millisecond}, false)
	// Docker: runs at 200, 400, 600 (in the start period, not counted),
	// 800, 1000: unhealthy at the third counted failure, at 800ms.
	fail := func(now time.Time) bool { return w.ExecFailed(now, 0) }
	if d := firstUnhealthy(t, fail, 10*time.Millisecond); d != 800*time.Millisecond {
		t.Errorf("unhealthy at %s, want 800ms", d)
	}
}

func TestStepString(t *testing.T) {
	for s, want := range map[Step]string{Idle: "idle", Probe: "probe", Exec: "exec", Ready: "ready"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
	}
}
