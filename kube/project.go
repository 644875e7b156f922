package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/composegen/composegen/runtime/engine"
)

const (
	kindProject = "project"
	// labelComposeProject is compose's project label, which the runtime
	// sets on everything: the namespace of a network or volume whose spec
	// does not name its project.
	labelComposeProject = "com.docker.compose.project"
)

// CreateProject creates the namespace of a stack instance, labelled with
// labels, and its default service account (so that pods can be created at
// once, without waiting for the cluster's controller to make it).
func (e *Engine) CreateProject(ctx context.Context, project string, labels map[string]string) error {
	ns := namespaceOf(project)
	obj := &corev1.Namespace{ObjectMeta: objectMeta(ns, kindProject, project, labels)}
	_, err := e.cs.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		err = e.adoptNamespace(ctx, ns, project)
	}
	if err != nil {
		return fmt.Errorf("create namespace %s for project %s: %w", ns, project, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}, AutomountServiceAccountToken: new(false)}
	_, err = e.cs.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create the default service account of namespace %s: %w", ns, err)
	}
	return nil
}

// adoptNamespace accepts an existing namespace only if it is this
// project's and not being deleted.
func (e *Engine) adoptNamespace(ctx context.Context, ns, project string) error {
	got, err := e.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	switch {
	case err != nil:
		return err
	case got.Labels[labelManagedBy] != managedBy || got.Annotations[annotationName] != project:
		return errors.New("the namespace exists and is not this project's")
	case got.DeletionTimestamp != nil:
		return errors.New("the namespace is being deleted")
	}
	return nil
}

// projectNamespace returns the namespace of a network or volume.
func projectNamespace(project string, labels map[string]string, what, name string) (string, error) {
	if project == "" {
		project = labels[labelComposeProject]
	}
	if project == "" {
		return "", fmt.Errorf("%s %s: its spec names no project (Kubernetes keeps it in the project's namespace)", what, name)
	}
	return namespaceOf(project), nil
}

// markerName is the name of the ConfigMap that records a network or volume.
func markerName(kind, name string) string { return kind + "-" + dnsLabel(name) }

// CreateNetwork records the network. A namespace is one flat network:
// every pod of the stack reaches every other, so networks only exist for
// List and Remove. Its engine name is its name.
func (e *Engine) CreateNetwork(ctx context.Context, spec engine.NetworkSpec) (string, error) {
	ns, err := projectNamespace(spec.Project, spec.Labels, "network", spec.Name)
	if err != nil {
		return "", err
	}
	if spec.Driver != "" && spec.Driver != "bridge" {
		return "", fmt.Errorf("network %s: driver %q: a namespace is one flat network; Kubernetes has no network drivers", spec.Name, spec.Driver)
	}
	if err := e.createMarker(ctx, ns, kindNetwork, spec.Name, spec.Labels); err != nil {
		return "", err
	}
	return spec.Name, nil
}

// CreateVolume records a named volume. Its data lives in an emptyDir of
// the one pod that mounts it (see the package documentation).
func (e *Engine) CreateVolume(ctx context.Context, spec engine.VolumeSpec) error {
	ns, err := projectNamespace(spec.Project, spec.Labels, "volume", spec.Name)
	if err != nil {
		return err
	}
	if spec.Driver != "" && spec.Driver != "local" {
		return fmt.Errorf("volume %s: driver %q is not supported on Kubernetes (named volumes are emptyDirs)", spec.Name, spec.Driver)
	}
	return e.createMarker(ctx, ns, kindVolume, spec.Name, spec.Labels)
}

func (e *Engine) createMarker(ctx context.Context, ns, kind, name string, labels map[string]string) error {
	meta := objectMeta(markerName(kind, name), kind, name, labels)
	meta.Labels[labelName] = shortHash(name)
	_, err := e.cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: meta}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create %s %s: %w", kind, name, notFound(err))
	}
	return nil
}

// List returns the containers (pods), networks, volumes and projects
// (namespaces) that carry all of labels.
func (e *Engine) List(ctx context.Context, labels map[string]string) ([]engine.Resource, error) {
	var projects, containers, markers []engine.Resource
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { projects, err = e.listNamespaces(gctx, labels); return err })
	g.Go(func() (err error) { containers, err = e.listPods(gctx, labels); return err })
	g.Go(func() (err error) { markers, err = e.listMarkers(gctx, labels); return err })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return append(append(containers, markers...), projects...), nil
}

