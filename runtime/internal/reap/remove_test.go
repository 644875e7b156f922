package reap

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/composegen/composegen/runtime/engine"
)

// Containers go first, then networks and volumes, then projects; what keep
// spares and what the labels do not select stays; a known container goes
// even when the listing does not show it.
func TestRemoveOrder(t *testing.T) {
	eng := newFake(t)
	mine := map[string]string{"stack": "a"}
	eng.add(engine.KindProject, "proj", mine)
	eng.add(engine.KindVolume, "vol", mine)
	eng.add(engine.KindNetwork, "net", mine)
	eng.add(engine.KindContainer, "c1", mine)
	eng.add(engine.KindContainer, "c2", mine)
	eng.add(engine.KindContainer, "spared", mine)
	eng.add(engine.KindContainer, "unlabelled", nil) // known by ID only
	eng.add(engine.KindContainer, "other", map[string]string{"stack": "b"})

	removed, err := Remove(context.Background(), eng, mine, []string{"unlabelled", "gone-already"},
		func(r engine.Resource) bool { return r.ID == "spared" })
	if err != nil {
		t.Fatal(err)
	}
	rank := map[string]int{engine.KindContainer: 0, engine.KindNetwork: 1, engine.KindVolume: 1, engine.KindProject: 2}
	var ids []string
	for i, r := range eng.removed {
		ids = append(ids, r.ID)
		if i > 0 && rank[r.Kind] < rank[eng.removed[i-1].Kind] {
			t.Errorf("%s %s removed after %s %s", r.Kind, r.ID, eng.removed[i-1].Kind, eng.removed[i-1].ID)
		}
	}
	if len(ids) != 6 {
		t.Errorf("engine removed %v, want c1, c2, unlabelled, net, vol, proj", ids)
	}
	// What was already gone counts as removed.
	if len(removed) != 7 {
		t.Errorf("reported %d removed, want 7 (with gone-already)", len(removed))
	}
	left := map[string]bool{}
	for _, r := range eng.res {
		left[r.ID] = true
	}
	if len(left) != 2 || !left["spared"] || !left["other"] {
		t.Errorf("left %v, want spared and other", left)
	}
}

// A failure does not stop the others; the error names each failed resource
// by name, or by short ID.
func TestRemoveErrors(t *testing.T) {
	eng := newFake(t)
	l := map[string]string{"stack": "a"}
	eng.add(engine.KindContainer, "c1", l)
	eng.add(engine.KindVolume, "vol", l)
	long := strings.Repeat("0123456789", 4)
	eng.res = append(eng.res, engine.Resource{Kind: engine.KindNetwork, ID: long, Labels: l})
	eng.fail["vol"] = errBusy
	eng.fail[long] = errBusy
	removed, err := Remove(context.Background(), eng, l, nil, nil)
	if !errors.Is(err, errBusy) {
		t.Fatalf("error %v, want the engine's", err)
	}
	for _, want := range []string{"remove volume vol: busy", "remove network 012345678901: busy"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), long) {
		t.Errorf("error %q shows the full ID", err)
	}
	if len(removed) != 1 || removed[0].ID != "c1" {
		t.Errorf("removed %v, want c1 only", removed)
	}
}
