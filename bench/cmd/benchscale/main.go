// Command benchscale starts N stacks in parallel in one process, with
// composegen's generated Up and with the limit reference (plain
// create/start of the same containers, readiness probed from the host with
// the real clients), and reports the wall time until all N are ready.
//
//	cd bench && go run ./cmd/benchscale -n 1,4,12,20 -runs 3
//
// Each stack is used with its real clients the moment its own Up returns (a
// pgx query, a go-redis PING); a stack that fails to start or does not
// answer makes the run a failed run. Runs are interleaved: each round runs
// every N with every tool, the tools in a rotating order; ratios are per
// round. Round 0 (the smallest N only) is a warm-up. Before each run the
// machine is left to settle (-settle) until it is quiet, so that no run
// inherits the load of the one before it (the engine's clean-up of twenty
// removed stacks goes on after their Down returned).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/composegen/composegen/bench/internal/countengine"
	"github.com/composegen/composegen/bench/internal/harness"
)

type stackRun struct {
	up       time.Duration // until this stack's Up returned
	err      error         // up or verify
	timeline map[string]harness.Phases
	raw      string
}

type result struct {
	n       int
	wall    time.Duration // until the last of the N Ups returned
	down    time.Duration
	stacks  []stackRun
	calls   countengine.Counts
	cpu     harness.CPU
	load    float64
	leaked  int
	downErr []string
}

func (r result) failures() []string {
	var out []string
	for i, s := range r.stacks {
		if s.err != nil {
			out = append(out, fmt.Sprintf("stack %d: %s", i, harness.OneLine(s.err.Error(), 600)))
		}
	}
	return out
}

func (r result) ok() bool { return len(r.failures()) == 0 }

func main() {
	ns := flag.String("n", "1,4,12,20", "comma-separated numbers of parallel stacks")
	runs := flag.Int("runs", 3, "counted rounds (plus a warm-up at the smallest N)")
	tools := flag.String("tools", "ours,limit", "comma-separated tools: ours, limit (tc, cli also work)")
	stack := flag.String("stack", "example", "the stack to start N times")
	verbose := flag.Bool("v", false, "print every stack's per-service timeline")
	timeout := flag.Duration("timeout", 10*time.Minute, "bound of the N starts, for every tool (composegen: runtime.WithTimeout)")
	every := flag.Duration("probe-every", 20*time.Millisecond, "the limit's probe cadence (composegen's probes back off to 20ms)")
	settle := flag.Duration("settle", 3*time.Minute, "before each run, wait (at most this long) until the machine is quiet, so that no run inherits the previous one's load (0: do not wait)")
	flag.Parse()

	root, err := harness.Root()
	if err != nil {
		fatalf("%v", err)
	}
	var sizes []int
	for _, f := range strings.Split(*ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fatalf("bad -n entry %q", f)
		}
		sizes = append(sizes, n)
	}
	var ts []harness.Tool
	for _, n := range strings.Split(*tools, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		t, err := harness.ToolByFlag(n, harness.ToolConfig{Timeout: *timeout, ProbeEvery: *every})
		if err != nil {
			fatalf("%v", err)
		}
		ts = append(ts, t)
	}
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	st := harness.StackByName(*stack)
	if st == nil {
		fatalf("unknown stack %q", *stack)
	}
	st.Resolve(root)

	fmt.Printf("benchscale: stack %s × N = %v in parallel in one process; %d counted rounds (+1 warm-up at N=%d); %d cores; timeout %s; limit probes every %s\n",
		st.Name, sizes, *runs, sizes[0], harness.NumCPU(), *timeout, *every)
	fmt.Printf("started %s, %s\n\n", time.Now().Format(time.RFC3339), harness.Uptime())

	// An interrupted earlier run may have left its stacks (the names are
	// deterministic): remove them first.
	var projects []string
	for r := 0; r <= *runs; r++ {
		for _, n := range sizes {
			for _, t := range ts {
				for i := 0; i < n; i++ {
					projects = append(projects, project(t, r, n, i))
				}
			}
		}
	}
	if n := harness.Leftovers(context.Background(), projects...); n > 0 {
		fmt.Printf("removed %d container(s)/network(s) an earlier run left behind\n\n", n)
	}

	results := map[int]map[string][]result{}
	for _, n := range sizes {
		results[n] = map[string][]result{}
	}
	for r := 0; r <= *runs; r++ {
		for _, n := range sizes {
			if r == 0 && n != sizes[0] {
				continue
			}
			for i := range ts {
				t := ts[(i+r+n)%len(ts)]
				if *settle > 0 {
					if w, ok := harness.Settle(*settle); !ok {
						fmt.Printf("         (the machine did not become quiet within %s; running anyway)\n", harness.Secs(w))
					}
				}
				res := runN(t, st, n, r, *timeout, *verbose)
				label := fmt.Sprintf("run %d", r)
				if r == 0 {
					label = "warm-up"
				}
				line := fmt.Sprintf("%-8s N=%-3d %-11s all ready %7s  down %6s  load %5.2f  failed %d/%d",
					label, n, t.Name, harness.Secs(res.wall), harness.Secs(res.down), res.load, len(res.failures()), n)
				fmt.Println(line)
				fmt.Printf("         per stack: %s\n", perStack(res))
				if t.Name == harness.Ours {
					fmt.Printf("         engine: %s\n", res.calls.Short())
				}
				fmt.Printf("         %s\n", res.cpu)
				fmt.Printf("         phases (median over stacks / max): %s\n", phases(res))
				for _, f := range res.failures() {
					fmt.Printf("         FAILED %s\n", f)
				}
				for _, e := range res.downErr {
					fmt.Printf("         down error: %s\n", e)
				}
				if res.leaked > 0 {
					fmt.Printf("         LEAK: %d container(s)/network(s) left behind; removed\n", res.leaked)
				}
				if r > 0 {
					results[n][t.Name] = append(results[n][t.Name], res)
				}
			}
		}
	}
	fmt.Printf("\nfinished %s, %s\n", time.Now().Format(time.RFC3339), harness.Uptime())
	report(sizes, ts, results)
}

