package reap

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/label"
)

// fakeEngine holds resources in memory and records the order of removals.
// Only Info, List and Remove are implemented: reaping needs no more (the
// embedded nil Engine panics on any other call).
type fakeEngine struct {
	engine.Engine
	endpoint string

	mu      sync.Mutex
	res     []engine.Resource
	lists   int
	removed []engine.Resource // in order
	fail    map[string]error  // by resource ID: Remove's error
	onList  func(*fakeEngine) // called (unlocked) before each List answers
}

var fakeSeq sync.Mutex
var fakeN int

func newFake(t *testing.T) *fakeEngine {
	fakeSeq.Lock()
	fakeN++
	n := fakeN
	fakeSeq.Unlock()
	return &fakeEngine{endpoint: "fake://" + t.Name() + "/" + strconv.Itoa(n), fail: map[string]error{}}
}

func (e *fakeEngine) add(kind, id string, labels map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	l := map[string]string{}
	for k, v := range labels {
		l[k] = v
	}
	e.res = append(e.res, engine.Resource{Kind: kind, ID: id, Name: id, Labels: l})
}

func (e *fakeEngine) Info() engine.Info { return engine.Info{Name: "fake", Endpoint: e.endpoint} }

func (e *fakeEngine) List(ctx context.Context, labels map[string]string) ([]engine.Resource, error) {
	if e.onList != nil {
		e.onList(e)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lists++
	var out []engine.Resource
next:
	for _, r := range e.res {
		for k, v := range labels {
			if r.Labels[k] != v {
				continue next
			}
		}
		out = append(out, r)
	}
	return out, nil
}

func (e *fakeEngine) Remove(ctx context.Context, r engine.Resource) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.fail[r.ID]; err != nil {
		return err
	}
	for i, x := range e.res {
		if x.Kind == r.Kind && x.ID == r.ID {
			e.res = append(e.res[:i], e.res[i+1:]...)
			e.removed = append(e.removed, x)
			return nil
		}
	}
	return engine.ErrNotFound
}

// projects returns the projects that have resources left.
func (e *fakeEngine) projects() map[string]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string]bool{}
	for _, r := range e.res {
		out[r.Labels[label.Project]] = true
	}
	return out
}

var errBusy = errors.New("busy")
