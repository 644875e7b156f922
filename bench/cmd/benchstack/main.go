// Command benchstack measures the time to a ready stack, and back down, with
// composegen's generated fixtures, testcontainers-go's compose module, the
// docker compose CLI and a "limit" reference, on the same compose files.
//
//	cd bench && go run ./cmd/benchstack -runs 5
//
// Runs are interleaved: every counted round starts each stack once with each
// tool, in a rotating order, so that drift in the machine's load hits every
// tool alike. Round 0 is a warm-up and is not counted.
//
// testcontainers-go's reaper (ryuk) image cannot be pulled on offline
// machines: benchstack sets TESTCONTAINERS_RYUK_DISABLED=true unless it is
// already set. Every tool tears its stack down itself.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// tool brings a stack up and returns the function that takes it down.
type tool struct {
	name string
	up   func(ctx context.Context, st *stackDef, run int) (down func(context.Context) error, err error)
}

type sample struct {
	up, down time.Duration
	err      error
}

func main() {
	runs := flag.Int("runs", 5, "counted runs per stack and tool (plus one warm-up)")
	tools := flag.String("tools", "ours,tc,cli,limit", "comma-separated tools: ours, tc (testcontainers-go compose), cli (docker compose up --wait), limit")
	stacks := flag.String("stacks", "example,chain5,chain1", "comma-separated stacks")
	verbose := flag.Bool("v", false, "print composegen's per-service timeline and each run's times")
	flag.Parse()
	limitVerbose = *verbose

	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	root, err := benchRoot()
	if err != nil {
		fatalf("%v", err)
	}

	var ts []tool
	for _, n := range strings.Split(*tools, ",") {
		switch n = strings.TrimSpace(n); n {
		case "ours":
			ts = append(ts, tool{"composegen", upOurs(*verbose)})
		case "tc":
			ts = append(ts, tool{"testcontainers", upTC})
		case "cli":
			if err := exec.Command("docker", "compose", "version").Run(); err != nil {
				fmt.Fprintf(os.Stderr, "benchstack: skipping cli: `docker compose version` failed: %v (install the compose v2 plugin, see bench/README.md)\n", err)
				continue
			}
			ts = append(ts, tool{"compose-cli", upCLI})
		case "limit":
			ts = append(ts, tool{"limit", upLimit})
		case "":
		default:
			fatalf("unknown tool %q", n)
		}
	}
	var sts []*stackDef
	for _, n := range strings.Split(*stacks, ",") {
		st := stackByName(strings.TrimSpace(n))
		if st == nil {
			fatalf("unknown stack %q", n)
		}
		st.file = filepath.Join(root, st.file)
		sts = append(sts, st)
	}

	fmt.Printf("benchstack: %d counted runs (+1 warm-up) per stack and tool; GOMAXPROCS cores %d; TESTCONTAINERS_RYUK_DISABLED=%s\n",
		*runs, numCPU(), os.Getenv("TESTCONTAINERS_RYUK_DISABLED"))
	fmt.Printf("docker: %s\n\n", dockerVersion())

	results := map[string]map[string][]sample{} // stack → tool → samples (counted)
	for _, st := range sts {
		results[st.name] = map[string][]sample{}
	}
	for r := 0; r <= *runs; r++ {
		for _, st := range sts {
			for i := range ts {
				t := ts[(i+r)%len(ts)]
				s := measure(t, st, r)
				label := fmt.Sprintf("run %d", r)
				if r == 0 {
					label = "warm-up"
				}
				if s.err != nil {
					fmt.Printf("%-8s %-8s %-15s ERROR: %v\n", label, st.name, t.name, s.err)
				} else if *verbose || r == 0 {
					fmt.Printf("%-8s %-8s %-15s up %7s  down %7s\n", label, st.name, t.name, ms(s.up), ms(s.down))
				}
				if r > 0 {
					results[st.name][t.name] = append(results[st.name][t.name], s)
				}
				leftovers(st)
			}
		}
	}
	report(sts, ts, results)
}

func measure(t tool, st *stackDef, run int) sample {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	t0 := time.Now()
	down, err := t.up(ctx, st, run)
	up := time.Since(t0)
	var s sample
	s.up = up
	if err != nil {
		s.err = err
	}
	if down != nil {
		t1 := time.Now()
		if derr := down(ctx); derr != nil && s.err == nil {
			s.err = fmt.Errorf("down: %w", derr)
		}
		s.down = time.Since(t1)
	}
	return s
}

