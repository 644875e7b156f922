package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/internal/readiness"
)

// A unit is one compose service of a stack: its replicas, and the events
// its dependents wait for. Each event closes when every replica reached it.
type unit struct {
	stack    *Stack
	spec     *composeplan.ServiceSpec
	replicas []*replica

	// life is the service's lifecycle: what ready means for it.
	life lifecycle
	// neededHealthy is set when a dependent waits for service_healthy.
	neededHealthy bool
	// unclassifiedLog says once that the runtime took the service as
	// long-running.
	unclassifiedLog sync.Once

	once      sync.Once
	started   chan struct{} // every replica runs (or ran)
	healthy   chan struct{} // every replica is ready and runs
	completed chan struct{} // every replica exited with code 0
	failed    chan struct{} // a replica failed to start
	mu        sync.Mutex
	err       error
}

func newUnit(s *Stack, spec *composeplan.ServiceSpec) *unit {
	return &unit{
		stack: s, spec: spec,
		started:   make(chan struct{}),
		healthy:   make(chan struct{}),
		completed: make(chan struct{}),
		failed:    make(chan struct{}),
	}
}

// lifecycle is what ready means for a service (see composeplan's
// Lifecycle constants).
type lifecycle int

const (
	// lifeUnclassified: waited for as a one-shot until the rest of the
	// stack is ready and it has run for composeplan.UnclassifiedGrace, then
	// taken as
	// a worker.
	lifeUnclassified lifecycle = iota
	// lifeOneShot: ready once it exited 0.
	lifeOneShot
	// lifeWorker: ready once it runs and answers; an exit fails.
	lifeWorker
)

// classifyUnits decides each service's lifecycle: the plan's, as the
// generator decided it from what the service is; for a service the
// generator could not classify (or a plan written before the field
// existed), the signs the plan itself carries: a dependent waiting for
// service_completed_successfully makes it a one-shot; a kind, a
// healthcheck, ports, restart always or unless-stopped, a terminal (tty,
// stdin_open), or a dependent waiting for service_healthy make it a
// worker. What is left is unclassified.
func (s *Stack) classifyUnits() {
	completes := map[string]bool{}
	for _, u := range s.order {
		for _, d := range u.spec.DependsOn {
			dep := s.units[d.Service]
			if dep == nil {
				continue
			}
			switch d.Condition {
			case "service_healthy":
				dep.neededHealthy = true
			case "service_completed_successfully":
				completes[d.Service] = true
			}
		}
	}
	for _, u := range s.order {
		spec := u.spec
		switch {
		case spec.Lifecycle == composeplan.LifecycleOneShot:
			u.life = lifeOneShot
		case spec.Lifecycle == composeplan.LifecycleWorker:
			u.life = lifeWorker
		case completes[spec.Name]:
			u.life = lifeOneShot
		case u.neededHealthy || readiness.Enabled(spec.Healthcheck) || spec.Kind != "" || len(spec.Ports) > 0 ||
			spec.Restart == "always" || spec.Restart == "unless-stopped" || spec.Tty || spec.StdinOpen:
			u.life = lifeWorker
		default:
			u.life = lifeUnclassified
		}
	}
}

// mayComplete reports whether an exit with code 0 completes the service
// instead of failing it: a one-shot, or an unclassified service (a
// migration that nothing names as such), unless a dependent needs it
// healthy.
func (u *unit) mayComplete() bool {
	return u.life != lifeWorker && !u.neededHealthy
}

// fail records the unit's first failure and wakes its dependents.
func (u *unit) fail(err error) {
	u.mu.Lock()
	if u.err == nil {
		u.err = err
	}
	u.mu.Unlock()
	u.once.Do(func() { close(u.failed) })
}

// watch closes the unit's events as its replicas reach them.
func (u *unit) watch(ctx context.Context) {
	all := func(pick func(r *replica) chan struct{}, done chan struct{}, then func()) {
		for _, r := range u.replicas {
			select {
			case <-pick(r):
			case <-u.failed:
				return
			case <-ctx.Done():
				return
			}
		}
		close(done)
		if then != nil {
			then()
		}
	}
	var ready func()
	if f := u.stack.cfg.onReady; f != nil {
		ready = func() { f(u.spec.Name) }
	}
	go all(func(r *replica) chan struct{} { return r.startedCh }, u.started, nil)
	go all(func(r *replica) chan struct{} { return r.readyCh }, u.healthy, ready)
	go all(func(r *replica) chan struct{} { return r.exitedCh }, u.completed, nil)
}

