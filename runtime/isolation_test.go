package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// instanceFacts are the engine names and host ports of one stack instance:
// what two instances must never share.
type instanceFacts struct {
	project, container, network, volume string
	port                                int
}

func factsOf(s *Stack) instanceFacts {
	r := s.Service("redis")
	return instanceFacts{
		project:   s.ProjectName(),
		container: r.ContainerName(),
		network:   s.networks["default"],
		volume:    s.volumes["data"],
		port:      r.Port(6379, "tcp").HostPort,
	}
}

func (f instanceFacts) String() string {
	return fmt.Sprintf("%s %s %s %s %d", f.project, f.container, f.network, f.volume, f.port)
}

// checkDistinct fails when two live instances share a name or a port.
func checkDistinct(t *testing.T, all []instanceFacts) {
	t.Helper()
	seen := map[string]string{}
	for _, f := range all {
		for _, kv := range [][2]string{
			{"project", f.project}, {"container", f.container}, {"network", f.network},
			{"volume", f.volume}, {"port", fmt.Sprint(f.port)},
		} {
			if kv[1] == "0" {
				continue
			}
			key := kv[0] + " " + kv[1]
			if other, dup := seen[key]; dup {
				t.Errorf("%s shared by %s and %s", key, other, f.project)
			}
			seen[key] = f.project
		}
	}
}

// TestIsolationEightParallelStacks starts 8 instances of one plan at once,
// in goroutines of one test (whatever -test.parallel), all alive at the
// same time (a barrier holds each instance until all are up). The plan has
// a compose container_name, a fixed published port and a named volume, the
// usual sources of collisions: each instance gets its own names, data and
// ephemeral port, all start, and nothing is left.
func TestIsolationEightParallelStacks(t *testing.T) {
	requireDocker(t)
	const n = 8
	var (
		mu      sync.Mutex
		all     []instanceFacts
		arrived sync.WaitGroup
		wg      sync.WaitGroup
	)
	arrived.Add(n)
	together := make(chan struct{})
	go func() { arrived.Wait(); close(together) }()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Up(context.Background(), redisPlan("iso"), WithTimeout(3*time.Minute))
			arrived.Done()
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
				return
			}
			defer s.Down(context.Background())
			select {
			case <-together:
			case <-time.After(3 * time.Minute):
				t.Errorf("instance %d: the 8 instances were never up at the same time", i)
				return
			}
			res, err := s.Service("redis").Exec(context.Background(), "redis-cli", "set", "owner", s.ProjectName())
			if err != nil || res.ExitCode != 0 {
				t.Errorf("instance %d: exec: %v %+v", i, err, res)
				return
			}
			res, err = s.Service("redis").Exec(context.Background(), "redis-cli", "get", "owner")
			if err != nil || strings.TrimSpace(res.Stdout) != s.ProjectName() {
				t.Errorf("instance %s sees another's data: %v %+v", s.ProjectName(), err, res)
			}
			mu.Lock()
			all = append(all, factsOf(s))
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(all) != n {
		t.Fatalf("%d of %d instances started", len(all), n)
	}
	checkDistinct(t, all) // all 8 were alive together: ports included
	for _, f := range all {
		assertNoneLeft(t, f.project)
	}
}

// TestChildIsolation is one of the concurrent binaries: it starts two
// stacks, reports them, and holds them until the parent's barrier file
// exists.
func TestChildIsolation(t *testing.T) {
	barrier := childMode(t, "Isolation")
	for i := 0; i < 2; i++ {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			s := Start(t, redisPlan("iso-bin"), WithTimeout(3*time.Minute))
			fmt.Printf("FACTS %s\n", factsOf(s))
			deadline := time.Now().Add(3 * time.Minute)
			for {
				if _, err := os.Stat(barrier); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no barrier")
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// lockedBuffer collects a child's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestIsolationThreeBinaries runs three test binaries at once, each with
// two stacks of the same plan, all alive together: no collisions, all
// pass, nothing left.
func TestIsolationThreeBinaries(t *testing.T) {
	requireDocker(t)
	t.Parallel()
	barrier := filepath.Join(t.TempDir(), "go")
	outs := make([]*lockedBuffer, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range outs {
		outs[i] = &lockedBuffer{}
		cmd := childCmd("Isolation", barrier)
		cmd.Stdout, cmd.Stderr = outs[i], outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(i int) { defer wg.Done(); errs[i] = cmd.Wait() }(i)
	}
	facts := func() []instanceFacts {
		var all []instanceFacts
		for _, o := range outs {
			for _, line := range strings.Split(o.String(), "\n") {
				if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "FACTS "); ok {
					var f instanceFacts
					if _, err := fmt.Sscanf(rest, "%s %s %s %s %d", &f.project, &f.container, &f.network, &f.volume, &f.port); err != nil {
						t.Fatalf("bad FACTS line %q: %v", line, err)
					}
					all = append(all, f)
				}
			}
		}
		return all
	}
	// All six stacks are up before any is released.
	deadline := time.Now().Add(4 * time.Minute)
	for len(facts()) < 6 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if err := os.WriteFile(barrier, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("binary %d failed (%v):\n%s", i, err, outs[i].String())
		}
	}
	all := facts()
	if len(all) != 6 {
		t.Fatalf("%d stacks reported, want 6", len(all))
	}
	sort.Slice(all, func(i, j int) bool { return all[i].project < all[j].project })
	checkDistinct(t, all)
	for _, f := range all {
		assertNoneLeft(t, f.project)
	}
}
