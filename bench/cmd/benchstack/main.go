// Command benchstack measures the time to a ready stack, and back down, with
// composegen's generated fixtures, testcontainers-go's compose module, the
// docker compose CLI and a "limit" reference, on the same compose files.
//
//	cd bench && go run ./cmd/benchstack -runs 5
//
// A run counts only if the stack answers: the moment Up returns, each
// service is used once with its real client (a pgx query, a go-redis PING,
// an AMQP dial and channel, an HTTP GET). A run where that fails is a failed
// run (false readiness), reported with its cause, never a fast one.
//
// Runs are interleaved: every counted round starts each stack once with each
// tool, in a rotating order, so that drift in the machine's load hits every
// tool alike; ratios are taken per round. Round 0 is a warm-up and is not
// counted.
//
// testcontainers-go's reaper (ryuk) image cannot be pulled on offline
// machines: benchstack sets TESTCONTAINERS_RYUK_DISABLED=true unless it is
// already set. Every tool tears its stack down itself; what a run leaves
// behind is removed and reported.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/composegen/composegen/bench/internal/harness"
)

func main() {
	runs := flag.Int("runs", 5, "counted runs per stack and tool (plus one warm-up)")
	tools := flag.String("tools", "ours,tc,cli,limit", "comma-separated tools: ours, tc (testcontainers-go compose), cli (docker compose up --wait), limit")
	stacks := flag.String("stacks", "example,chain5,chain1,canonical,nokind", "comma-separated stacks")
	verbose := flag.Bool("v", false, "print composegen's log, the per-service timelines (composegen's and the limit's) and engine calls of every run")
	timeout := flag.Duration("timeout", 4*time.Minute, "bound of one Up (composegen keeps its own default, 2m, unless -ours-timeout)")
	oursTimeout := flag.Duration("ours-timeout", 0, "composegen's start timeout (runtime.WithTimeout); 0 keeps its default")
	every := flag.Duration("probe-every", harness.DefaultProbeEvery, "the limit's probe cadence")
	flag.Parse()

	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	root, err := harness.Root()
	if err != nil {
		fatalf("%v", err)
	}
	logf := func(format string, args ...any) {
		if *verbose {
			fmt.Printf("    "+format+"\n", args...)
		}
	}
	var ts []harness.Tool
	for _, n := range strings.Split(*tools, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		t, err := harness.ToolByFlag(n, harness.ToolConfig{Logf: logf, Verbose: *verbose, Timeout: *oursTimeout, ProbeEvery: *every})
		if err != nil {
			fmt.Fprintf(os.Stderr, "benchstack: skipping %s: %v\n", n, err)
			continue
		}
		ts = append(ts, t)
	}
	var sts []*harness.Stack
	for _, n := range strings.Split(*stacks, ",") {
		st := harness.StackByName(strings.TrimSpace(n))
		if st == nil {
			fatalf("unknown stack %q (%s)", n, strings.Join(harness.StackNames, ", "))
		}
		st.Resolve(root)
		sts = append(sts, st)
	}

	fmt.Printf("benchstack: %d counted runs (+1 warm-up) per stack and tool; %d cores; TESTCONTAINERS_RYUK_DISABLED=%s\n",
		*runs, harness.NumCPU(), os.Getenv("TESTCONTAINERS_RYUK_DISABLED"))
	fmt.Printf("docker: %s; compose CLI: %s; limit probes every %s\n", dockerVersion(), composeVersion(), *every)
	fmt.Printf("started %s, %s\n\n", time.Now().Format(time.RFC3339), harness.Uptime())

	ctx := context.Background()
	// An interrupted earlier run may have left its stacks (the names are
	// deterministic): remove them first.
	var projects []string
	for r := 0; r <= *runs; r++ {
		for _, st := range sts {
			for _, t := range ts {
				projects = append(projects, project(st, t, r))
			}
		}
	}
	if n := harness.Leftovers(ctx, projects...); n > 0 {
		fmt.Printf("removed %d container(s)/network(s) an earlier run left behind\n\n", n)
	}
	// results[stack][tool][round]
	results := map[string]map[string][]harness.Result{}
	for _, st := range sts {
		results[st.Name] = map[string][]harness.Result{}
	}
	for r := 0; r <= *runs; r++ {
		for _, st := range sts {
			for i := range ts {
				t := ts[(i+r)%len(ts)]
				project := project(st, t, r)
				res := harness.Measure(ctx, t, st, project, *timeout)
				label := fmt.Sprintf("run %d", r)
				if r == 0 {
					label = "warm-up"
				}
				line := fmt.Sprintf("%-8s %-9s %-15s up %7s  down %6s  load %5.2f", label, st.Name, t.Name, harness.Secs(res.Up), harness.Secs(res.Down), res.Load)
				if t.Name == harness.Ours {
					line += "  " + res.Calls.Short()
				}
				fmt.Println(line)
				if res.Failed() {
					fmt.Printf("         FAILED RUN: %s\n", harness.OneLine(res.Cause(), 1500))
				}
				if res.DownErr != nil {
					fmt.Printf("         down error: %s\n", harness.OneLine(res.DownErr.Error(), 500))
				}
				if *verbose {
					if res.Timeline != "" && t.Name != harness.Ours { // composegen logs its own
						fmt.Println(indent(res.Timeline))
					}
					fmt.Printf("    verify %s; %s\n", harness.Secs(res.Verify), res.CPU)
				}
				if n := harness.Leftovers(ctx, project); n > 0 {
					fmt.Printf("         LEAK: %d container(s)/network(s) of %s left behind; removed\n", n, project)
				}
				if r > 0 {
					results[st.Name][t.Name] = append(results[st.Name][t.Name], res)
				}
			}
		}
	}
	fmt.Printf("\nfinished %s, %s\n", time.Now().Format(time.RFC3339), harness.Uptime())
	report(sts, ts, results)
}

