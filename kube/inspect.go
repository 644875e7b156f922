package kube

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/composegen/composegen/runtime/engine"
)

// Inspect returns the container's state. Published ports are the
// port-forwards' local addresses.
func (e *Engine) Inspect(ctx context.Context, id string) (engine.State, error) {
	p, err := e.getPod(ctx, id)
	if errors.Is(err, engine.ErrNotFound) {
		if ls, ok := e.stoppedState(id); ok {
			return ls.state(), nil
		}
	}
	if err != nil {
		return engine.State{}, err
	}
	st := stateOf(p)
	if gated(p) {
		return st, nil
	}
	if f := e.existingForward(id); f != nil {
		st.Ports = f.ports()
	}
	if st.Status == "created" || st.Status == "dead" {
		// Started, but not running: the events say why (a volume that
		// cannot be mounted, no node to run on).
		st.Error = e.withWarnings(ctx, p, st.Error)
	}
	return st, nil
}

// Wait waits until the container is not running and returns its exit
// code: it exited (even if its restart policy restarts it), or its pod was
// stopped or removed. It returns at once for a container that does not
// run.
func (e *Engine) Wait(ctx context.Context, id string) (int, error) {
	ns, name, err := splitID(id)
	if err != nil {
		return 0, err
	}
	var first *corev1.ContainerStatus
	var uid types.UID
	code := -1
	err = e.observePod(ctx, ns, name, func(p *corev1.Pod, exists bool) (bool, error) {
		if p == nil {
			if ls, ok := e.stoppedState(id); ok {
				code = ls.ExitCode // between a stopped pod and its record
				return true, nil
			}
			return false, fmt.Errorf("container %s: %w", id, engine.ErrNotFound)
		}
		if uid == "" {
			uid = p.UID
		}
		st := stateOf(p)
		switch cs := containerStatus(p); {
		case !exists || p.UID != uid:
			code = exitOf(p).ExitCode
		case first == nil && !st.Running:
			code = st.ExitCode
		case first == nil:
			first = cs.DeepCopy()
		case cs.RestartCount > first.RestartCount || !st.Running:
			code = st.ExitCode
		}
		return code >= 0, nil
	})
	return code, err
}
