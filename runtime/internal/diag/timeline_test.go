package diag

import (
	"testing"
	"time"
)

func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	tl := Timeline{Project: "p1", T0: t0, Nets: at(12), Rows: []Row{
		{Label: "db", Created: at(20), Started: at(31), Ready: at(1500)},
		{Label: "migrate", Created: at(21), Started: at(1510), Exited: at(2000), ExitCode: 3},
		{Label: "app"},
	}}
	want := "composegen: stack p1 timeline (networks and volumes 12ms):" +
		"\n  db                   created 20ms     started 31ms     ready 1500ms  " +
		"\n  migrate              created 21ms     started 1510ms   ready -        exited 2000ms (code 3)" +
		"\n  app                  created -        started -        ready -       "
	if got := tl.String(); got != want {
		t.Errorf("Timeline:\n%q\nwant:\n%q", got, want)
	}
	tl.Rows, tl.Nets = nil, time.Time{}
	tl.Waited, tl.Turn = 1234*time.Millisecond, "at most 1 containers starting at once, ENV=4"
	if got, want := tl.String(), "composegen: stack p1 timeline (networks and volumes -; waited 1234ms for its turn to start: at most 1 containers starting at once, ENV=4):"; got != want {
		t.Errorf("Timeline with a wait:\n%q\nwant:\n%q", got, want)
	}
}
