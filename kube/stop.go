package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Stop stops the container: the kubelet sends the stop signal (a preStop
// hook sends a stop_signal other than SIGTERM) and SIGKILL after timeout
// (at least 2s, the kubelet's minimum). Kubernetes stops containers by
// deleting their pod, so the pod is deleted and a gated pod that records
// the exit takes its place until Start recreates it.
func (e *Engine) Stop(ctx context.Context, id string, timeout time.Duration) error {
	p, err := e.getPod(ctx, id)
	if err != nil || gated(p) || finished(p) {
		return err
	}
	grace := max(int64((timeout+time.Second-1)/time.Second), 1)
	return e.terminate(ctx, id, p, grace)
}

// terminate deletes a running container's pod with a grace period,
// keeping its output and exit state, and leaves a gated pod in its place.
func (e *Engine) terminate(ctx context.Context, id string, p *corev1.Pod, grace int64) error {
	finish := e.captureLogs(ctx, id, p)
	last, err := e.deleteAndWatch(ctx, p, grace)
	finish()
	if err != nil {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	ls := exitOf(last)
	e.setStopped(id, &ls)
	defer e.setStopped(id, nil)
	if f := e.existingForward(id); f != nil {
		f.reconnect()
	}
	tomb := freshPod(last)
	tomb.Spec.SchedulingGates = []corev1.PodSchedulingGate{{Name: startGate}}
	b, _ := json.Marshal(ls)
	tomb.Annotations[annotationLast] = string(b)
	if _, err := e.cs.CoreV1().Pods(p.Namespace).Create(ctx, tomb, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("stop container %s: record its exit: %w", id, err)
	}
	return nil
}

// exitOf returns how the container of a deleted pod ended.
func exitOf(p *corev1.Pod) lastState {
	st := stateOf(p)
	ls := lastState{ExitCode: st.ExitCode, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt, OOMKilled: st.OOMKilled, RestartCount: st.RestartCount, Error: st.Error}
	if cs := containerStatus(p); cs == nil || cs.State.Terminated == nil {
		// The kubelet removed the pod before it reported the exit.
		ls.ExitCode, ls.FinishedAt = 137, time.Now()
		ls.Error = "stopped; the kubelet did not report the exit code"
	}
	return ls
}

// stoppedState returns the state of a container between the deletion of
// its stopped pod and the creation of the pod that records it.
func (e *Engine) stoppedState(id string) (lastState, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	ls, ok := e.stopped[id]
	return ls, ok
}

func (e *Engine) setStopped(id string, ls *lastState) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if ls == nil {
		delete(e.stopped, id)
	} else {
		e.stopped[id] = *ls
	}
}

// Kill sends signal to the container's main process. Kubernetes has no
// API for signals: a signal other than SIGKILL is sent by `kill` run in
// the container (which needs a shell or kill in the image); SIGKILL (or
// "") stops the container as Stop does with the shortest grace period the
// kubelet allows (SIGTERM, then SIGKILL 2s later), and, as on Docker, a
// killed container is not restarted.
func (e *Engine) Kill(ctx context.Context, id, signal string) error {
	p, err := e.getPod(ctx, id)
	if err != nil {
		return err
	}
	if st := stateOf(p); !st.Running {
		return fmt.Errorf("container %s is not running", id)
	}
	sig := strings.TrimPrefix(strings.ToUpper(signal), "SIG")
	switch {
	case sig == "" || sig == "KILL" || sig == "9":
		return e.terminate(ctx, id, p, 1)
	case !signalName.MatchString(sig):
		return fmt.Errorf("kill container %s: %q is not a signal", id, signal)
	}
	return e.signal(ctx, id, p, sig)
}

// signal runs kill in the container.
func (e *Engine) signal(ctx context.Context, id string, p *corev1.Pod, sig string) error {
	target := "1"
	if p.Spec.ShareProcessNamespace != nil && *p.Spec.ShareProcessNamespace {
		target = "-1"
	}
	var out limitBuf
	code, err := e.Exec(ctx, id, []string{"sh", "-c", "kill -" + sig + " " + target}, &out, &out)
	if err != nil {
		code, err = e.Exec(ctx, id, []string{"kill", "-" + sig, target}, &out, &out)
	}
	if err != nil {
		return fmt.Errorf("kill container %s with SIG%s: Kubernetes sends signals only through a shell or kill in the image: %w", id, sig, err)
	}
	if code != 0 {
		return fmt.Errorf("kill container %s with SIG%s: kill exited %d: %s", id, sig, code, out.String())
	}
	return nil
}
