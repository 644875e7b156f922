// Command runsuite measures the wall time of `go test` over the benchmark
// suite (six packages of five parallel tests on PostgreSQL, Redis, a
// migration one-shot and nginx) in each way of getting the stack:
//
//	shared    Shared + FreshDSN/FreshURL in each test (one stack per run)
//	reuse     the same with COMPOSEGEN_REUSE=1 (the stack is kept between runs)
//	start     Start in each test (a stack per test)
//	testmain  Up in each package's TestMain (a stack per package)
//	tc        testcontainers-go's compose module in each package's TestMain
//	link      no test run: what building (cached), linking and starting the
//	          six test binaries costs every mode (link-tc: with tag tc)
//
// Run from the bench module: go run ./suite/cmd/runsuite -runs 3. Rounds
// run every mode in a rotating order; round 0 is an uncounted warm-up
// (and starts the kept stack of reuse). Ratios are per round, so that a
// busy moment of the machine hits both sides of a pair. A run in which a
// test fails (a service that does not answer, a broken isolation) is a
// failed run and is not counted.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/composegen/composegen/internal/admin"
)

var pkgs = []string{"./suite/p1", "./suite/p2", "./suite/p3", "./suite/p4", "./suite/p5", "./suite/p6"}

type result struct {
	wall   time.Duration
	ok     bool
	report map[string][]time.Duration
	out    string
}

func main() {
	runs := flag.Int("runs", 3, "counted rounds (after a warm-up round)")
	modes := flag.String("modes", "shared,reuse,start,testmain,tc", "modes to run")
	verbose := flag.Bool("v", false, "print every run")
	flag.Parse()
	list := strings.Split(*modes, ",")
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") == "" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	dir, err := os.MkdirTemp("", "runsuite-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)

	// Build everything once, so that runs measure what a developer's
	// second `go test` costs (go test links the binaries again each time:
	// the link rows below).
	for _, tags := range []string{"", "tc"} {
		r := goTest(dir, "none", tags, "-run", "^$")
		fmt.Printf("build (tags %q): %s ok=%v\n", tags, r.wall.Round(time.Millisecond), r.ok)
		if !r.ok {
			fmt.Println(r.out)
		}
	}

	all := map[string][]*result{}
	ratios := map[string][]float64{}
	netRatios := map[string][]float64{}
	for round := 0; round <= *runs; round++ {
		order := append(list[round%len(list):], list[:round%len(list)]...)
		// The cost of building (cached), linking and starting the test
		// binaries with no test run, in this round: what every mode pays
		// before its tests run.
		order = append(order, "link", "link-tc")
		byMode := map[string]*result{}
		for _, mode := range order {
			r := runMode(dir, mode)
			byMode[mode] = r
			status := "ok"
			if !r.ok {
				status = "FAILED"
			}
			if *verbose || !r.ok {
				fmt.Printf("round %d %-8s %8s %s\n", round, mode, r.wall.Round(time.Millisecond), status)
			}
			if !r.ok {
				fmt.Println(lastLines(r.out, 30))
			}
			if round > 0 {
				all[mode] = append(all[mode], r)
			}
		}
		if round == 0 {
			continue
		}
		if base := byMode["shared"]; base != nil && base.ok {
			for mode, r := range byMode {
				if r.ok {
					ratios[mode] = append(ratios[mode], r.wall.Seconds()/base.wall.Seconds())
					if lb, lr := byMode["link"], linkOf(byMode, mode); lb != nil && lr != nil {
						netRatios[mode] = append(netRatios[mode], (r.wall-lr.wall).Seconds()/(base.wall-lb.wall).Seconds())
					}
				}
			}
		}
	}
	list = append(list, "link", "link-tc")
	pruneReused(dir)

	fmt.Printf("\n%-9s %6s %10s %10s %10s %16s %16s\n", "mode", "ok", "median", "min", "max", "× shared", "net × shared")
	for _, mode := range list {
		var walls []time.Duration
		for _, r := range all[mode] {
			if r.ok {
				walls = append(walls, r.wall)
			}
		}
		if len(walls) == 0 {
			fmt.Printf("%-9s %3d/%-2d\n", mode, 0, len(all[mode]))
			continue
		}
		sortD(walls)
		ratio := func(rs []float64) string {
			if len(rs) == 0 || mode == "shared" || strings.HasPrefix(mode, "link") {
				return "-"
			}
			sort.Float64s(rs)
			return fmt.Sprintf("%.2f (%.2f-%.2f)", rs[len(rs)/2], rs[0], rs[len(rs)-1])
		}
		fmt.Printf("%-9s %3d/%-2d %10s %10s %10s %16s %16s\n", mode, len(walls), len(all[mode]),
			walls[len(walls)/2].Round(time.Millisecond), walls[0].Round(time.Millisecond), walls[len(walls)-1].Round(time.Millisecond), ratio(ratios[mode]), ratio(netRatios[mode]))
	}
	for _, mode := range []string{"shared", "reuse"} {
		rep := map[string][]time.Duration{}
		for _, r := range all[mode] {
			for k, v := range r.report {
				rep[k] = append(rep[k], v...)
			}
		}
		for _, k := range []string{"SHARED", "FRESHDSN", "FRESHURL"} {
			if d := rep[k]; len(d) > 0 {
				sortD(d)
				fmt.Printf("%-6s %-8s n=%-3d median %8s  p90 %8s  max %8s\n", mode, k, len(d), d[len(d)/2].Round(100*time.Microsecond), d[len(d)*9/10].Round(100*time.Microsecond), d[len(d)-1].Round(100*time.Microsecond))
			}
		}
		if mode == "reuse" {
			// The first Shared call of each test binary attaches: the
			// largest of its binary's calls.
			var att []time.Duration
			for _, r := range all[mode] {
				att = append(att, r.report["ATTACH"]...)
			}
			if len(att) > 0 {
				sortD(att)
				fmt.Printf("reuse  attach   n=%-3d median %8s  max %8s (first Shared call of each test binary)\n", len(att), att[len(att)/2].Round(100*time.Microsecond), att[len(att)-1].Round(100*time.Microsecond))
			}
		}
	}
}

