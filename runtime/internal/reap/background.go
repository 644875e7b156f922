package reap

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

// The background reaper runs at each start, at most once every reapEvery
// per engine, so that a start right after a kill still cleans up.
var (
	reapEvery = 2 * time.Second
	reapMu    sync.Mutex
	reapLast  = map[string]time.Time{}
	reaping   reapers
)

// Start reaps eng in the background (Projects with OrphanAge, then
// Hooks.Sweep) unless it ran for the same engine endpoint in the last
// seconds or COMPOSEGEN_NO_REAP is set.
func Start(eng engine.Engine, h Hooks) {
	if os.Getenv("COMPOSEGEN_NO_REAP") != "" {
		return
	}
	key := eng.Info().Endpoint
	reapMu.Lock()
	if time.Since(reapLast[key]) < reapEvery {
		reapMu.Unlock()
		return
	}
	reapLast[key] = time.Now()
	reaping.add()
	reapMu.Unlock()
	go func() {
		defer reaping.done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = Projects(ctx, eng, Policy{MaxAge: OrphanAge()}, h)
		h.sweep()
	}()
}

// Wait waits for the background reapers that run, at most until ctx ends
// (a short-lived process must not exit half-way through one).
func Wait(ctx context.Context) {
	select {
	case <-reaping.idle():
	case <-ctx.Done():
	}
}

// reapers counts the background reapers. Unlike a sync.WaitGroup, it may
// get a new reaper while another goroutine waits for the earlier ones to
// end (parallel tests start stacks while others end).
type reapers struct {
	mu   sync.Mutex
	n    int
	none chan struct{} // closed when n drops to 0; nil while n is 0
}

func (r *reapers) add() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		r.none = make(chan struct{})
	}
	r.n++
}

func (r *reapers) done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n--
	if r.n == 0 {
		close(r.none)
		r.none = nil
	}
}

// idle returns a channel that is closed once no reaper that runs now runs.
func (r *reapers) idle() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	return r.none
}