// waiting reports whether the replica was not started because it waits for
// a dependency's condition.
func (r *replica) waiting() bool {
	if closed(r.startedCh) {
		return false
	}
	for _, d := range r.spec.DependsOn {
		dep := r.stack.units[d.Service]
		if dep == nil {
			continue
		}
		ch := dep.started
		switch d.Condition {
		case "service_healthy":
			ch = dep.healthy
		case "service_completed_successfully":
			ch = dep.completed
		}
		if !closed(ch) {
			return true
		}
	}
	return false
}

// waitFor blocks until dependency d's condition holds for dep.
func (r *replica) waitFor(ctx context.Context, d composeplan.Dependency, dep *unit) error {
	var ch chan struct{}
	switch d.Condition {
	case "service_healthy":
		ch = dep.healthy
	case "service_completed_successfully":
		ch = dep.completed
	default:
		ch = dep.started
	}
	select {
	case <-ch:
	case <-dep.failed:
		return &depError{service: r.label(), dep: d.Service}
	case <-ctx.Done():
		// A failed dependency cancels the start (a deadline is not a
		// failure of it): say so, whichever of the two this select saw
		// first.
		if closed(dep.failed) && errors.Is(ctx.Err(), context.Canceled) {
			return &depError{service: r.label(), dep: d.Service}
		}
		return ctx.Err()
	}
	switch d.Condition {
	case "service_healthy":
		for _, rep := range dep.replicas {
			if rep.isCompleted() {
				return fmt.Errorf("service %q: dependency %q exited with code 0, but %q needs it healthy (service_healthy); give it a healthcheck that passes while it runs, or use service_completed_successfully", r.label(), rep.label(), r.label())
			}
		}
	case "service_completed_successfully":
		for _, rep := range dep.replicas {
			if code := rep.exit(); code != 0 {
				// The dependency's own error, as its exit watcher reports it
				// (whichever comes first is the start's error: the same);
				// the failure dump lists r as not started.
				if err := rep.exitError(); err != nil {
					return err
				}
				return fmt.Errorf("service %q: exited with code %d, so %q, which depends on it, was not started%s", rep.label(), code, r.label(), rep.logTail())
			}
		}
	}
	return nil
}

// depError is a service that did not start because a dependency failed; the
// dependency's own error is the start's error.
type depError struct{ service, dep string }

func (e *depError) Error() string {
	return fmt.Sprintf("service %q: not started because its dependency %q failed", e.service, e.dep)
}

// Dependency names the dependency that failed: diag.FailureText says so.
func (e *depError) Dependency() string { return e.dep }

var _ interface{ Dependency() string } = (*depError)(nil)

// A containerRef is another service whose container the service's
// container refers to at creation, so that it must be started first.
type containerRef struct {
	field   string // links, network_mode, volumes_from, pid, ipc
	service string
	// optional refs (links) are skipped when the service is not part of
	// the start; the others are an error then.
	optional bool
}

// containerRefs lists the services named by links, network_mode,
// volumes_from, pid and ipc.
func containerRefs(spec *composeplan.ServiceSpec) []containerRef {
	var refs []containerRef
	for _, l := range spec.Links {
		name, _, _ := strings.Cut(l, ":")
		refs = append(refs, containerRef{"links", name, true})
	}
	for _, m := range [][2]string{{"network_mode", spec.NetworkMode}, {"pid", spec.Pid}, {"ipc", spec.Ipc}} {
		if name, ok := strings.CutPrefix(m[1], "service:"); ok {
			refs = append(refs, containerRef{field: m[0], service: name})
		}
	}
	for _, v := range spec.VolumesFrom {
		if name, _, isService := volumesFromService(v); isService {
			refs = append(refs, containerRef{field: "volumes_from", service: name})
		}
	}
	return refs
}

// volumesFromService splits a volumes_from entry: "service:NAME[:MODE]"
// (or a bare "NAME[:MODE]", compose's short form) names a service of the
// stack, "container:NAME[:MODE]" a container.
func volumesFromService(v string) (name, mode string, isService bool) {
	if strings.HasPrefix(v, "container:") {
		return "", "", false
	}
	v = strings.TrimPrefix(v, "service:")
	name, mode, _ = strings.Cut(v, ":")
	return name, mode, true
}
