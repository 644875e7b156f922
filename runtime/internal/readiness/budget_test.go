package readiness

import (
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
)

var t0 = time.Unix(1000, 0)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestBudget(t *testing.T) {
	b := newBudget(&composeplan.HealthcheckSpec{Interval: 5 * time.Second, Retries: 3, StartPeriod: 12 * time.Second}, t0)
	// Docker runs at 5, 10 (start period), 15, 20, 25: unhealthy at 25s.
	for _, d := range []time.Duration{100 * time.Millisecond, 4 * time.Second, 11 * time.Second, 17 * time.Second, 24 * time.Second} {
		if b.Fail(at(d), 0) {
			t.Fatalf("unhealthy at %s", d)
		}
	}
	if !b.Fail(at(25*time.Second), 0) {
		t.Fatal("not unhealthy at 25s")
	}
	// Slow checks stretch the schedule: with 2s per check, runs at 5-7,
	// 12-14, 19-21: unhealthy only at 21s.
	b = newBudget(&composeplan.HealthcheckSpec{Interval: 5 * time.Second, Retries: 3}, t0)
	if b.Fail(at(20*time.Second), 2*time.Second) {
		t.Fatal("unhealthy at 20s")
	}
	if !b.Fail(at(21*time.Second), 2*time.Second) {
		t.Fatal("not unhealthy at 21s")
	}
	// Defaults: interval 30s, 3 retries.
	b = newBudget(&composeplan.HealthcheckSpec{}, t0)
	if b.Fail(at(89*time.Second), 0) || !b.Fail(at(90*time.Second), 0) {
		t.Fatal("default budget is not 90s")
	}
}

// A failure counts for every one of Docker's runs that would have happened
// by then, whether we checked in between or not: one late failure can
// exhaust the whole budget.
func TestBudgetOneLateFailureCountsEveryMissedRun(t *testing.T) {
	b := newBudget(&composeplan.HealthcheckSpec{Interval: time.Second, Retries: 2}, t0)
	if !b.Fail(at(2*time.Second), 0) {
		t.Fatal("a failure at 2s, after Docker's runs at 1s and 2s, is not unhealthy with 2 retries")
	}
}

// A run that starts in the start period does not count, even when it ends
// after it; the first run that starts at its end does.
func TestBudgetStartPeriodBoundary(t *testing.T) {
	b := newBudget(&composeplan.HealthcheckSpec{Interval: time.Second, Retries: 1, StartPeriod: 2 * time.Second}, t0)
	if b.Fail(at(1999*time.Millisecond), 500*time.Millisecond) {
		t.Fatal("unhealthy within the start period")
	}
	// Runs: 1-1.5 (start period), 2.5-3 (counts).
	if b.Fail(at(2999*time.Millisecond), 500*time.Millisecond) {
		t.Fatal("unhealthy before the first counted run ended")
	}
	if !b.Fail(at(3*time.Second), 500*time.Millisecond) {
		t.Fatal("not unhealthy when the first counted run failed")
	}
}

func TestBudgetString(t *testing.T) {
	b := newBudget(&composeplan.HealthcheckSpec{Interval: 200 * time.Millisecond, StartPeriod: time.Second}, t0)
	if got, want := b.String(), "start_period 1s, then 3 consecutive failures every 200ms"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
