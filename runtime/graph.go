package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/diag"
)

// startAll starts every replica of every selected service concurrently,
// each after its service's dependencies, and waits until all are ready or
// one fails. The first failure cancels the others and is the error
// returned; a service that was not started because a dependency failed
// never hides that dependency's error.
func (s *Stack) startAll(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		var de *depError
		if firstErr == nil || (errors.As(firstErr, &de) && !errors.As(err, &de)) {
			firstErr = err
		}
		if !s.cfg.keepGoing {
			cancel()
		}
	}
	n := 0
	for _, u := range s.order {
		u.watch(ctx)
		for _, r := range u.replicas {
			if !r.resumed {
				n++
			}
		}
	}
	s.adm = admit(ctx, s.gate, n)
	defer s.adm.releaseAll()
	// The unclassified services wait for the others (see awaitGrace).
	s.othersReady = make(chan struct{})
	go func() {
		for _, u := range s.order {
			if u.life == lifeUnclassified {
				continue
			}
			for _, r := range u.replicas {
				select {
				case <-r.readyCh:
				case <-u.failed: // a shared start goes on without it (keepGoing)
				case <-ctx.Done():
					return
				}
			}
		}
		close(s.othersReady)
	}()
	// A container that stops while the stack comes up fails the start at
	// once, whatever state it had reached, unless it is a one-shot that
	// exited 0.
	allDone := make(chan struct{})
	defer close(allDone)
	for _, u := range s.order {
		for _, r := range u.replicas {
			go func() {
				select {
				case <-r.exitedCh:
					if err := r.exitError(); err != nil {
						// Failed before the cancel, so that a dependent
						// sees its dependency fail, not just the cancel.
						r.fail(err)
						u.fail(err)
						fail(err)
					}
				case <-allDone:
				}
			}()
		}
	}
	g := errgroup.Group{}
	for _, u := range s.order {
		for _, r := range u.replicas {
			if r.resumed {
				continue
			}
			g.Go(func() error {
				if err := r.run(ctx); err != nil {
					r.fail(err)
					u.fail(err)
					if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
						fail(err)
					}
				}
				return nil
			})
		}
	}
	_ = g.Wait()
	mu.Lock()
	err := firstErr
	mu.Unlock()
	if err != nil && !diag.IsCancel(err) {
		// The failing service first (its error has its cause and output),
		// then every other in one line.
		dctx, dcancel := context.WithTimeout(context.Background(), diagnosticsTimeout)
		err = fmt.Errorf("%w%s", err, s.others(dctx, failedBy(err)))
		dcancel()
	}
	if err == nil && ctx.Err() != nil {
		// The caller's context ended (or Down began): services that saw
		// the cancellation did not report it as their failure.
		err = ctx.Err()
	}
	if err == nil {
		err = s.sweep(ctx)
	}
	if err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return s.timeoutError(err)
	}
	return err
}

// sweep checks, once everything reported ready, that every container that
// is to run still does and was not restarted: Up returns only when every
// service answers.
func (s *Stack) sweep(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, u := range s.order {
		for _, r := range u.replicas {
			if r.isCompleted() {
				continue
			}
			g.Go(func() error {
				st, err := s.eng.Inspect(gctx, r.ContainerID())
				if err != nil {
					return fmt.Errorf("service %q: %w", r.label(), err)
				}
				_, err = r.judge(st)
				return err
			})
		}
	}
	return g.Wait()
}

// run brings one replica up: creates its container, waits for the
// service's dependencies, starts the container and waits until it is ready
// (a one-shot: until it exited 0; an unclassified service: see
// awaitGrace).
//
// Creation needs nothing from the dependencies (compose, too, creates every
// container before it starts any), so it happens at once, overlapping with
// the dependencies' start and readiness; only what names another container
// (links, network_mode: service:, volumes_from, pid, ipc) waits for it.
func (r *replica) run(ctx context.Context) error {
	st := r.stack
	if r.adopt.ID != "" {
		if err := r.adoptContainer(ctx); err != nil {
			return fmt.Errorf("service %q: %w", r.label(), err)
		}
		return r.finish(ctx)
	}
	early := len(containerRefs(r.spec)) == 0
	if early {
		if err := r.create(ctx); err != nil {
			return fmt.Errorf("service %q: %w", r.label(), err)
		}
	}
	for _, d := range r.spec.DependsOn {
		dep := st.units[d.Service]
		if dep == nil {
			continue // optional dependency that is not part of this stack
		}
		if err := r.waitFor(ctx, d, dep); err != nil {
			return err
		}
	}
	if !early {
		// links, volumes_from, pid and ipc name containers: those must
		// be started first (compose-go adds them to depends_on; a
		// hand-written plan may not).
		for _, ref := range containerRefs(r.spec) {
			if dep := st.units[ref.service]; dep != nil && dep != r.unit {
				if err := r.waitFor(ctx, composeplan.Dependency{Service: ref.service, Condition: "service_started"}, dep); err != nil {
					return fmt.Errorf("service %q: %s: %w", r.label(), ref.field, err)
				}
			}
		}
		if err := r.create(ctx); err != nil {
			return fmt.Errorf("service %q: %w", r.label(), err)
		}
	}
	if err := st.adm.wait(ctx); err != nil {
		return err
	}
	if err := r.start(ctx); err != nil {
		return fmt.Errorf("service %q: %w", r.label(), err)
	}
	return r.finish(ctx)
}

