package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/composegen/composegen/runtime/engine"
)

// Create creates the container's pod, held back by a scheduling gate until
// Start, with the Services of its names and the ConfigMaps and Secrets of
// its bind mounts. It returns "<namespace>/<pod>". Settings that cannot
// work on a cluster are refused here, naming the service and the field.
func (e *Engine) Create(ctx context.Context, spec engine.ContainerSpec) (string, error) {
	if spec.Project == "" {
		return "", fmt.Errorf("container %s: its spec names no project (the namespace on Kubernetes)", spec.Name)
	}
	ns := namespaceOf(spec.Project)
	pp, err := buildPod(ns, &spec)
	if err != nil {
		return "", err
	}
	for _, v := range pp.claims {
		if err := e.claimVolume(ctx, ns, v, &spec); err != nil {
			return "", err
		}
	}
	if err := e.createObjects(ctx, ns, pp, spec.Ports); err != nil {
		return "", fmt.Errorf("service %q: %w", serviceName(&spec), err)
	}
	pod := pp.pod
	h := hostsConfig{Extra: pod.Spec.HostAliases}
	if h.Entries, err = e.aliasHosts(ctx, ns); err != nil {
		return "", err
	}
	if err := e.applyHosts(ctx, pod, h); err != nil {
		return "", err
	}
	if _, err := e.cs.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return "", createError(&spec, err)
	}
	id := containerID(ns, pod.Name)
	if _, err := e.forwardFor(id, spec.Ports, false); err != nil {
		return id, err
	}
	return id, nil
}

// createObjects creates the Services, ConfigMaps and Secrets of a pod
// (replacing those of an earlier container of the same name).
func (e *Engine) createObjects(ctx context.Context, ns string, pp *podPlan, ports []engine.PortBinding) error {
	if err := e.ensureServices(ctx, ns, pp.aliases, ports); err != nil {
		return err
	}
	for _, cm := range pp.configMaps {
		if err := e.putConfigMap(ctx, ns, cm); err != nil {
			return fmt.Errorf("create the ConfigMap of a bind mount: %w", err)
		}
	}
	for _, s := range pp.secrets {
		_, err := e.cs.CoreV1().Secrets(ns).Create(ctx, s, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			_, err = e.cs.CoreV1().Secrets(ns).Update(ctx, s, metav1.UpdateOptions{})
		}
		if err != nil {
			// The API's message names the object, never its data.
			return fmt.Errorf("create the Secret of a secret file: %w", notFound(err))
		}
	}
	return nil
}

// createError explains a refused pod.
func createError(spec *engine.ContainerSpec, err error) error {
	switch {
	case apierrors.IsAlreadyExists(err):
		return fmt.Errorf("service %q: container name %s is already in use", serviceName(spec), spec.Name)
	case apierrors.IsForbidden(err) && spec.Privileged:
		return fmt.Errorf("service %q: privileged: the cluster refuses privileged pods here (%v)", serviceName(spec), err)
	case apierrors.IsForbidden(err) || apierrors.IsInvalid(err):
		return fmt.Errorf("service %q: the cluster refuses the pod: %w", serviceName(spec), err)
	}
	return fmt.Errorf("service %q: create pod: %w", serviceName(spec), notFound(err))
}

// getPod returns the pod of a container id.
func (e *Engine) getPod(ctx context.Context, id string) (*corev1.Pod, error) {
	ns, name, err := splitID(id)
	if err != nil {
		return nil, err
	}
	p, err := e.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, notFound(err))
	}
	return p, nil
}

// Start starts a created or stopped container: it lifts the pod's gate
// (or, for a pod whose containers finished, recreates the pod) and returns
// once the container runs or has exited. A container that cannot start
// (its image cannot be pulled, its command does not exist) is an error
// that says why. Stop deletes the pod and Start recreates it: the
// container starts with a fresh filesystem and fresh emptyDir volumes.
func (e *Engine) Start(ctx context.Context, id string) error {
	p, err := e.getPod(ctx, id)
	if err != nil {
		return err
	}
	fresh := gated(p) || finished(p)
	switch {
	case gated(p):
		err = e.ungate(ctx, id, p)
	case finished(p):
		e.saveLogs(ctx, id, p)
		err = e.recreate(ctx, id, p)
	}
	if err != nil {
		return err
	}
	if err := e.waitStarted(ctx, id); err != nil {
		return err
	}
	f, err := e.podForward(id, p, false)
	if err == nil && fresh {
		f.reconnect() // a new pod: a new connection, dialled ahead of the first client
	}
	return err
}

// podForward returns the container's forward, made from the ports its pod
// records when this engine did not create it (anyPort: see forwardFor).
func (e *Engine) podForward(id string, p *corev1.Pod, anyPort bool) (*forward, error) {
	if f := e.existingForward(id); f != nil {
		return f, nil
	}
	var ports []engine.PortBinding
	_ = json.Unmarshal([]byte(p.Annotations[annotationPorts]), &ports)
	return e.forwardFor(id, ports, anyPort)
}

// ungate lets the scheduler place a gated pod, recreating it when the
// names it must resolve through its hosts file changed since it was made.
func (e *Engine) ungate(ctx context.Context, id string, p *corev1.Pod) error {
	want, err := e.hostsOf(ctx, p)
	if err != nil {
		return err
	}
	if b, _ := json.Marshal(want); string(b) != p.Annotations[annotationHosts] {
		return e.recreate(ctx, id, p)
	}
	patch := []map[string]any{{"op": "test", "path": "/metadata/uid", "value": p.UID}, {"op": "remove", "path": "/spec/schedulingGates"}}
	if _, ok := p.Annotations[annotationLast]; ok {
		patch = append(patch, map[string]any{"op": "remove", "path": "/metadata/annotations/kube.composegen.io~1last-state"})
	}
	b, _ := json.Marshal(patch)
	_, err = e.cs.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.JSONPatchType, b, metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("start container %s: %w", id, notFound(err))
	}
	return nil
}

