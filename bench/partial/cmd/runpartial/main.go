// Command runpartial measures what per-test readiness on the one shared
// stack buys (bench/partial: PostgreSQL + a psql migration + Redis +
// RabbitMQ, the slow one). Each round runs, in both modes of package work
// (whole: a database-only test calls Shared(t) and waits for everything;
// part: it calls Shared(t, WithServices(ServicePostgres))), in a rotating
// order:
//
//	db     go test ./partial/db1 (a database-only package alone)
//	suite  go test ./partial/... (two database-only packages and the broker's)
//
// Run from the bench module: go run ./partial/cmd/runpartial -runs 3.
// Round 0 is an uncounted warm-up. A run whose tests fail is a failed run,
// and the command fails. Ratios are whole/part per round.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"
)

func main() {
	runs := flag.Int("runs", 3, "counted rounds (after a warm-up round)")
	flag.Parse()
	jobs := map[string][]string{
		"db":    {"./partial/db1/"},
		"suite": {"./partial/..."},
	}
	walls := map[string][]time.Duration{}
	ratios := map[string][]float64{}
	for round := 0; round <= *runs; round++ {
		modes := []string{"whole", "part"}
		if round%2 == 1 {
			modes = []string{"part", "whole"}
		}
		for _, job := range []string{"db", "suite"} {
			got := map[string]time.Duration{}
			for _, mode := range modes {
				d, err := run(mode, jobs[job])
				if err != nil {
					fmt.Fprintf(os.Stderr, "round %d, %s, mode %s: %v\n", round, job, mode, err)
					os.Exit(1)
				}
				fmt.Printf("round %d  %-5s  %-5s  %6.2f s\n", round, job, mode, d.Seconds())
				got[mode] = d
				if round > 0 {
					walls[job+"/"+mode] = append(walls[job+"/"+mode], d)
				}
			}
			if round > 0 {
				ratios[job] = append(ratios[job], got["whole"].Seconds()/got["part"].Seconds())
			}
		}
	}
	fmt.Println()
	fmt.Println("| go test of | whole (median) | part (median) | whole / part (median of rounds) |")
	fmt.Println("|---|---|---|---|")
	for _, job := range []string{"db", "suite"} {
		fmt.Printf("| %s | %.1f s | %.1f s | %.2fx |\n", map[string]string{"db": "a database-only package", "suite": "the whole suite"}[job],
			median(walls[job+"/whole"]).Seconds(), median(walls[job+"/part"]).Seconds(), medianF(ratios[job]))
	}
}

// run runs go test on pkgs in mode and returns its wall time.
func run(mode string, pkgs []string) (time.Duration, error) {
	args := append([]string{"test", "-count=1"}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "PARTIAL_MODE="+mode)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		return d, fmt.Errorf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "ok ") {
		return d, fmt.Errorf("no test ran:\n%s", out)
	}
	return d, nil
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func medianF(fs []float64) float64 {
	if len(fs) == 0 {
		return 0
	}
	s := append([]float64(nil), fs...)
	sort.Float64s(s)
	return s[len(s)/2]
}
