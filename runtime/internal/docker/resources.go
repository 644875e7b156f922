package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/composegen/composegen/runtime/engine"
	dt "github.com/ory/dockertest/v3/docker"
)

// CreateProject does nothing: Docker has no scope for a stack instance
// other than its labels.
func (e *Engine) CreateProject(context.Context, string, map[string]string) error { return nil }

// CreateNetwork creates a network (refusing a duplicate name) and returns
// its name.
func (e *Engine) CreateNetwork(ctx context.Context, spec engine.NetworkSpec) (string, error) {
	opts := map[string]any{}
	for k, v := range spec.Options {
		opts[k] = v
	}
	_, err := e.c.CreateNetwork(dt.CreateNetworkOptions{
		Name: spec.Name, Driver: spec.Driver, Internal: spec.Internal, Options: opts, Labels: spec.Labels,
		CheckDuplicate: true, Context: ctx,
	})
	if err != nil {
		return "", fmt.Errorf("create network %s: %w", spec.Name, ctxErr(ctx, err))
	}
	return spec.Name, nil
}

// CreateVolume creates a named volume.
func (e *Engine) CreateVolume(ctx context.Context, spec engine.VolumeSpec) error {
	_, err := e.c.CreateVolume(dt.CreateVolumeOptions{
		Name: spec.Name, Driver: spec.Driver, DriverOpts: spec.Options, Labels: spec.Labels, Context: ctx,
	})
	if err != nil {
		return fmt.Errorf("create volume %s: %w", spec.Name, ctxErr(ctx, err))
	}
	return nil
}

