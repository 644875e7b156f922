package reap

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/owner"
)

// SelfSpec selects the managed resources that this process owns.
func TestSelfSpec(t *testing.T) {
	spec := SelfSpec("podman")
	me := owner.Self()
	l := me.Labels(time.Now())
	if spec.Engine != "podman" || spec.Labels[label.Managed] != "true" || spec.Labels[owner.LabelPid] != strconv.Itoa(os.Getpid()) {
		t.Fatalf("spec %+v", spec)
	}
	for k, v := range spec.Labels {
		if k != label.Managed && l[k] != v {
			t.Errorf("label %s=%q, this process's owner labels say %q", k, v, l[k])
		}
	}
}

func TestParseSpec(t *testing.T) {
	want := Spec{Engine: "docker", Pid: 42, Start: "7", Labels: map[string]string{"a": "b"}, Paths: []string{"/x"}}
	b, _ := json.Marshal(want)
	got, err := ParseSpec(string(b))
	if err != nil || got.Engine != want.Engine || got.Pid != 42 || got.Start != "7" || got.Labels["a"] != "b" || len(got.Paths) != 1 {
		t.Fatalf("ParseSpec(%s) = %+v, %v", b, got, err)
	}
	for _, bad := range []string{"", "{", `{"engine":"docker"}`, `{"labels":{}}`} {
		if _, err := ParseSpec(bad); err == nil {
			t.Errorf("ParseSpec(%q) accepted it", bad)
		}
	}
}

// registerFake registers eng under a name unique to the test.
func registerFake(t *testing.T, eng *fakeEngine) string {
	name := "reap-fake-" + strings.ReplaceAll(eng.endpoint, "/", "-")
	engine.Register(name, func(ctx context.Context) (engine.Engine, error) { return eng, nil })
	return name
}

// Once stdin ends, a watcher removes what its labels select except kept
// projects, looks again for what a late create left, removes its paths and
// sweeps.
func TestWatch(t *testing.T) {
	defer func(r []time.Duration) { rechecks = r }(rechecks)
	rechecks = []time.Duration{0, 0}
	eng := newFake(t)
	run := map[string]string{label.Managed: "true", "run": "1"}
	with := func(l map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range l {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	eng.add(engine.KindContainer, "a-web-1", with(run, label.Project, "a"))
	eng.add(engine.KindNetwork, "a_default", with(run, label.Project, "a"))
	eng.add(engine.KindContainer, "k-web-1", with(run, label.Project, "k"))
	eng.add(engine.KindVolume, "k_composegen-keep", with(run, label.Project, "k", label.Keep, "failure"))
	eng.add(engine.KindContainer, "o-web-1", with(run, label.Project, "o", "run", "2"))
	// A create that completes after the first pass (its List and the
	// List of its removal).
	eng.onList = func(e *fakeEngine) {
		e.mu.Lock()
		late := e.lists == 2
		e.mu.Unlock()
		if late {
			e.add(engine.KindContainer, "a-late-1", with(run, label.Project, "a"))
		}
	}
	path := filepath.Join(t.TempDir(), "lock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	gone := map[string]int{}
	sweeps := 0
	spec := Spec{Engine: registerFake(t, eng), Labels: run, Paths: []string{path}}
	code := watch(spec, strings.NewReader(""), Hooks{
		Gone:  func(p string) { gone[p]++ },
		Sweep: func() { sweeps++ },
	})
	if code != 0 {
		t.Fatalf("exit code %d", code)
	}
	left := map[string]bool{}
	for _, r := range eng.res {
		left[r.ID] = true
	}
	if len(left) != 3 || !left["k-web-1"] || !left["k_composegen-keep"] || !left["o-web-1"] {
		t.Errorf("left %v, want the kept project and the other run's", left)
	}
	if len(gone) != 1 || gone["a"] != 3 {
		t.Errorf("Gone calls %v, want a, once per removed resource", gone)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("path not removed: %v", err)
	}
	if sweeps != 1 {
		t.Errorf("%d sweeps, want 1", sweeps)
	}
}

// A watcher whose engine cannot be opened ends with 1 and removes nothing.
func TestWatchNoEngine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	spec := Spec{Engine: "reap-no-such-engine", Labels: map[string]string{"a": "b"}, Paths: []string{path}}
	if code := watch(spec, strings.NewReader(""), Hooks{}); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("path removed: %v", err)
	}
}
