package runtime

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/label"
)

// privateEngine is an engine whose published ports belong to the process
// that holds them (as Kubernetes' port-forwards): Inspect reports none
// until Publish, which fails with fail when set.
type privateEngine struct {
	*fakeEngine
	mu        sync.Mutex
	published map[string]bool
	fail      error
}

func (e *privateEngine) Inspect(ctx context.Context, id string) (engine.State, error) {
	st, err := e.fakeEngine.Inspect(ctx, id)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.published[id] {
		st.Ports = nil
	}
	return st, err
}

func (e *privateEngine) Publish(ctx context.Context, id string) (map[engine.PortKey]engine.HostPort, error) {
	e.mu.Lock()
	if e.fail != nil {
		e.mu.Unlock()
		return nil, e.fail
	}
	e.published[id] = true
	e.mu.Unlock()
	st, err := e.Inspect(ctx, id)
	return st.Ports, err
}

// Attaching to a shared stack on an engine whose ports belong to a process
// publishes the ports of each running container to this process (not of a
// completed one-shot), and the accessors work right after; a failed
// Publish fails the attach, naming the service.
func TestSharedRebuildPublishes(t *testing.T) {
	fe := newFakeEngine(t, map[string]behaviour{
		"redis": {listenAfter: 10 * time.Millisecond, protocol: "redis"},
		"job":   {exitAfter: 10 * time.Millisecond},
	})
	plan := fakePlan(
		composeplan.ServiceSpec{Name: "cache", Image: "redis", Kind: "redis",
			Ports: []composeplan.PortSpec{{Target: 6379, Protocol: "tcp"}},
			Probe: &composeplan.ProbeSpec{Protocol: "redis", Port: 6379}},
		composeplan.ServiceSpec{Name: "job", Image: "job"},
	)
	key := strings.Repeat("2", 64)
	started, err := upFake(t, fe, plan, func(c *config) { c.labels = map[string]string{label.Shared: key} })
	if err != nil {
		t.Fatal(err)
	}
	if err := started.Settle(context.Background()); err != nil {
		t.Fatal(err)
	}
	list, err := fe.List(context.Background(), map[string]string{label.Shared: key})
	if err != nil {
		t.Fatal(err)
	}
	eng := &privateEngine{fakeEngine: fe, published: map[string]bool{}}
	sh := &sharedStart{plan: plan, cfg: started.cfg, eng: eng, dir: started.dir, res: started.res, mask: started.mask, keys: sharedKeys{key: key}, project: started.project}
	s, err := sh.rebuild(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := s.Service("cache").LookupPort(6379, "tcp"); !ok || got.Addr() != started.Service("cache").Addr(6379) {
		t.Errorf("attached port %+v (published %t), want %s", got, ok, started.Service("cache").Addr(6379))
	}
	eng.mu.Lock()
	published := eng.published
	eng.mu.Unlock()
	if want := map[string]bool{s.Service("cache").ContainerID(): true}; !maps.Equal(published, want) {
		t.Errorf("published %v, want the running container only %v", published, want)
	}

	eng2 := &privateEngine{fakeEngine: fe, published: map[string]bool{}, fail: errors.New("no listener")}
	sh.eng = eng2
	if _, err := sh.rebuild(context.Background(), list, nil); err == nil || !strings.Contains(err.Error(), `service "cache": publish its ports to this process: no listener`) {
		t.Errorf("rebuild with a failing Publish: %v", err)
	}
}
