package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/lock"
	"github.com/composegen/composegen/runtime/internal/owner"
	"github.com/composegen/composegen/runtime/internal/reap"
)

// Per-test readiness on the one shared stack.
//
// Shared with WithServices attaches to the run's one shared stack and waits
// only for the named services, their dependencies and the one-shots that
// feed them (its "closure"). The start of a shared stack therefore goes on
// past a failed service (config.keepGoing): a broken broker does not stop
// the database that other tests wait for. The start records each service
// as it becomes ready, in a file beside the stack's lock (readyFile, with
// the run's scope on its first line), and the services that failed in its
// failure file; a test binary that waits for a closure while another one
// starts the stack reads them and, once its closure is ready, rebuilds a
// Stack of only those services from their containers. In the process that
// starts the stack, the waiters watch the start's own units instead.
//
// A test binary that started the stack may end (its tests are done) before
// the rest of the stack is ready: its start dies with it. The next process
// of the run that takes the lock then completes that start (resume): it
// attaches to the services the file says are ready, which other tests may
// be using, and starts the others; it never removes a ready service.

// sharedWant returns the closure a Shared call waits for, nil for the whole
// stack. When WithServices names services that the active profiles start
// anyway, the call is for the whole shared stack (cfg.services cleared) and
// waits for the closure; otherwise the named services make a stack of their
// own, as before (want nil).
func sharedWant(plan *composeplan.Plan, cfg *config) ([]string, error) {
	if len(cfg.services) == 0 {
		return nil, nil
	}
	part, err := selectServices(plan, *cfg)
	if err != nil {
		return nil, err
	}
	all := *cfg
	all.services = nil
	full, err := selectServices(plan, all)
	if err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, sp := range full {
		in[sp.Name] = true
	}
	want := make([]string, 0, len(part))
	for _, sp := range part {
		if !in[sp.Name] {
			return nil, nil
		}
		want = append(want, sp.Name)
	}
	cfg.services = nil
	return want, nil
}

// view returns a Stack that holds only the want services of s (s itself
// for nil): what Shared with WithServices returns. The services are s's own.
func (s *Stack) view(want []string, key string) *Stack {
	v := &Stack{
		plan: s.plan, cfg: s.cfg, eng: s.eng, info: s.info, project: s.project, dir: s.dir,
		res: s.res, mask: s.mask, t0: s.t0, tNets: s.tNets, owner: s.owner, created: s.created,
		life: s.life, cancel: func() {},
		units: map[string]*unit{}, networks: s.networks, volumes: s.volumes,
		shared: true, sharedKey: key,
	}
	for _, u := range s.order {
		if want == nil || slices.Contains(want, u.spec.Name) {
			v.order = append(v.order, u)
			v.units[u.spec.Name] = u
		}
	}
	return v
}

// closureState says whether the want units of s (a start in progress in
// this process) are all ready, or one of them failed (its error).
func closureState(s *Stack, want []string) (ready bool, err error) {
	ready = true
	for _, n := range want {
		u := s.units[n]
		if u == nil {
			return false, fmt.Errorf("service %q is not part of the shared stack", n)
		}
		switch {
		case closed(u.failed):
			u.mu.Lock()
			err := u.err
			u.mu.Unlock()
			return false, err
		case !closed(u.healthy):
			ready = false
		}
	}
	return ready, nil
}

// waitPart waits until the want services of the shared stack of e are
// ready and returns a Stack of them, or the error of the one that failed.
func (e *sharedEntry) waitPart(ctx context.Context, want []string) (*Stack, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		done := closed(e.done)
		if s, err, ok := e.part(ctx, want, done); ok {
			return s, err
		}
		if done {
			return nil, e.err
		}
		select {
		case <-e.done:
		case <-tick.C:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for services %s of the shared stack: %w", strings.Join(want, ", "), ctx.Err())
		}
	}
}

// part looks once at the progress of the shared stack for want: from the
// start in this process, the stack this process attached to, or the files
// of the process that starts it. ok is false while it cannot tell.
func (e *sharedEntry) part(ctx context.Context, want []string, done bool) (s *Stack, err error, ok bool) {
	if done && e.err == nil {
		return e.s.view(want, e.s.sharedKey), nil, true
	}
	e.mu.Lock()
	st, sh := e.st, e.sh
	e.mu.Unlock()
	if st != nil {
		ready, err := closureState(st, want)
		switch {
		case err != nil:
			return nil, &startError{msg: st.mask.String(fmt.Sprintf("shared stack of %s: %v", st.plan.Name, err)), err: err}, true
		case ready:
			e.mu.Lock()
			e.used = true
			e.mu.Unlock()
			return st.view(want, sh.keys.key), nil, true
		}
		return nil, nil, false
	}
	if sh == nil {
		return nil, nil, false
	}
	ready, failed, msg := sh.progress()
	for _, n := range want {
		if failed[n] {
			return nil, &startError{msg: msg, err: errors.New(msg)}, true
		}
	}
	for _, n := range want {
		if !ready[n] {
			return nil, nil, false
		}
	}
	list, lerr := sh.eng.List(ctx, map[string]string{label.Managed: "true", label.Shared: sh.keys.key})
	if lerr != nil {
		return nil, nil, false
	}
	part, rerr := sh.rebuild(ctx, list, want)
	if rerr != nil {
		// Being replaced or completed by another process: look again.
		return nil, nil, false
	}
	return part, nil, true
}