func (e *Engine) listNamespaces(ctx context.Context, filter map[string]string) ([]engine.Resource, error) {
	list, err := e.cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: selector(filter, kindProject)})
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var out []engine.Resource
	for _, ns := range list.Items {
		if l := engineLabels(ns.ObjectMeta); matches(l, filter) {
			out = append(out, engine.Resource{Kind: engine.KindProject, ID: ns.Name, Name: ns.Annotations[annotationName], Labels: l})
		}
	}
	return out, nil
}

func (e *Engine) listPods(ctx context.Context, filter map[string]string) ([]engine.Resource, error) {
	list, err := e.cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{LabelSelector: selector(filter, kindContainer)})
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	var out []engine.Resource
	for _, p := range list.Items {
		if l := engineLabels(p.ObjectMeta); matches(l, filter) {
			out = append(out, engine.Resource{Kind: engine.KindContainer, ID: containerID(p.Namespace, p.Name), Name: p.Annotations[annotationName], Labels: l})
		}
	}
	return out, nil
}

func (e *Engine) listMarkers(ctx context.Context, filter map[string]string) ([]engine.Resource, error) {
	list, err := e.cs.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{LabelSelector: selector(filter, kindNetwork, kindVolume)})
	if err != nil {
		return nil, fmt.Errorf("list networks and volumes: %w", err)
	}
	var out []engine.Resource
	for _, cm := range list.Items {
		kind := engine.KindNetwork
		if cm.Labels[labelKind] == kindVolume {
			kind = engine.KindVolume
		}
		if l := engineLabels(cm.ObjectMeta); matches(l, filter) {
			out = append(out, engine.Resource{Kind: kind, ID: cm.Namespace + "/" + cm.Name, Name: cm.Annotations[annotationName], Labels: l})
		}
	}
	return out, nil
}

// Remove removes a resource: a container's pod at once (with its
// ConfigMaps and Secrets), a network's or volume's record, or a project's
// namespace, waiting until the namespace is gone (bounded by ctx).
func (e *Engine) Remove(ctx context.Context, r engine.Resource) error {
	var err error
	switch r.Kind {
	case engine.KindContainer:
		err = e.removeContainer(ctx, r.ID)
	case engine.KindNetwork:
		err = e.removeMarker(ctx, kindNetwork, r.ID)
	case engine.KindVolume:
		err = e.removeMarker(ctx, kindVolume, r.ID)
	case engine.KindProject:
		err = e.removeNamespace(ctx, r.ID)
	default:
		return fmt.Errorf("remove: unknown resource kind %q", r.Kind)
	}
	if errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	return err
}

// removeMarker removes a network or volume by "<namespace>/<object>" or by
// its engine name (looked up in every namespace).
func (e *Engine) removeMarker(ctx context.Context, kind, id string) error {
	if ns, name, ok := strings.Cut(id, "/"); ok {
		return ignoreNotFound(e.cs.CoreV1().ConfigMaps(ns).Delete(ctx, name, metav1.DeleteOptions{}))
	}
	sel := labelManagedBy + "=" + managedBy + "," + labelKind + "=" + kind + "," + labelName + "=" + shortHash(id)
	list, err := e.cs.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return err
	}
	for _, cm := range list.Items {
		if cm.Annotations[annotationName] == id {
			if err := ignoreNotFound(e.cs.CoreV1().ConfigMaps(cm.Namespace).Delete(ctx, cm.Name, metav1.DeleteOptions{})); err != nil {
				return err
			}
		}
	}
	return nil
}

// removeNamespace deletes a namespace of ours and waits until it is gone.
func (e *Engine) removeNamespace(ctx context.Context, ns string) error {
	if len(validation.IsDNS1123Label(ns)) > 0 {
		return nil // not a namespace's name: there is no such project
	}
	got, err := e.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if got.Labels[labelManagedBy] != managedBy {
		return fmt.Errorf("namespace %s is not composegen's", ns)
	}
	e.forgetNamespace(ns)
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &got.UID}}
	if err := e.cs.CoreV1().Namespaces().Delete(ctx, ns, opts); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	if err := e.forcePods(ctx, ns); err != nil {
		return err
	}
	return e.waitNamespaceGone(ctx, ns)
}

// forcePods deletes the namespace's pods without a grace period: the
// namespace controller would otherwise wait for each one's.
func (e *Engine) forcePods(ctx context.Context, ns string) error {
	zero := int64(0)
	err := e.cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete the pods of namespace %s: %w", ns, err)
	}
	return nil
}

// notFound wraps engine.ErrNotFound into a Kubernetes not-found error.
func notFound(err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%w: %w", engine.ErrNotFound, err)
	}
	return err
}

func ignoreNotFound(err error) error {
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