func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// List returns the containers (in every state), networks and volumes
// that carry all of labels. The engine filters; the labels are checked
// again here, so that an engine's looser filter cannot leak others'
// resources into the list.
func (e *Engine) List(ctx context.Context, labels map[string]string) ([]resource, error) {
	var filter []string
	for k, v := range labels {
		filter = append(filter, k+"="+v)
	}
	sort.Strings(filter)
	lists := []func(context.Context, []string) ([]resource, error){e.listContainers, e.listNetworks, e.listVolumes}
	parts := make([][]resource, len(lists))
	errs := make([]error, len(lists))
	var wg sync.WaitGroup
	for i, list := range lists {
		wg.Add(1)
		go func() { defer wg.Done(); parts[i], errs[i] = list(ctx, filter) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("list resources: %w", ctxErr(ctx, err))
	}
	var out []engine.Resource
	for _, p := range parts {
		for _, r := range p {
			if hasLabels(r.Labels, labels) {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

type resource = engine.Resource

func hasLabels(have, want map[string]string) bool {
	for k, v := range want {
		if hv, ok := have[k]; !ok || hv != v {
			return false
		}
	}
	return true
}

func (e *Engine) listContainers(ctx context.Context, filter []string) ([]resource, error) {
	cs, err := e.c.ListContainers(dt.ListContainersOptions{All: true, Filters: map[string][]string{"label": filter}, Context: ctx})
	if err != nil {
		return nil, err
	}
	out := make([]resource, 0, len(cs))
	for _, c := range cs {
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, resource{Kind: engine.KindContainer, ID: c.ID, Name: name, Labels: c.Labels})
	}
	return out, nil
}

func (e *Engine) listNetworks(ctx context.Context, filter []string) ([]resource, error) {
	f, _ := json.Marshal(map[string][]string{"label": filter})
	var ns []struct {
		ID     string `json:"Id"`
		Name   string
		Labels map[string]string
	}
	if err := e.call(ctx, "GET", "/networks", url.Values{"filters": {string(f)}}, nil, &ns); err != nil {
		return nil, err
	}
	out := make([]resource, 0, len(ns))
	for _, n := range ns {
		out = append(out, resource{Kind: engine.KindNetwork, ID: n.ID, Name: n.Name, Labels: n.Labels})
	}
	return out, nil
}

func (e *Engine) listVolumes(ctx context.Context, filter []string) ([]resource, error) {
	vs, err := e.c.ListVolumes(dt.ListVolumesOptions{Filters: map[string][]string{"label": filter}, Context: ctx})
	if err != nil {
		return nil, err
	}
	out := make([]resource, 0, len(vs))
	for _, v := range vs {
		out = append(out, resource{Kind: engine.KindVolume, ID: v.Name, Name: v.Name, Labels: v.Labels})
	}
	return out, nil
}

// Remove removes a resource forcibly; one that does not exist is not an
// error.
func (e *Engine) Remove(ctx context.Context, r resource) error {
	var err error
	switch r.Kind {
	case engine.KindContainer:
		err = e.removeContainer(ctx, r.ID)
	case engine.KindNetwork:
		err = e.removeNetwork(ctx, r.ID)
	case engine.KindVolume:
		err = e.call(ctx, "DELETE", "/volumes/"+url.PathEscape(r.ID), nil, nil, nil)
	case engine.KindProject:
		return nil
	default:
		return fmt.Errorf("remove: unknown resource kind %q", r.Kind)
	}
	if err == nil || errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	return fmt.Errorf("remove %s %s: %w", r.Kind, resourceName(r), err)
}

func resourceName(r resource) string {
	if r.Name != "" {
		return r.Name
	}
	return r.ID
}

// removeContainer kills and removes a container with its anonymous
// volumes. When another removal is under way, it waits for that one.
//
// Podman refuses to remove a container whose namespaces other containers
// share (network_mode: service:a, pid or ipc: service:a), where Docker
// removes it: it is removed once they are gone. A stack goes down in
// parallel, so they are being removed too; were it left behind, the stack's
// network would go first and Podman could no longer tear its network down:
// its aardvark-dns entries and bridge would stay on the host for good, and
// the DNS of every later stack would slow down and fail now and then.
func (e *Engine) removeContainer(ctx context.Context, id string) error {
	q := url.Values{"force": {"1"}, "v": {"1"}}
	var waited time.Duration
	for {
		err := e.call(ctx, "DELETE", "/containers/"+url.PathEscape(id), q, nil, nil)
		if status(err) == http.StatusConflict && strings.Contains(err.Error(), "in progress") {
			return e.awaitRemoval(ctx, id)
		}
		deps := dependents(err)
		if deps == nil {
			return err
		}
		if waited >= dependentsWait {
			return fmt.Errorf("%w; they were not removed within %s: remove them first", err, dependentsWait)
		}
		t0 := time.Now()
		err = e.awaitRemovals(ctx, deps, dependentsWait-waited)
		waited += time.Since(t0)
		// Past the bound, the next refusal is the answer.
		if err != nil && (ctx.Err() != nil || !errors.Is(err, context.DeadlineExceeded)) {
			return err
		}
	}
}

// dependentsWait bounds how long removeContainer waits for the containers
// that share a container's namespaces to be removed.
var dependentsWait = 30 * time.Second

// dependents returns the containers that Podman names in its refusal to
// remove a container whose namespaces they share ("container X has
// dependent containers which must be removed before it: A, B: container
// already exists"), or nil for any other error.
func dependents(err error) []string {
	const refusal = "has dependent containers which must be removed before it: "
	if err == nil {
		return nil
	}
	_, rest, ok := strings.Cut(err.Error(), refusal)
	if !ok {
		return nil
	}
	list, _, _ := strings.Cut(rest, ":")
	var ids []string
	for _, id := range strings.Split(list, ",") {
		if id = strings.TrimSpace(id); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// awaitRemoval waits until the container is gone: it returns ErrNotFound
// then, or the error that ended the wait.
func (e *Engine) awaitRemoval(ctx context.Context, id string) error {
	for delay := 10 * time.Millisecond; ; delay = backoff(delay, 200*time.Millisecond) {
		if _, err := e.inspect(ctx, id); err != nil {
			return err // ErrNotFound once it is gone
		}
		if err := sleep(ctx, delay); err != nil {
			return err
		}
	}
}

// awaitRemovals waits, at most max, until the containers are gone.
func (e *Engine) awaitRemovals(ctx context.Context, ids []string, max time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, max)
	defer cancel()
	for _, id := range ids {
		if err := e.awaitRemoval(ctx, id); !errors.Is(err, engine.ErrNotFound) {
			return err
		}
	}
	return nil
}

// removeNetwork removes a network; containers still attached to it are
// disconnected first.
func (e *Engine) removeNetwork(ctx context.Context, id string) error {
	err := e.call(ctx, "DELETE", "/networks/"+url.PathEscape(id), nil, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "active endpoints") {
		return err
	}
	var n struct{ Containers map[string]any }
	if err := e.call(ctx, "GET", "/networks/"+url.PathEscape(id), nil, nil, &n); err != nil {
		return err
	}
	for c := range n.Containers {
		body := map[string]any{"Container": c, "Force": true}
		if err := e.call(ctx, "POST", "/networks/"+url.PathEscape(id)+"/disconnect", nil, body, nil); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return err
		}
	}
	return e.call(ctx, "DELETE", "/networks/"+url.PathEscape(id), nil, nil, nil)
}