func (sh *sharedStart) readyFile() string {
	return lock.SharedBase(sh.keys.key) + ".ready"
}

// resetReady starts the ready file of a new start of the stack.
func (sh *sharedStart) resetReady() {
	_ = os.WriteFile(sh.readyFile(), []byte(sh.run.scope+"\n"), 0o600)
}

// markReady records that service is ready (every replica), for the test
// binaries that wait for part of the stack.
func (sh *sharedStart) markReady(service string) {
	f, err := os.OpenFile(sh.readyFile(), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	_, _ = f.WriteString(service + "\n")
	_ = f.Close()
}

// readyServices returns the services that the start of this run recorded
// as ready.
func (sh *sharedStart) readyServices() map[string]bool {
	b, err := os.ReadFile(sh.readyFile())
	if err != nil {
		return nil
	}
	lines := strings.Split(string(b), "\n")
	if lines[0] != sh.run.scope {
		return nil
	}
	ready := map[string]bool{}
	for _, l := range lines[1:] {
		if l != "" {
			ready[l] = true
		}
	}
	return ready
}

// progress returns what the start of this run recorded: the services ready,
// the services failed and the failure's message.
func (sh *sharedStart) progress() (ready, failed map[string]bool, msg string) {
	failed = map[string]bool{}
	names, msg := sh.readFailureOf()
	for _, n := range names {
		failed[n] = true
	}
	return sh.readyServices(), failed, msg
}

// resumable returns the running containers of the services that a start
// of this run recorded as ready before its process ended, nil when there is
// nothing to resume (no such start, a kept stack of another run, or a
// container that no longer runs as it did).
func (sh *sharedStart) resumable(ctx context.Context, list []engine.Resource) (map[string][]engine.Resource, *owner.ID) {
	ready := sh.readyServices()
	if len(ready) == 0 {
		return nil, nil
	}
	out := map[string][]engine.Resource{}
	var own *owner.ID
	for _, r := range list {
		if r.Kind != engine.KindContainer || r.Labels[label.Project] != sh.project {
			continue
		}
		if id, _, ok := owner.FromLabels(r.Labels); ok && own == nil {
			own = &id
		}
		if svc := r.Labels[label.Service]; ready[svc] {
			out[svc] = append(out[svc], r)
		}
	}
	for n := range ready {
		if len(out[n]) == 0 {
			return nil, nil
		}
	}
	if own == nil {
		return nil, nil
	}
	return out, own
}

// resumeUnits binds the replicas of the services of cfg.resume to their
// running containers; a service whose every replica's container runs but
// was not ready yet is adopted (this start waits for it, as the
// interrupted one would have); what the interrupted start left of the
// others is removed, and this start runs them.
func (s *Stack) resumeUnits(ctx context.Context) error {
	for _, u := range s.order {
		cs, ok := s.cfg.resume[u.spec.Name]
		if !ok {
			if s.adoptUnit(ctx, u) {
				continue
			}
			_, err := reap.Remove(ctx, s.eng, map[string]string{label.Managed: "true", label.Project: s.project, label.Service: u.spec.Name}, nil, nil)
			if err != nil {
				return fmt.Errorf("service %q: remove what the interrupted start left: %w", u.spec.Name, err)
			}
			continue
		}
		byNumber := map[string]engine.Resource{}
		for _, c := range cs {
			byNumber[c.Labels[label.Number]] = c
		}
		for _, r := range u.replicas {
			if err := r.attach(ctx, byNumber[fmt.Sprint(r.number)]); err != nil {
				return err
			}
			r.resumed = true
		}
	}
	return nil
}

// adoptUnit sets, when every replica of u has a running container of the
// interrupted start, each replica's container to adopt.
func (s *Stack) adoptUnit(ctx context.Context, u *unit) bool {
	list, err := s.eng.List(ctx, map[string]string{label.Managed: "true", label.Project: s.project, label.Service: u.spec.Name})
	if err != nil {
		return false
	}
	byNumber := map[string]engine.Resource{}
	for _, c := range list {
		if c.Kind == engine.KindContainer {
			byNumber[c.Labels[label.Number]] = c
		}
	}
	if len(byNumber) != len(u.replicas) {
		return false
	}
	for _, r := range u.replicas {
		c, ok := byNumber[fmt.Sprint(r.number)]
		if !ok {
			return false
		}
		st, err := s.eng.Inspect(ctx, c.ID)
		if err != nil || !st.Running || st.Restarting || st.Paused || st.RestartCount > 0 {
			return false
		}
	}
	for _, r := range u.replicas {
		r.adopt = byNumber[fmt.Sprint(r.number)]
	}
	return true
}