// adoptContainer binds the replica to the running container r.adopt, which
// another process's start created and started (see resumeUnits).
func (r *replica) adoptContainer(ctx context.Context) error {
	eng := r.stack.eng
	st, err := eng.Inspect(ctx, r.adopt.ID)
	if err != nil {
		return fmt.Errorf("inspect container: %w", err)
	}
	if p, ok := eng.(engine.Publisher); ok && st.Running {
		ports, err := p.Publish(ctx, r.adopt.ID)
		if err != nil {
			return fmt.Errorf("publish its ports to this process: %w", err)
		}
		st.Ports = ports
	}
	r.mu.Lock()
	r.id, r.name = r.adopt.ID, strings.TrimPrefix(r.adopt.Name, "/")
	r.base, r.tCreated, r.tStarted = st, st.StartedAt, st.StartedAt
	r.mu.Unlock()
	r.setState(st)
	go r.watchExit(r.stack.life, r.exitedCh, &r.exitOnce)
	return nil
}

// finish waits, once the replica's container runs, until it is ready.
func (r *replica) finish(ctx context.Context) error {
	st := r.stack
	close(r.startedCh)
	if err := r.awaitReady(ctx); err != nil {
		return err
	}
	released := false
	if r.unit.life == lifeUnclassified && !r.isCompleted() {
		// It runs: its start is over, whatever it turns out to be.
		st.adm.readyOne()
		released = true
		if err := r.awaitGrace(ctx); err != nil {
			return err
		}
	}
	if !r.isCompleted() {
		if err := r.readFiles(ctx); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.tReady = time.Now()
	r.mu.Unlock()
	close(r.readyCh)
	if !released {
		st.adm.readyOne()
	}
	return nil
}

// start starts the container, records the state it started in and watches
// for its exit.
func (r *replica) start(ctx context.Context) error {
	eng := r.stack.eng
	if err := eng.Start(ctx, r.ContainerID()); err != nil {
		return fmt.Errorf("start container: %w", err)
	}
	st, err := eng.Inspect(ctx, r.ContainerID())
	if err != nil {
		return fmt.Errorf("inspect container: %w", err)
	}
	r.mu.Lock()
	r.tStarted = time.Now()
	r.base = st
	r.mu.Unlock()
	r.setState(st)
	go r.watchExit(r.stack.life, r.exitedCh, &r.exitOnce)
	return nil
}

// watchExit waits for the container to stop while the stack lives, records
// its exit code and closes exited. A wait that fails (Podman's /events
// stream can end early) is retried, so that an exit is never lost: a
// dependent waiting for service_completed_successfully would wait for it
// until its timeout. It gives up when the stack ends or the container is
// gone.
func (r *replica) watchExit(ctx context.Context, exited chan struct{}, once *sync.Once) {
	var code int
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		var err error
		code, err = r.stack.eng.Wait(ctx, r.ContainerID())
		if err == nil {
			break
		}
		if ctx.Err() != nil || errors.Is(err, engine.ErrNotFound) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
	r.mu.Lock()
	r.exitCode = code
	r.tExited = time.Now()
	r.mu.Unlock()
	once.Do(func() { close(exited) })
}

// exit returns the exit code the watcher saw.
func (r *replica) exit() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exitCode
}

func (r *replica) isCompleted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.completed
}

// timeoutError explains a deadline or a cancellation: which services were
// not ready yet, with their last probe outputs and logs.
func (s *Stack) timeoutError(cause error) error {
	if s.adm != nil {
		if w, ok := s.adm.waited(); !ok {
			return fmt.Errorf("%w after %s; no container started: the stack waited %s for its turn, behind other stacks of this process (%s): give the start more time (WithTimeout), run fewer tests in parallel (go test -parallel), or raise %s",
				cause, time.Since(s.t0).Round(time.Millisecond), w.Round(time.Millisecond), s.gate.describe(), maxStartingEnv)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), diagnosticsTimeout)
	defer cancel()
	// In full: the services that were not ready and not waiting for a
	// dependency (what the start waited for); in one line: the others.
	full := func(r *replica) bool { return !closed(r.readyCh) && !r.waiting() }
	some := false
	for _, u := range s.order {
		for _, r := range u.replicas {
			some = some || full(r)
		}
	}
	if !some {
		full = func(r *replica) bool { return !closed(r.readyCh) }
	}
	var b strings.Builder
	for _, u := range s.order {
		for _, r := range u.replicas {
			if full(r) {
				fmt.Fprintf(&b, "\n%s", r.describe(ctx))
			}
			if full(r) && u.life == lifeOneShot && !closed(r.exitedCh) && closed(r.startedCh) {
				fmt.Fprintf(&b, "\n  (%s is a one-shot: the start waits until it exits; if it keeps running, set x-composegen: {oneshot: false} on it in the compose file)", r.label())
			}
		}
	}
	return fmt.Errorf("%w after %s; not ready:%s%s", cause, time.Since(s.t0).Round(time.Millisecond), b.String(), s.others(ctx, full))
}
