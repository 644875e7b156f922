package kube

import (
	"context"
	"fmt"
	"io"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/composegen/composegen/runtime/engine"
)

// Image reports an image that a node of the cluster already has (from the
// nodes' status, which lists each node's largest images only): it wraps
// engine.ErrNotFound when no node lists it, which does not mean that the
// kubelet cannot pull it.
func (e *Engine) Image(ctx context.Context, ref string) (engine.ImageInfo, error) {
	nodes, err := e.cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if apierrors.IsForbidden(err) {
		return engine.ImageInfo{}, fmt.Errorf("image %s: the nodes' images cannot be listed: %w", ref, engine.ErrNotFound)
	}
	if err != nil {
		return engine.ImageInfo{}, fmt.Errorf("image %s: %w", ref, err)
	}
	want := normalizeRef(ref)
	for _, n := range nodes.Items {
		for _, img := range n.Status.Images {
			if id, ok := imageID(img.Names, want); ok {
				return engine.ImageInfo{ID: id, OS: n.Status.NodeInfo.OperatingSystem, Architecture: n.Status.NodeInfo.Architecture}, nil
			}
		}
	}
	return engine.ImageInfo{}, fmt.Errorf("image %s: no node of the cluster has it: %w", ref, engine.ErrNotFound)
}

// imageID returns the digest of an image whose names include want.
func imageID(names []string, want string) (string, bool) {
	found := false
	id := ""
	for _, n := range names {
		if normalizeRef(n) == want {
			found = true
		}
		if _, digest, ok := strings.Cut(n, "@"); ok && id == "" {
			id = digest
		}
	}
	if id == "" && len(names) > 0 {
		id = names[0]
	}
	return id, found
}

// normalizeRef spells a reference as the kubelet does:
// "postgres:16" is "docker.io/library/postgres:16", no tag is ":latest".
func normalizeRef(ref string) string {
	name, digest, hasDigest := strings.Cut(ref, "@")
	first, _, hasSlash := strings.Cut(name, "/")
	switch {
	case !hasSlash:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		name = "docker.io/" + name
	}
	if hasDigest {
		return name + "@" + digest
	}
	if i := strings.LastIndexByte(name, ':'); i < 0 || strings.Contains(name[i:], "/") {
		name += ":latest"
	}
	return name
}

// Pull does not pull: the kubelet of the node that runs a pod pulls its
// image, following the service's pull_policy (imagePullPolicy). An image
// that cannot be pulled makes Start fail with the kubelet's reason.
func (e *Engine) Pull(ctx context.Context, ref, platform string, out io.Writer) error {
	fmt.Fprintf(out, "kubernetes: %s is pulled by the kubelet of the node that runs the pod\n", ref)
	return nil
}

// Build is refused: a cluster cannot build the compose file's images.
func (e *Engine) Build(ctx context.Context, spec engine.BuildSpec, out io.Writer) error {
	return fmt.Errorf("build %s: a Kubernetes cluster cannot build images: build it and push it to a registry the cluster pulls from (or load it into the nodes), and give the service that image", spec.Tag)
}
