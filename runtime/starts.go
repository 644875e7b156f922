package runtime

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/composegen/composegen/runtime/engine"
)

// maxStartingEnv overrides how many containers of one process may be
// starting at once on one engine.
const maxStartingEnv = "COMPOSEGEN_MAX_STARTING"

// startsPerCPU is the default bound: containers starting at once per CPU
// of the engine's host. Twenty PostgreSQL+Redis stacks started at once on 2
// CPUs took up to 90 s from a PostgreSQL container's start to its first
// answer (each server's initialisation competing with 39 others), past the
// 80 s its healthcheck allows; four stacks at a time initialise in a few
// seconds each, and the twenty are ready no later.
const startsPerCPU = 4

// startGate bounds the containers of this process that are starting (from
// their start until they are ready, or fail) at once on one engine. It
// admits whole stacks, first come first served: a stack's containers start
// together, as compose starts them, so that a container never waits for a
// slot while a service it needs is queued behind it. A stack larger than
// the bound is admitted alone.
type startGate struct {
	size int64
	sem  *semaphore.Weighted
}

var (
	gatesMu sync.Mutex
	gates   = map[string]*startGate{} // by engine endpoint
)

// gateFor returns the gate of the engine, nil when starts are not bounded:
// the engine does not say how many CPUs its host has (Kubernetes: the
// cluster schedules), or COMPOSEGEN_MAX_STARTING (its value is v, from the
// start's config) is 0.
func gateFor(info engine.Info, v string) (*startGate, error) {
	size := int64(info.CPUs * startsPerCPU)
	if strings.TrimSpace(v) != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s=%q: want the number of containers this process may start at once on one engine (0: no bound)", maxStartingEnv, v)
		}
		size = int64(n)
	}
	if size <= 0 {
		return nil, nil
	}
	gatesMu.Lock()
	defer gatesMu.Unlock()
	key := info.Endpoint + " " + strconv.FormatInt(size, 10)
	g := gates[key]
	if g == nil {
		g = &startGate{size: size, sem: semaphore.NewWeighted(size)}
		gates[key] = g
	}
	return g, nil
}

// admission is one stack's place at the gate: the slots it holds until
// its containers are ready.
type admission struct {
	gate     *startGate
	done     chan struct{} // closed when admitted (at once without a gate)
	mu       sync.Mutex
	left     int64 // the stack's containers not yet ready
	held     int64 // slots held: min(left, the gate's size) once admitted
	over     bool  // releaseAll ran: slots granted later go back at once
	queued   bool  // there was no room when it asked: it waited its turn
	asked    time.Time
	admitted time.Time
}

// admit queues the stack for n slots (at most the gate's size) and returns
// at once; admission.done is closed when they are granted. ctx bounds the
// wait.
func admit(ctx context.Context, g *startGate, n int) *admission {
	a := &admission{gate: g, done: make(chan struct{}), asked: time.Now(), left: int64(n)}
	if g == nil || n == 0 {
		a.admitted = a.asked
		close(a.done)
		return a
	}
	w := min(int64(n), g.size)
	if g.sem.TryAcquire(w) { // nobody queues ahead, and there is room
		a.held, a.admitted = w, a.asked
		close(a.done)
		return a
	}
	a.queued = true
	go func() {
		if err := g.sem.Acquire(ctx, w); err != nil {
			return // the start ends; the waiters see ctx
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.over {
			g.sem.Release(w)
			return
		}
		a.held, a.admitted = w, time.Now()
		close(a.done)
	}()
	return a
}

// wait returns when the stack may start its containers, or ctx's error.
func (a *admission) wait(ctx context.Context) error {
	select {
	case <-a.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readyOne notes that one of the stack's containers is ready: a stack
// larger than the gate keeps it all until fewer than its size are left.
func (a *admission) readyOne() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.left = max(a.left-1, 0)
	a.releaseLocked(a.held - min(a.held, a.left))
}

// releaseAll gives back every slot still held: the start is over.
func (a *admission) releaseAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.over = true
	a.releaseLocked(a.held)
}

func (a *admission) releaseLocked(n int64) {
	if n > 0 {
		a.held -= n
		a.gate.sem.Release(n)
	}
}

// waited is how long the stack waited for its slots (so far, while it
// still waits; 0 when it was admitted at once) and whether it was
// admitted.
func (a *admission) waited() (time.Duration, bool) {
	select {
	case <-a.done:
		a.mu.Lock()
		defer a.mu.Unlock()
		if !a.queued {
			return 0, true
		}
		return a.admitted.Sub(a.asked), true
	default:
		return time.Since(a.asked), false
	}
}

// describe says what the gate bounds, for the timeline and errors.
func (g *startGate) describe() string {
	return fmt.Sprintf("at most %d containers of this process starting at once on this engine", g.size)
}
