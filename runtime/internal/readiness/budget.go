package readiness

import (
	"fmt"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
)

// Budget decides when Docker would declare a container unhealthy: it runs
// the healthcheck every interval (each run bounded by its timeout, the
// first one interval after the start), failures during start_period do not
// count, and retries consecutive failures make it unhealthy. We check
// faster than the interval, so our failures are mapped onto Docker's
// schedule: a failure counts for every one of Docker's runs that would
// have happened by then. The budget is never shorter than Docker's.
type Budget struct {
	interval, startPeriod time.Duration
	retries               int
	start                 time.Time
	next                  time.Time // Docker's next run
	failures              int
}

// newBudget returns the budget of healthcheck hc for a container that
// started at start, with Docker's defaults for what hc leaves unset.
func newBudget(hc *composeplan.HealthcheckSpec, start time.Time) *Budget {
	b := &Budget{interval: hc.Interval, startPeriod: hc.StartPeriod, retries: hc.Retries, start: start}
	if b.interval <= 0 {
		b.interval = defaultInterval
	}
	if b.retries <= 0 {
		b.retries = defaultRetries
	}
	b.next = start.Add(b.interval)
	return b
}

// Fail records a failed check that ended at now after running for took; it
// reports whether Docker would have declared the container unhealthy. Each
// of Docker's runs is taken to last took too: the run that starts at next
// fails at next+took, and the one after it starts interval later.
func (b *Budget) Fail(now time.Time, took time.Duration) bool {
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

// String describes the budget for an error: "start_period 10s, then 3
// consecutive failures every 5s".
func (b *Budget) String() string {
	return fmt.Sprintf("start_period %s, then %d consecutive failures every %s", b.startPeriod, b.retries, b.interval)
}