// runN starts n copies of st with t at once and waits for all of them.
func runN(t harness.Tool, st *harness.Stack, n, round int, timeout time.Duration, verbose bool) result {
	res := result{n: n, load: harness.Loadavg(), stacks: make([]stackRun, n)}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	projects := make([]string, n)
	runs := make([]*harness.Running, n)
	c0, cpu0 := countengine.Snapshot(), harness.ReadCPU()
	countengine.ResetMax()
	t0 := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var last time.Time
	for i := 0; i < n; i++ {
		projects[i] = project(t, round, n, i)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			run, err := t.Up(ctx, st, projects[i])
			end := time.Now()
			mu.Lock()
			if end.After(last) {
				last = end
			}
			mu.Unlock()
			sr := stackRun{up: end.Sub(t0)}
			runs[i] = run
			if err == nil {
				targets := run.Targets
				if targets == nil {
					targets, err = harness.PublishedTargets(ctx, projects[i], st.Checks)
				}
				if err == nil {
					if verr := harness.Verify(ctx, st.Checks, targets); verr != nil {
						err = fmt.Errorf("FALSE READINESS (up returned, then a service did not answer): %w", verr)
					}
				}
			} else {
				err = fmt.Errorf("up failed: %w", err)
			}
			sr.err = err
			if run != nil && run.Timeline != nil {
				sr.raw = run.Timeline()
				sr.timeline = harness.ParseTimeline(sr.raw)
			}
			res.stacks[i] = sr
		}(i)
	}
	wg.Wait()
	res.wall = last.Sub(t0)
	res.cpu = harness.ReadCPU().Sub(cpu0)
	res.calls = countengine.Snapshot().Sub(c0)
	if verbose {
		for i, s := range res.stacks {
			if s.raw != "" {
				fmt.Printf("    [%d] %s\n", i, strings.ReplaceAll(s.raw, "\n", "\n        "))
			}
		}
	}

	dctx, dcancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer dcancel()
	td := time.Now()
	for i := range runs {
		if runs[i] == nil || runs[i].Down == nil {
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := runs[i].Down(dctx); err != nil {
				mu.Lock()
				res.downErr = append(res.downErr, harness.OneLine(err.Error(), 300))
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	res.down = time.Since(td)
	res.leaked = harness.Leftovers(dctx, projects...)
	return res
}

func perStack(r result) string {
	var ok []time.Duration
	for _, s := range r.stacks {
		if s.err == nil {
			ok = append(ok, s.up)
		}
	}
	d := harness.Sorted(ok)
	if len(d) == 0 {
		return "none ready"
	}
	return fmt.Sprintf("median %s, min–max %s", harness.Secs(d.Median()), d.Spread())
}

// phases summarises, per service, when containers were started and how
// long readiness took after the start, across the N stacks.
func phases(r result) string {
	type agg struct{ start, wait []time.Duration }
	m := map[string]*agg{}
	for _, s := range r.stacks {
		for svc, p := range s.timeline {
			if p.Started < 0 || p.Ready < 0 {
				continue
			}
			a := m[svc]
			if a == nil {
				a = &agg{}
				m[svc] = a
			}
			a.start = append(a.start, p.Started)
			a.wait = append(a.wait, p.Ready-p.Started)
		}
	}
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		s, w := harness.Sorted(m[k].start), harness.Sorted(m[k].wait)
		parts = append(parts, fmt.Sprintf("%s started at %s/%s, ready %s/%s after start", k,
			harness.Secs(s.Median()), harness.Secs(s[len(s)-1]), harness.Secs(w.Median()), harness.Secs(w[len(w)-1])))
	}
	return strings.Join(parts, "; ")
}

func report(sizes []int, ts []harness.Tool, results map[int]map[string][]result) {
	fmt.Println("\nall ready = wall time from the N Ups' start until the last returned; a run counts only if all N stacks started and answered.")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "N\ttool\tok runs\tfailed stacks\tall ready median\tmin–max\t÷ limit median (pairs)\tpairs min–max\texecs/stack\tinspects/stack\tbench cpu\tdocker cpu\tload\t")
	for _, n := range sizes {
		for _, t := range ts {
			rs := results[n][t.Name]
			var walls []time.Duration
			var failedStacks int
			var ex, in, cpuSelf, cpuEng, loads []float64
			for _, r := range rs {
				failedStacks += len(r.failures())
				if r.ok() {
					walls = append(walls, r.wall)
				}
				ex = append(ex, float64(r.calls.Ops["exec"].Calls)/float64(n))
				in = append(in, float64(r.calls.Ops["inspect"].Calls)/float64(n))
				cpuSelf = append(cpuSelf, r.cpu.Self.Seconds())
				cpuEng = append(cpuEng, r.cpu.Engine.Seconds())
				loads = append(loads, r.load)
			}
			d := harness.Sorted(walls)
			ratio, spread := "-", "-"
			if t.Name != harness.Limit {
				if f := pairs(rs, results[n][harness.Limit]); len(f) > 0 {
					ratio, spread = fmt.Sprintf("%.2fx", harness.MedianF(f)), harness.MinMaxF(f)
				}
			}
			calls := func(f []float64) string {
				if t.Name != harness.Ours {
					return "-"
				}
				return fmt.Sprintf("%.1f", harness.MedianF(f))
			}
			med := "-"
			if len(d) > 0 {
				med = harness.Secs(d.Median())
			}
			fmt.Fprintf(w, "%d\t%s\t%d/%d\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%s\t%.1fs\t%.1fs\t%.1f\t\n", n, t.Name, len(walls), len(rs), failedStacks, n*len(rs),
				med, d.Spread(), ratio, spread, calls(ex), calls(in), harness.MedianF(cpuSelf), harness.MedianF(cpuEng), harness.MedianF(loads))
		}
	}
	w.Flush()
	fmt.Println("\nratios per round (same round, both runs complete), composegen ÷ limit:")
	for _, n := range sizes {
		if f := pairs(results[n][harness.Ours], results[n][harness.Limit]); len(f) > 0 {
			fmt.Printf("  N=%-3d %s (median %.2fx)\n", n, harness.FmtRatios(f), harness.MedianF(f))
		}
	}
}

func pairs(a, b []result) []float64 {
	var out []float64
	for i := range a {
		if i >= len(b) || !a[i].ok() || !b[i].ok() {
			continue
		}
		out = append(out, a[i].wall.Seconds()/b[i].wall.Seconds())
	}
	return out
}

func project(t harness.Tool, round, n, i int) string {
	return fmt.Sprintf("bench-scale-%s-r%d-n%d-%02d", short(t.Name), round, n, i)
}

func short(tool string) string {
	switch tool {
	case harness.Ours:
		return "ours"
	case harness.TC:
		return "tc"
	case harness.CLI:
		return "cli"
	}
	return tool
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchscale: "+format+"\n", args...)
	os.Exit(1)
}