// linkOf returns the link-only run of the round for mode's build tags.
func linkOf(byMode map[string]*result, mode string) *result {
	if mode == "tc" {
		return byMode["link-tc"]
	}
	return byMode["link"]
}

// runMode runs the suite once in mode.
func runMode(dir, mode string) *result {
	switch mode {
	case "link":
		return goTest(dir, "none", "", "-run", "^$")
	case "link-tc":
		return goTest(dir, "none", "tc", "-run", "^$")
	case "tc":
		return goTest(dir, "tc", "tc")
	case "reuse":
		return goTest(dir, "shared", "", "REUSE")
	}
	return goTest(dir, mode, "")
}

// goTest runs go test over the suite's packages with SUITE_MODE=mode and
// build tags; extra arguments before the packages, "REUSE" for
// COMPOSEGEN_REUSE=1.
func goTest(dir, mode, tags string, extra ...string) *result {
	report := filepath.Join(dir, "report")
	_ = os.Remove(report)
	// A stack per test takes longer than go test's default 10 minutes per
	// test binary on a busy machine.
	args := []string{"test", "-count=1", "-timeout=40m"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	reuse := false
	for _, e := range extra {
		if e == "REUSE" {
			reuse = true
			continue
		}
		args = append(args, e)
	}
	args = append(args, pkgs...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Env = append(os.Environ(), "SUITE_MODE="+mode, "SUITE_REPORT="+report)
	if reuse {
		cmd.Env = append(cmd.Env, "COMPOSEGEN_REUSE=1")
	}
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	r := &result{wall: time.Since(t0), ok: err == nil, out: string(out), report: map[string][]time.Duration{}}
	readReport(report, r)
	return r
}

// readReport reads the durations the tests reported, and the attach time
// of each test binary (its slowest Shared call, which waited for the
// attach).
func readReport(path string, r *result) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	perBinary := map[string]time.Duration{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		if fs[0] == "PROJECT" {
			reused[fs[1]] = true
			continue
		}
		us, err := strconv.Atoi(fs[1])
		if err != nil {
			continue
		}
		d := time.Duration(us) * time.Microsecond
		r.report[fs[0]] = append(r.report[fs[0]], d)
		if fs[0] == "SHARED" && len(fs) > 2 && d > perBinary[fs[2]] {
			perBinary[fs[2]] = d
		}
	}
	for _, d := range perBinary {
		r.report["ATTACH"] = append(r.report["ATTACH"], d)
	}
}

// reused are the projects of the shared stacks the runs reported.
var reused = map[string]bool{}

// pruneReused removes the stack kept by the reuse runs.
func pruneReused(string) {
	for p := range reused {
		pruned, err := admin.Prune(context.Background(), admin.PruneOptions{Project: p})
		if err != nil {
			fmt.Println("prune:", err)
		}
		for _, x := range pruned {
			fmt.Printf("pruned %s (%s): %d resources\n", x.Project, x.Reason, x.Resources)
		}
	}
}

func sortD(d []time.Duration) { sort.Slice(d, func(i, j int) bool { return d[i] < d[j] }) }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
