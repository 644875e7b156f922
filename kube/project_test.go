package kube

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/composegen/composegen/runtime/engine"
)

func TestListAndNamespaceRemoval(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	ctx := p.ctx()
	netName, err := p.eng.CreateNetwork(ctx, engine.NetworkSpec{Name: p.name + "_default", Project: p.name, Labels: p.labels})
	must(t, err)
	if netName != p.name+"_default" {
		t.Errorf("CreateNetwork = %q; want its name", netName)
	}
	must(t, p.eng.CreateVolume(ctx, engine.VolumeSpec{Name: p.name + "_data", Labels: p.labels})) // project from the compose label
	conf := filepath.Join(t.TempDir(), "c.conf")
	must(t, os.WriteFile(conf, []byte("x"), 0o644))
	web := p.spec("web_1", "sleep", "300")
	web.Mounts = []engine.Mount{{Type: "bind", Source: conf, Target: "/c.conf"}, {Type: "volume", Source: p.name + "_data", Target: "/data"}}
	web.Ports = []engine.PortBinding{{Port: 80, Protocol: "tcp"}}
	p.run(web)
	p.create(p.spec("created", "true"))
	var got []string
	rs, err := p.eng.List(ctx, map[string]string{testLabel: p.name})
	must(t, err)
	for _, r := range rs {
		if r.ID == "" || r.Labels[testLabel] != p.name {
			t.Errorf("listed %+v without id or label", r)
		}
		got = append(got, r.Kind+" "+r.Name)
	}
	sort.Strings(got)
	want := []string{"container " + p.name + "-created-1", "container " + p.name + "-web_1-1", "network " + p.name + "_default", "project " + p.name, "volume " + p.name + "_data"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("List = %v; want %v", got, want)
	}
	if other, _ := p.eng.List(ctx, map[string]string{testLabel: p.name + "-other"}); len(other) != 0 {
		t.Errorf("List with another label value = %v", other)
	}
	// A network goes by the engine name CreateNetwork returned.
	must(t, p.eng.Remove(ctx, engine.Resource{Kind: engine.KindNetwork, ID: netName}))
	if rs, _ := p.eng.List(ctx, map[string]string{testLabel: p.name, labelComposeProject: p.name}); len(rs) != len(want)-1 {
		t.Errorf("after removing the network, List = %v", rs)
	}
	// The reaper removes a whole project at once: the namespace and
	// everything in it, running pods included.
	ns := namespaceOf(p.name)
	start := time.Now()
	must(t, p.eng.Remove(ctx, engine.Resource{Kind: engine.KindProject, ID: ns}))
	t.Logf("namespace with a running pod removed in %v", time.Since(start).Round(time.Millisecond))
	if _, err := p.eng.cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace after Remove: %v; want it gone", err)
	}
	if left, err := p.eng.List(ctx, map[string]string{testLabel: p.name}); err != nil || len(left) != 0 {
		t.Errorf("List after Remove = %v, %v", left, err)
	}
	must(t, p.eng.Remove(ctx, engine.Resource{Kind: engine.KindProject, ID: ns}))
}

func TestRemoveNamespaceHonoursContext(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	p.run(p.spec("sleeper", "sleep", "300"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := p.eng.Remove(ctx, engine.Resource{Kind: engine.KindProject, ID: namespaceOf(p.name)})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("Remove with a 10ms context = %v after %v; want an error at once", err, time.Since(start))
	}
}

// Ids of the engine's form (the conformance suite checks a malformed
// one) that name nothing: every operation is ErrNotFound, and Publish
// opens nothing.
func TestNotFound(t *testing.T) {
	t.Parallel()
	p := newProject(t)
	other := openOther(t)
	_, err := other.Publish(p.ctx(), containerID(namespaceOf(p.name), "nope"))
	if !errorsIs(err, engine.ErrNotFound) {
		t.Errorf("Publish of a missing container: %v, want ErrNotFound", err)
	}
	other.mu.Lock()
	n := len(other.forwards)
	other.mu.Unlock()
	if n != 0 {
		t.Errorf("%d forwards held after a failed Publish", n)
	}
	// A pod absent from an existing namespace, and an absent namespace.
	for _, id := range []string{namespaceOf(p.name) + "/absent", "no-such-ns/absent"} {
		ctx := p.ctx()
		_, err := p.eng.Inspect(ctx, id)
		notFoundErr(t, "Inspect "+id, err)
		notFoundErr(t, "Start "+id, p.eng.Start(ctx, id))
		notFoundErr(t, "Stop "+id, p.eng.Stop(ctx, id, time.Second))
		notFoundErr(t, "Kill "+id, p.eng.Kill(ctx, id, ""))
		_, err = p.eng.Wait(ctx, id)
		notFoundErr(t, "Wait "+id, err)
		_, err = p.eng.Exec(ctx, id, []string{"true"}, nil, nil)
		notFoundErr(t, "Exec "+id, err)
		notFoundErr(t, "Logs "+id, p.eng.Logs(ctx, id, engine.LogOptions{}, nil, nil))
		for _, kind := range []string{engine.KindContainer, engine.KindNetwork, engine.KindVolume, engine.KindProject} {
			if err := p.eng.Remove(ctx, engine.Resource{Kind: kind, ID: id}); err != nil {
				t.Errorf("Remove absent %s %s: %v", kind, id, err)
			}
		}
	}
}

func notFoundErr(t *testing.T, what string, err error) {
	t.Helper()
	if !errorsIs(err, engine.ErrNotFound) {
		t.Errorf("%s: %v; want ErrNotFound", what, err)
	}
}
