package reap

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A background reap removes what a dead owner left and then sweeps; a
// second start on the same engine endpoint within reapEvery does not reap
// again, one on another endpoint does; COMPOSEGEN_NO_REAP turns it off.
func TestStart(t *testing.T) {
	defer func(d time.Duration) { reapEvery = d }(reapEvery)
	reapEvery = time.Hour // no timing: a second start is always "recent"
	var sweeps atomic.Int32
	h := Hooks{Sweep: func() { sweeps.Add(1) }}
	ctx := context.Background()

	eng := newFake(t)
	addProject(eng, "dead", deadOwner(), time.Now(), nil)
	Start(eng, h)
	Wait(ctx)
	if eng.projects()["dead"] || sweeps.Load() != 1 {
		t.Fatalf("after a background reap: left %v, %d sweeps", eng.projects(), sweeps.Load())
	}

	addProject(eng, "dead2", deadOwner(), time.Now(), nil)
	Start(eng, h)
	Wait(ctx)
	if !eng.projects()["dead2"] || sweeps.Load() != 1 {
		t.Errorf("a second start within reapEvery reaped again (left %v, %d sweeps)", eng.projects(), sweeps.Load())
	}

	other := newFake(t)
	addProject(other, "dead", deadOwner(), time.Now(), nil)
	Start(other, h)
	Wait(ctx)
	if other.projects()["dead"] {
		t.Errorf("another endpoint was not reaped")
	}

	t.Setenv("COMPOSEGEN_NO_REAP", "1")
	off := newFake(t)
	addProject(off, "dead", deadOwner(), time.Now(), nil)
	Start(off, h)
	Wait(ctx)
	if !off.projects()["dead"] || off.lists != 0 {
		t.Errorf("COMPOSEGEN_NO_REAP=1: the engine was listed %d times", off.lists)
	}
}

// Wait returns when its context ends, even while a reaper runs.
func TestWaitBoundByContext(t *testing.T) {
	reaping.add()
	defer reaping.done()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	Wait(ctx) // would block forever without ctx
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
