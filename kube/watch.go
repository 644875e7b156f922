package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
)

// observe lists one named object, then watches it, calling done with each
// state it has (obj is the object as last seen, exists false once it is
// deleted or when there is none) until done says so, done fails or ctx
// ends. A watch that the server closes is started again from a new list.
func observe[T any](ctx context.Context, list func(context.Context, metav1.ListOptions) ([]T, string, error),
	watchFn func(context.Context, metav1.ListOptions) (watch.Interface, error),
	name string, done func(obj *T, exists bool) (bool, error)) error {
	opts := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()}
	for {
		items, rv, err := list(ctx, opts)
		if err != nil {
			return err
		}
		var obj *T
		if len(items) > 0 {
			obj = &items[0]
		}
		if ok, err := done(obj, obj != nil); ok || err != nil {
			return err
		}
		wopts := opts
		wopts.ResourceVersion = rv
		wopts.AllowWatchBookmarks = true
		w, err := watchFn(ctx, wopts)
		if err != nil {
			return err
		}
		ok, err := drain(ctx, w, done)
		w.Stop()
		if ok || err != nil {
			return err
		}
	}
}

// drain feeds the events of w to done; it returns false when the watch
// ended and must be started again.
func drain[T any](ctx context.Context, w watch.Interface, done func(obj *T, exists bool) (bool, error)) (bool, error) {
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case ev, open := <-w.ResultChan():
			if !open || ev.Type == watch.Error {
				return false, nil
			}
			obj, ok := any(ev.Object).(*T)
			if !ok || ev.Type == watch.Bookmark {
				continue
			}
			if ok, err := done(obj, ev.Type != watch.Deleted); ok || err != nil {
				return true, err
			}
		}
	}
}

// observePod observes pod ns/name (see observe).
func (e *Engine) observePod(ctx context.Context, ns, name string, done func(p *corev1.Pod, exists bool) (bool, error)) error {
	pods := e.cs.CoreV1().Pods(ns)
	list := func(ctx context.Context, o metav1.ListOptions) ([]corev1.Pod, string, error) {
		l, err := pods.List(ctx, o)
		if err != nil {
			return nil, "", fmt.Errorf("list pod %s/%s: %w", ns, name, err)
		}
		return l.Items, l.ResourceVersion, nil
	}
	return observe(ctx, list, pods.Watch, name, done)
}

// waitNamespaceGone waits until namespace ns no longer exists.
func (e *Engine) waitNamespaceGone(ctx context.Context, ns string) error {
	nss := e.cs.CoreV1().Namespaces()
	list := func(ctx context.Context, o metav1.ListOptions) ([]corev1.Namespace, string, error) {
		l, err := nss.List(ctx, o)
		if err != nil {
			return nil, "", err
		}
		return l.Items, l.ResourceVersion, nil
	}
	err := observe(ctx, list, nss.Watch, ns, func(_ *corev1.Namespace, exists bool) (bool, error) { return !exists, nil })
	if err != nil {
		return fmt.Errorf("namespace %s is not gone: %w", ns, err)
	}
	return nil
}