func report(sts []*harness.Stack, ts []harness.Tool, results map[string]map[string][]harness.Result) {
	fmt.Println("\nup = until the tool said ready; a run counts only if every service then answered its real client at once.")
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "stack\ttool\tok/runs\tup failed\tfalse ready\tup median\tup min–max\t÷ limit (pairs)\tdown median\tdown min–max\tload median\t")
	for _, st := range sts {
		for _, t := range ts {
			rs := results[st.Name][t.Name]
			var up, down []time.Duration
			var upFail, falseReady int
			var loads []float64
			for _, r := range rs {
				loads = append(loads, r.Load)
				switch {
				case r.UpErr != nil:
					upFail++
				case r.VerifyErr != nil:
					falseReady++
				default:
					up = append(up, r.Up)
					down = append(down, r.Down)
				}
			}
			u, d := harness.Sorted(up), harness.Sorted(down)
			ratio := "-"
			if t.Name != harness.Limit {
				if f := pairRatios(rs, results[st.Name][harness.Limit], false); len(f) > 0 {
					ratio = fmt.Sprintf("%.2fx", harness.MedianF(f))
				}
			}
			fmt.Fprintf(w, "%s\t%s\t%d/%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%.1f\t\n", st.Name, t.Name, len(up), len(rs), upFail, falseReady,
				secsOr(u), u.Spread(), ratio, secsOr(d), d.Spread(), harness.MedianF(loads))
		}
	}
	w.Flush()

	fmt.Println("\nratios per run pair (same round; only rounds where both runs answered):")
	for _, st := range sts {
		ours := results[st.Name][harness.Ours]
		lim := results[st.Name][harness.Limit]
		for _, t := range ts {
			if t.Name == harness.Limit {
				continue
			}
			rs := results[st.Name][t.Name]
			if lim != nil {
				up, down := pairRatios(rs, lim, false), pairRatios(rs, lim, true)
				if len(up) > 0 {
					fmt.Printf("  %-9s %-30s up %s (median %.2fx)   down %s (median %.2fx)\n", st.Name, t.Name+" ÷ limit",
						harness.FmtRatios(up), harness.MedianF(up), harness.FmtRatios(down), harness.MedianF(down))
				}
			}
			if t.Name != harness.Ours && ours != nil {
				up, down := pairRatios(rs, ours, false), pairRatios(rs, ours, true)
				if len(up) > 0 {
					fmt.Printf("  %-9s %-30s up %s (median %.2fx)   down %s (median %.2fx)\n", st.Name, t.Name+" ÷ composegen",
						harness.FmtRatios(up), harness.MedianF(up), harness.FmtRatios(down), harness.MedianF(down))
				}
			}
		}
	}

	fmt.Println("\ncomposegen's engine calls during Up (median over counted runs):")
	for _, st := range sts {
		rs := results[st.Name][harness.Ours]
		if len(rs) == 0 {
			continue
		}
		var ex, fe, in []float64
		for _, r := range rs {
			ex = append(ex, float64(r.Calls.Ops["exec"].Calls))
			fe = append(fe, float64(r.Calls.Ops["exec"].Failed))
			in = append(in, float64(r.Calls.Ops["inspect"].Calls))
		}
		fmt.Printf("  %-9s healthcheck execs %.0f (failed %.0f), inspects %.0f\n", st.Name, harness.MedianF(ex), harness.MedianF(fe), harness.MedianF(in))
	}

	fmt.Println("\nper service, from the timelines (composegen's and the limit's; counted runs that answered): median start (docker start returned) and median ready − start:")
	for _, st := range sts {
		for _, tn := range []string{harness.Ours, harness.Limit} {
			starts, waits := map[string][]time.Duration{}, map[string][]time.Duration{}
			var names []string
			for _, r := range results[st.Name][tn] {
				if r.Failed() {
					continue
				}
				for svc, p := range harness.ParseTimeline(r.Timeline) {
					if p.Started < 0 || p.Ready < 0 {
						continue
					}
					if _, seen := starts[svc]; !seen {
						names = append(names, svc)
					}
					starts[svc] = append(starts[svc], p.Started)
					waits[svc] = append(waits[svc], p.Ready-p.Started)
				}
			}
			if len(names) == 0 {
				continue
			}
			sort.Strings(names)
			var parts []string
			for _, n := range names {
				w := harness.Sorted(waits[n])
				parts = append(parts, fmt.Sprintf("%s start %s, ready +%s (%s)", n,
					harness.Secs(harness.Sorted(starts[n]).Median()), harness.Secs(w.Median()), w.Spread()))
			}
			fmt.Printf("  %-9s %-10s %s\n", st.Name, tn, strings.Join(parts, "; "))
		}
	}

	var failed []string
	for _, st := range sts {
		for _, t := range ts {
			for i, r := range results[st.Name][t.Name] {
				if r.Failed() {
					failed = append(failed, fmt.Sprintf("  %s %s run %d: %s", st.Name, t.Name, i+1, harness.OneLine(r.Cause(), 400)))
				}
			}
		}
	}
	fmt.Printf("\nfailed runs: %d\n", len(failed))
	for _, f := range failed {
		fmt.Println(f)
	}
}

