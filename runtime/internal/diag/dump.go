package diag

import (
	"fmt"
	"strings"
)

// Entry is one replica in a dump: its headline, its last probe and
// healthcheck outputs, and its log tail (see LogTail; "" when its
// headline has no logs).
type Entry struct {
	Label  string
	Head   Headline
	Probes []string
	Logs   string
}

// Describe says what is true of the replica, in full: its headline, last
// probe outputs and log tail.
func Describe(e Entry) string {
	return fmt.Sprintf("service %q: %s%s%s", e.Label, e.Head.Text, ProbeTail(e.Probes), e.Logs)
}

// Dump describes every replica, those in trouble first, then the others,
// each in the order given. The probes of a replica that became ready are
// its start-up history, not a failure, and are left out. The caller masks
// the result.
func Dump(entries []Entry) string {
	var bad, good []string
	for _, e := range entries {
		text := fmt.Sprintf("service %q: %s", e.Label, e.Head.Text)
		if !e.Head.ready {
			text += ProbeTail(e.Probes) // why it did not become ready
		}
		text += e.Logs
		if e.Head.Trouble {
			bad = append(bad, text)
		} else {
			good = append(good, text)
		}
	}
	return strings.Join(append(bad, good...), "\n")
}

// Others lists the replicas one line each, label and headline, after
// "\nother services:"; "" when there is none.
func Others(entries []Entry) string {
	if len(entries) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\nother services:")
	for _, e := range entries {
		fmt.Fprintf(&b, "\n\t%s: %s", e.Label, e.Head.Text)
	}
	return b.String()
}

// ProbeTail returns "; last probes:" and the probe outputs one a line,
// "" when there are none.
func ProbeTail(probes []string) string {
	if len(probes) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("; last probes:")
	for _, p := range probes {
		fmt.Fprintf(&b, "\n\t%s", p)
	}
	return b.String()
}