// recreate deletes the pod at once and makes it anew from its spec,
// started.
func (e *Engine) recreate(ctx context.Context, id string, old *corev1.Pod) error {
	if _, err := e.deleteAndWatch(ctx, old, 0); err != nil {
		return err
	}
	p := freshPod(old)
	h, err := e.hostsOf(ctx, old)
	if err != nil {
		return err
	}
	if err := e.applyHosts(ctx, p, h); err != nil {
		return err
	}
	if _, err := e.cs.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("recreate the pod of container %s: %w", id, err)
	}
	return nil
}

// freshPod copies what a pod was created with.
func freshPod(old *corev1.Pod) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: old.Name, Namespace: old.Namespace, Labels: old.Labels, Annotations: map[string]string{},
	}}
	for k, v := range old.Annotations {
		if k != annotationLast {
			p.Annotations[k] = v
		}
	}
	p.Spec = *old.Spec.DeepCopy()
	p.Spec.NodeName = ""
	p.Spec.SchedulingGates = nil
	return p
}

// deleteAndWatch deletes a pod with a grace period (0: at once) and waits
// until it is gone; it returns the pod as last seen.
func (e *Engine) deleteAndWatch(ctx context.Context, p *corev1.Pod, grace int64) (*corev1.Pod, error) {
	opts := metav1.DeleteOptions{GracePeriodSeconds: &grace, Preconditions: &metav1.Preconditions{UID: &p.UID}}
	err := e.cs.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, opts)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return nil, fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	last := p
	err = e.observePod(ctx, p.Namespace, p.Name, func(q *corev1.Pod, exists bool) (bool, error) {
		if q != nil && q.UID == p.UID {
			last = q
		}
		return !exists || q.UID != p.UID, nil
	})
	return last, err
}

// waitStarted waits until the started container runs or has exited; a
// container that cannot start is an error.
func (e *Engine) waitStarted(ctx context.Context, id string) error {
	ns, name, _ := splitID(id)
	var st engine.State
	var last *corev1.Pod
	err := e.observePod(ctx, ns, name, func(p *corev1.Pod, exists bool) (bool, error) {
		if !exists {
			return false, fmt.Errorf("container %s: its pod was deleted while starting: %w", id, engine.ErrNotFound)
		}
		last, st = p, stateOf(p)
		switch {
		case st.Status == "dead":
			return false, fmt.Errorf("container %s: %s", id, st.Error)
		case st.Error != "" && st.Status == "exited" && st.StartedAt.IsZero():
			return false, fmt.Errorf("container %s: %s", id, st.Error)
		}
		return st.Status != "created", nil
	})
	if err != nil && ctx.Err() != nil && last != nil {
		// Not running in time: say why, from the pod's events.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if why := e.withWarnings(wctx, last, st.Error); why != "" {
			return fmt.Errorf("container %s did not start: %w (%s)", id, err, why)
		}
	}
	return err
}

// errUnsupported is the error of what Kubernetes cannot do.
var errUnsupported = errors.ErrUnsupported

// Pause is not supported: Kubernetes cannot freeze a container.
func (e *Engine) Pause(ctx context.Context, id string) error {
	return fmt.Errorf("pause container %s: Kubernetes cannot pause a container: %w", id, errUnsupported)
}

// Unpause is not supported: Kubernetes cannot freeze a container.
func (e *Engine) Unpause(ctx context.Context, id string) error {
	return fmt.Errorf("unpause container %s: Kubernetes cannot pause a container: %w", id, errUnsupported)
}

// removeContainer deletes a container's pod at once, with its ConfigMaps
// and Secrets, and stops its port-forwards.
func (e *Engine) removeContainer(ctx context.Context, id string) error {
	ns, name, err := splitID(id)
	if err != nil {
		return err
	}
	e.dropContainer(id)
	zero := int64(0)
	err = e.cs.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", id, err)
	}
	sel := metav1.ListOptions{LabelSelector: labelKind + "=" + kindMount + "," + labelPod + "=" + name}
	if err := e.cs.CoreV1().ConfigMaps(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, sel); ignoreNotFound(err) != nil {
		return fmt.Errorf("remove container %s: its ConfigMaps: %w", id, err)
	}
	if err := e.cs.CoreV1().Secrets(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, sel); ignoreNotFound(err) != nil {
		return fmt.Errorf("remove container %s: its Secrets: %w", id, err)
	}
	return nil
}

// dropContainer forgets what the engine holds for a container.
func (e *Engine) dropContainer(id string) {
	e.mu.Lock()
	f := e.forwards[id]
	delete(e.forwards, id)
	delete(e.logs, id)
	delete(e.stopped, id)
	e.mu.Unlock()
	if f != nil {
		f.close()
	}
}

// forgetNamespace drops what the engine holds for the containers of ns.
func (e *Engine) forgetNamespace(ns string) {
	e.mu.Lock()
	var ids []string
	for id := range e.forwards {
		if n, _, _ := splitID(id); n == ns {
			ids = append(ids, id)
		}
	}
	for id := range e.logs {
		if n, _, _ := splitID(id); n == ns {
			ids = append(ids, id)
		}
	}
	e.mu.Unlock()
	for _, id := range ids {
		e.dropContainer(id)
	}
}
