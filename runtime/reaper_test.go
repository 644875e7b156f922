package runtime

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/owner"
)

// The reaper removes what it can prove dead, and what it cannot judge only
// after the age limit; it never touches a live owner's stack or a kept one
// (prune removes kept ones).
func TestReaperVerdicts(t *testing.T) {
	eng := newFakeEngine(t, nil)
	me := owner.Self()
	dead := me
	dead.Start = "1" // this pid with another start time: a previous process
	otherNS := me
	otherNS.PidNS = "999999"
	old := time.Now().Add(-7 * time.Hour)
	add := func(project string, id owner.ID, created time.Time, extra map[string]string) {
		l := id.Labels(created)
		l[label.Project] = project
		l[label.Managed] = "true"
		for k, v := range extra {
			l[k] = v
		}
		eng.add("volume", project+"_data", l)
		eng.add("network", project+"_default", l)
	}
	add("live", me, time.Now(), nil)
	add("dead", dead, time.Now(), nil)
	add("young-unknown", otherNS, time.Now(), nil)
	add("old-unknown", otherNS, old, nil)
	add("kept", dead, time.Now(), nil)
	add("kept", dead, time.Now(), map[string]string{label.Keep: "failure"})
	add("foreign", dead, time.Now(), map[string]string{label.Managed: "false"})

	remains := func() map[string]bool {
		out := map[string]bool{}
		l, _ := eng.List(context.Background(), nil)
		for _, r := range l {
			out[r.Labels[label.Project]] = true
		}
		return out
	}
	pruned, err := reap(context.Background(), eng, reapPolicy{maxAge: 6 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, p := range pruned {
		got[p.Project] = p.Reason
		if p.Resources != 2 {
			t.Errorf("%s: %d resources removed, want 2", p.Project, p.Resources)
		}
	}
	if len(got) != 2 || got["dead"] == "" || got["old-unknown"] == "" {
		t.Fatalf("reaped %v, want dead and old-unknown", got)
	}
	left := remains()
	for _, p := range []string{"live", "young-unknown", "kept", "foreign"} {
		if !left[p] {
			t.Errorf("%s was removed", p)
		}
	}
	// Prune: kept stacks go too, never a live one.
	pruned, err = reap(context.Background(), eng, reapPolicy{maxAge: 6 * time.Hour, kept: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(pruned) != 1 || pruned[0].Project != "kept" || pruned[0].Resources != 4 {
		t.Fatalf("prune removed %+v, want the kept project's 4 resources", pruned)
	}
	// One project by name: whatever its age, unless its owner runs.
	for _, p := range []string{"young-unknown", "live"} {
		pruned, err = reap(context.Background(), eng, reapPolicy{project: p, kept: true})
		if err != nil {
			t.Fatal(err)
		}
		if (len(pruned) == 1) != (p == "young-unknown") {
			t.Errorf("prune -p %s removed %+v", p, pruned)
		}
	}
	if left := remains(); !left["live"] || left["young-unknown"] {
		t.Errorf("left %v", left)
	}
}

// A reaper may start while another goroutine waits for the earlier ones
// (a sync.WaitGroup panicked there: "WaitGroup is reused before previous
// Wait has returned"), and the wait ends once those that ran end.
func TestReapersAddWhileWaiting(t *testing.T) {
	var r reapers
	select {
	case <-r.idle():
	default:
		t.Fatal("no reaper runs, yet idle is not closed")
	}
	for i := 0; i < 200; i++ {
		r.add()
		idle := r.idle()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); <-idle }()
		go func() { defer wg.Done(); r.add(); r.done() }()
		r.done()
		wg.Wait()
	}
	r.add()
	idle := r.idle()
	r.add()
	r.done()
	select {
	case <-idle:
		t.Fatal("idle closed while a reaper runs")
	default:
	}
	r.done()
	<-idle
}
