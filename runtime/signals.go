package runtime

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// Live stacks of this process, torn down on SIGINT/SIGTERM.
var live struct {
	sync.Mutex
	stacks  map[*Stack]bool
	handler bool
	// starting holds, for each stack whose Up is in progress, a channel
	// closed when that Up returns: Down waits for it, so that nothing a
	// start creates after Down listed the stack's resources survives.
	starting map[*Stack]chan struct{}
	// closing is set once a signal is being handled: starts still to
	// come are cancelled at once.
	closing bool
}

// beginStart binds a start to the stack's life: the returned context is
// cancelled when Down begins (or a signal is being handled), and end must be
// called when the start returns.
func (s *Stack) beginStart(ctx context.Context) (_ context.Context, end func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.life, cancel)
	done := make(chan struct{})
	live.Lock()
	if live.starting == nil {
		live.starting = map[*Stack]chan struct{}{}
	}
	live.starting[s] = done
	if live.closing {
		cancel()
	}
	live.Unlock()
	return ctx, func() {
		stop()
		cancel()
		live.Lock()
		delete(live.starting, s)
		live.Unlock()
		close(done)
	}
}

// awaitStart waits until an Up of s in progress has returned, or ctx ends.
func (s *Stack) awaitStart(ctx context.Context) {
	live.Lock()
	done := live.starting[s]
	live.Unlock()
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

func register(s *Stack) {
	live.Lock()
	defer live.Unlock()
	if live.stacks == nil {
		live.stacks = map[*Stack]bool{}
	}
	live.stacks[s] = true
	if !live.handler && os.Getenv("COMPOSEGEN_NO_SIGNAL_HANDLER") == "" {
		live.handler = true
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		go onSignal(ch)
	}
}

func unregister(s *Stack) {
	live.Lock()
	defer live.Unlock()
	delete(live.stacks, s)
}

// liveStacks returns the stacks of this process that are not torn down.
func liveStacks() []*Stack {
	live.Lock()
	defer live.Unlock()
	out := make([]*Stack, 0, len(live.stacks))
	for s := range live.stacks {
		out = append(out, s)
	}
	return out
}

// onSignal tears down every live stack, then lets the signal do what it
// would have done without us.
func onSignal(ch chan os.Signal) {
	sig := <-ch
	live.Lock()
	live.closing = true
	live.Unlock()
	stacks := liveStacks()
	fmt.Fprintf(os.Stderr, "composegen: %v: removing %d stack(s)\n", sig, len(stacks))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	var wg sync.WaitGroup
	for _, s := range stacks {
		wg.Add(1)
		go func() { defer wg.Done(); _ = s.Down(ctx) }()
	}
	wg.Wait()
	cancel()
	signal.Reset(os.Interrupt, syscall.SIGTERM)
	p, _ := os.FindProcess(os.Getpid())
	_ = p.Signal(sig)
	time.Sleep(time.Second)
	os.Exit(1)
}
