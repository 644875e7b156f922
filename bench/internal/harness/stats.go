package harness

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Durations are sorted samples.
type Durations []time.Duration

// Sorted returns a sorted copy of d.
func Sorted(d []time.Duration) Durations {
	s := append(Durations(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}

// Median of sorted samples (0 for none).
func (d Durations) Median() time.Duration {
	n := len(d)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return d[n/2]
	}
	return (d[n/2-1] + d[n/2]) / 2
}

// Spread is "min–max" in seconds.
func (d Durations) Spread() string {
	if len(d) == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f–%.2f", d[0].Seconds(), d[len(d)-1].Seconds())
}

// Secs formats a duration in seconds.
func Secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// MedianF is the median of f.
func MedianF(f []float64) float64 {
	if len(f) == 0 {
		return 0
	}
	s := append([]float64(nil), f...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// FmtRatios formats per-pair ratios.
func FmtRatios(f []float64) string {
	var parts []string
	for _, x := range f {
		parts = append(parts, fmt.Sprintf("%.2f", x))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// MinMaxF is "min–max".
func MinMaxF(f []float64) string {
	if len(f) == 0 {
		return "-"
	}
	s := append([]float64(nil), f...)
	sort.Float64s(s)
	return fmt.Sprintf("%.2f–%.2f", s[0], s[len(s)-1])
}

// OneLine squeezes a multi-line error onto one line, at most n bytes.
func OneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// Phases are when a service's container was created, started and ready,
// from the start of Up (-1 when the timeline has no such mark).
type Phases struct{ Created, Started, Ready time.Duration }

var timelineLine = regexp.MustCompile(`^\s+(\S+)\s+created (\S+)\s+started (\S+)\s+ready (\S+)`)

// ParseTimeline reads composegen's timeline (Stack.Timeline) or the
// limit's, which has the same shape.
func ParseTimeline(s string) map[string]Phases {
	out := map[string]Phases{}
	for _, l := range strings.Split(s, "\n") {
		m := timelineLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		d := func(v string) time.Duration {
			if v == "-" {
				return -1
			}
			x, err := time.ParseDuration(v)
			if err != nil {
				return -1
			}
			return x
		}
		out[m[1]] = Phases{Created: d(m[2]), Started: d(m[3]), Ready: d(m[4])}
	}
	return out
}
