package runtime

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
)

// starting returns the most containers of stacks that were starting (from
// their start until ready) at the same time.
func starting(stacks []*Stack) int {
	type edge struct {
		at time.Time
		d  int
	}
	var edges []edge
	for _, s := range stacks {
		for _, u := range s.order {
			for _, r := range u.replicas {
				r.mu.Lock()
				edges = append(edges, edge{r.tStarted, +1}, edge{r.tReady, -1})
				r.mu.Unlock()
			}
		}
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at.Equal(edges[j].at) {
			return edges[i].d < edges[j].d // a ready frees its slot first
		}
		return edges[i].at.Before(edges[j].at)
	})
	n, most := 0, 0
	for _, e := range edges {
		n += e.d
		most = max(most, n)
	}
	return most
}

// withMaxStarting sets the start's COMPOSEGEN_MAX_STARTING value, as the
// variable does through newConfig, for tests that run in parallel.
func withMaxStarting(v string) Option { return func(c *config) { c.maxStarting = v } }

// upMany starts n copies of plan at once on eng.
func upMany(t *testing.T, eng *fakeEngine, n int, plan func() *composeplan.Plan, extra ...Option) ([]*Stack, []error) {
	t.Helper()
	opts := append(fakeOpts(t, eng), extra...)
	stacks, errs := make([]*Stack, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stacks[i], errs[i] = Up(context.Background(), plan(), opts...)
		}()
	}
	wg.Wait()
	for _, s := range stacks {
		if s != nil {
			t.Cleanup(func() { _ = s.Down(context.Background()) })
		}
	}
	return stacks, errs
}

func twoServices() *composeplan.Plan {
	return fakePlan(server("db", "slow"), server("cache", "slow"))
}

// Many stacks started at once by one process share the engine's CPUs: the
// process starts at most COMPOSEGEN_MAX_STARTING containers at a time
// (whole stacks, first come first served), and every stack comes up.
func TestStartsAreBounded(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  string
		cpus int
		want int // the most starting at once; 0: unbounded (all of them)
	}{
		{env: "2", want: 2},
		{env: "", cpus: 1, want: startsPerCPU},
		{env: "0", cpus: 1},
		{env: "", cpus: 0}, // the engine does not say: no bound
	} {
		t.Run("env="+tc.env+"/cpus="+string(rune('0'+tc.cpus)), func(t *testing.T) {
			t.Parallel()
			eng := newFakeEngine(t, map[string]behaviour{"slow": {listenAfter: 300 * time.Millisecond, protocol: "redis"}})
			eng.cpus = tc.cpus
			stacks, errs := upMany(t, eng, 5, twoServices, withMaxStarting(tc.env))
			for i, err := range errs {
				if err != nil {
					t.Fatalf("stack %d: %v", i, err)
				}
			}
			got := starting(stacks)
			if tc.want == 0 && got != 10 {
				t.Errorf("%d containers starting at once at most, want all 10 (no bound)", got)
			}
			if tc.want > 0 && got != tc.want {
				t.Errorf("%d containers starting at once at most, want %d", got, tc.want)
			}
		})
	}
}

// A stack larger than the bound is admitted alone, and its containers
// start together (a dependency never waits behind its dependent).
func TestStartsBoundAdmitsABigStackWhole(t *testing.T) {
	t.Parallel()
	eng := newFakeEngine(t, map[string]behaviour{"slow": {listenAfter: 300 * time.Millisecond, protocol: "redis"}})
	three := func() *composeplan.Plan {
		return fakePlan(server("a", "slow"), server("b", "slow"), server("c", "slow"))
	}
	stacks, errs := upMany(t, eng, 2, three, withMaxStarting("1"))
	for i, err := range errs {
		if err != nil {
			t.Fatalf("stack %d: %v", i, err)
		}
	}
	for i, s := range stacks {
		if got := starting([]*Stack{s}); got != 3 {
			t.Errorf("stack %d: %d of its 3 containers starting together, want 3", i, got)
		}
	}
	if got := starting(stacks); got != 3 {
		t.Errorf("%d containers starting at once across both stacks, want 3 (one stack at a time)", got)
	}
	// The stack that waited says so in its timeline.
	waited := 0
	for _, s := range stacks {
		if tl := s.Timeline(); strings.Contains(tl, "for its turn to start: at most 1 containers of this process starting at once on this engine, "+maxStartingEnv) {
			waited++
		}
	}
	if waited != 1 {
		t.Errorf("%d timelines tell a wait for a turn, want 1:\n%s\n%s", waited, stacks[0].Timeline(), stacks[1].Timeline())
	}
}

// A stack that cannot get its turn before its timeout says why, and what
// to do; the stack ahead of it is not disturbed.
func TestStartsBoundTimeoutExplains(t *testing.T) {
	t.Parallel()
	eng := newFakeEngine(t, map[string]behaviour{
		"never": {protocol: "redis"}, // never listens
		"fast":  {listenAfter: 10 * time.Millisecond, protocol: "redis"},
	})
	ahead := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_, err := Up(ctx, fakePlan(server("stuck", "never")), append(fakeOpts(t, eng), withMaxStarting("1"))...)
		ahead <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(eng.startedOf("never")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the first stack never started its container")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err := upFake(t, eng, fakePlan(server("quick", "fast")), WithTimeout(500*time.Millisecond), withMaxStarting("1"))
	wantErr(t, err, "no container started", "waited", "for its turn", "at most 1 containers", maxStartingEnv, "WithTimeout", "-parallel")
	if got := eng.startedOf("fast"); len(got) != 0 {
		t.Errorf("the queued stack started %d container(s)", len(got))
	}
	cancel()
	if err := <-ahead; err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("first stack: %v, want its cancellation", err)
	}
	// Its slot is free again: a stack starts at once.
	if _, err := upFake(t, eng, fakePlan(server("quick", "fast")), WithTimeout(5*time.Second), withMaxStarting("1")); err != nil {
		t.Fatalf("after the first stack ended: %v", err)
	}
}

func TestStartsBoundBadEnv(t *testing.T) {
	for _, v := range []string{"abc", "-1", "2.5"} {
		t.Setenv(maxStartingEnv, v)
		_, err := gateFor(engine.Info{Endpoint: "x", CPUs: 2}, newConfig(nil).maxStarting)
		if err == nil || !strings.Contains(err.Error(), maxStartingEnv) || !strings.Contains(err.Error(), "0: no bound") {
			t.Errorf("%s=%q: %v, want an error naming the variable and its values", maxStartingEnv, v, err)
		}
	}
}
