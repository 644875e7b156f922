package diag

import (
	"fmt"
	"strings"
	"time"
)

// Timeline is when a stack's resources and containers were created,
// started and ready.
type Timeline struct {
	Project string
	// T0 is the start of Up; Nets when its networks and volumes existed.
	T0, Nets time.Time
	// Waited is how long the start waited for its turn (0: it did not),
	// Turn what bounds the turns.
	Waited time.Duration
	Turn   string
	Rows   []Row
}

// Row is one replica's times, zero when it did not happen.
type Row struct {
	Label                           string
	Created, Started, Ready, Exited time.Time
	ExitCode                        int
}

// String renders the timeline, times relative to T0 in milliseconds ("-"
// when a step did not happen). The caller masks it.
func (t Timeline) String() string {
	var b strings.Builder
	ms := func(at time.Time) string {
		if at.IsZero() {
			return "-"
		}
		return fmt.Sprintf("%dms", at.Sub(t.T0).Milliseconds())
	}
	fmt.Fprintf(&b, "composegen: stack %s timeline (networks and volumes %s", t.Project, ms(t.Nets))
	if t.Waited > 0 {
		fmt.Fprintf(&b, "; waited %dms for its turn to start: %s", t.Waited.Milliseconds(), t.Turn)
	}
	b.WriteString("):")
	for _, r := range t.Rows {
		fmt.Fprintf(&b, "\n  %-20s created %-8s started %-8s ready %-8s", r.Label, ms(r.Created), ms(r.Started), ms(r.Ready))
		if !r.Exited.IsZero() {
			fmt.Fprintf(&b, " exited %s (code %d)", ms(r.Exited), r.ExitCode)
		}
	}
	return b.String()
}