func report(sts []*stackDef, ts []tool, results map[string]map[string][]sample) {
	fmt.Println()
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "stack\ttool\tok\tup median\tup min\tup max\tdown median\tdown min\tdown max\t")
	for _, st := range sts {
		for _, t := range ts {
			ss := okSamples(results[st.name][t.name])
			if len(ss) == 0 {
				fmt.Fprintf(w, "%s\t%s\t0\t-\t-\t-\t-\t-\t-\t\n", st.name, t.name)
				continue
			}
			up, down := durs(ss, true), durs(ss, false)
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", st.name, t.name, len(ss),
				ms(median(up)), ms(up[0]), ms(up[len(up)-1]), ms(median(down)), ms(down[0]), ms(down[len(down)-1]))
		}
	}
	w.Flush()

	// Ratios per run pair: peer time / composegen time in the same round.
	fmt.Println("\nratios per run pair (same round), other tool ÷ composegen; for limit, composegen ÷ limit:")
	for _, st := range sts {
		ours := results[st.name]["composegen"]
		if len(ours) == 0 {
			continue
		}
		for _, t := range ts {
			if t.name == "composegen" {
				continue
			}
			peer := results[st.name][t.name]
			var upR, downR []float64
			for i := range ours {
				if i >= len(peer) || ours[i].err != nil || peer[i].err != nil {
					continue
				}
				if t.name == "limit" {
					upR = append(upR, ours[i].up.Seconds()/peer[i].up.Seconds())
					downR = append(downR, ours[i].down.Seconds()/peer[i].down.Seconds())
				} else {
					upR = append(upR, peer[i].up.Seconds()/ours[i].up.Seconds())
					downR = append(downR, peer[i].down.Seconds()/ours[i].down.Seconds())
				}
			}
			if len(upR) == 0 {
				continue
			}
			what := t.name + " ÷ composegen"
			if t.name == "limit" {
				what = "composegen ÷ limit"
			}
			fmt.Printf("  %-8s %-28s up %s (median %.2fx)   down %s (median %.2fx)\n", st.name, what,
				fmtRatios(upR), medianF(upR), fmtRatios(downR), medianF(downR))
		}
	}
}

func okSamples(ss []sample) []sample {
	var out []sample
	for _, s := range ss {
		if s.err == nil {
			out = append(out, s)
		}
	}
	return out
}

func durs(ss []sample, up bool) []time.Duration {
	var d []time.Duration
	for _, s := range ss {
		if up {
			d = append(d, s.up)
		} else {
			d = append(d, s.down)
		}
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d
}

func median(d []time.Duration) time.Duration {
	n := len(d)
	if n%2 == 1 {
		return d[n/2]
	}
	return (d[n/2-1] + d[n/2]) / 2
}

func medianF(f []float64) float64 {
	s := append([]float64(nil), f...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func fmtRatios(f []float64) string {
	var parts []string
	for _, x := range f {
		parts = append(parts, fmt.Sprintf("%.2f", x))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "benchstack: "+format+"\n", args...)
	os.Exit(1)
}

// benchRoot finds the bench module's directory from the working directory.
func benchRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/composegen/composegen/bench") {
			return d, nil
		}
		if bb, err := os.Stat(filepath.Join(d, "bench", "go.mod")); err == nil && !bb.IsDir() {
			return filepath.Join(d, "bench"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("run benchstack inside the composegen repository (no bench/go.mod above %s)", dir)
		}
	}
}

func dockerVersion() string {
	out, err := exec.Command("docker", "version", "--format", "server {{.Server.Version}} (API {{.Server.APIVersion}})").Output()
	if err != nil {
		return "unknown: " + err.Error()
	}
	return strings.TrimSpace(string(out))
}

// leftovers fails loudly when a tool left containers of the stack behind.
func leftovers(st *stackDef) {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=io.composegen.bench="+st.name).Output()
	out2, _ := exec.Command("docker", "ps", "-aq", "--filter", "name=bench-"+st.name+"-").Output()
	if ids := strings.Fields(string(out) + string(out2)); len(ids) > 0 {
		fmt.Fprintf(os.Stderr, "benchstack: %d container(s) of %s left behind; removing\n", len(ids), st.name)
		_ = exec.Command("docker", append([]string{"rm", "-fv"}, ids...)...).Run()
	}
}