// pairRatios returns a[i] ÷ b[i] for the rounds where both answered.
func pairRatios(a, b []harness.Result, down bool) []float64 {
	var out []float64
	for i := range a {
		if i >= len(b) || a[i].Failed() || b[i].Failed() {
			continue
		}
		x, y := a[i].Up, b[i].Up
		if down {
			x, y = a[i].Down, b[i].Down
		}
		out = append(out, x.Seconds()/y.Seconds())
	}
	return out
}

func secsOr(d harness.Durations) string {
	if len(d) == 0 {
		return "-"
	}
	return harness.Secs(d.Median())
}

func project(st *harness.Stack, t harness.Tool, round int) string {
	return fmt.Sprintf("bench-%s-%s-%d", st.Name, short(t.Name), round)
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

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchstack: "+format+"\n", args...)
	os.Exit(1)
}

func dockerVersion() string {
	out, err := exec.Command("docker", "version", "--format", "server {{.Server.Version}} (API {{.Server.APIVersion}})").Output()
	if err != nil {
		return "unknown: " + err.Error()
	}
	return strings.TrimSpace(string(out))
}

func composeVersion() string {
	out, err := exec.Command("docker", "compose", "version", "--short").Output()
	if err != nil {
		return "none"
	}
	return strings.TrimSpace(string(out))
}
