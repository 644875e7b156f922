package reap

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/composegen/composegen/runtime/engine"
)

// Remove removes every resource that carries labels and that keep does not
// spare (keep may be nil): containers first, all in parallel (the known
// container IDs at once, while the listing runs), then networks and
// volumes, then projects. A resource already gone counts as removed. It
// returns what it removed, and every failure joined.
func Remove(ctx context.Context, eng engine.Engine, labels map[string]string, known []string, keep func(engine.Resource) bool) ([]engine.Resource, error) {
	var (
		mu      sync.Mutex
		errs    []error
		removed []engine.Resource
		seen    = map[string]bool{}
		wg      sync.WaitGroup
	)
	remove := func(r engine.Resource) {
		mu.Lock()
		if seen[r.Kind+" "+r.ID] {
			mu.Unlock()
			return
		}
		seen[r.Kind+" "+r.ID] = true
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := eng.Remove(ctx, r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && !errors.Is(err, engine.ErrNotFound) {
				errs = append(errs, fmt.Errorf("remove %s %s: %w", r.Kind, displayID(r), err))
				return
			}
			removed = append(removed, r)
		}()
	}
	for _, id := range known {
		remove(engine.Resource{Kind: engine.KindContainer, ID: id})
	}
	list, err := eng.List(ctx, labels)
	if err != nil {
		errs = append(errs, fmt.Errorf("list resources: %w", err))
	}
	var rest []engine.Resource
	for _, r := range list {
		switch {
		case keep != nil && keep(r):
		case r.Kind == engine.KindContainer:
			remove(r)
		default:
			rest = append(rest, r)
		}
	}
	wg.Wait()
	// Networks and volumes can go once no container uses them; projects
	// (which hold everything) last.
	for _, phase := range [][]string{{engine.KindNetwork, engine.KindVolume}, {engine.KindProject}} {
		for _, r := range rest {
			if r.Kind == phase[0] || (len(phase) > 1 && r.Kind == phase[1]) {
				remove(r)
			}
		}
		wg.Wait()
	}
	mu.Lock()
	defer mu.Unlock()
	return removed, errors.Join(errs...)
}

// displayID names a resource in messages: its name, else its short ID.
func displayID(r engine.Resource) string {
	if r.Name != "" {
		return r.Name
	}
	if len(r.ID) > 12 {
		return r.ID[:12]
	}
	return r.ID
}
