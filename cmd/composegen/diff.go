package main

import (
	"fmt"
	"strings"
)

// shortDiff returns the first hunks of a unified line diff of old and cur
// (file on disk, then generated), with up to maxLines changed lines and two
// lines of context, for messages.
func shortDiff(old, cur []byte, maxLines int) string {
	a := strings.Split(string(old), "\n")
	b := strings.Split(string(cur), "\n")
	ops := diffLines(a, b)
	var s strings.Builder
	shown, total := 0, 0
	for _, op := range ops {
		if op.kind != ' ' {
			total++
		}
	}
	const context = 2
	for i := 0; i < len(ops) && shown < maxLines; {
		if ops[i].kind == ' ' {
			i++
			continue
		}
		// A hunk: context before, the changes (merged while separated by
		// at most 2*context equal lines), context after.
		start := max(0, i-context)
		end := i
		for end < len(ops) {
			if ops[end].kind != ' ' {
				end++
				continue
			}
			j := end
			for j < len(ops) && ops[j].kind == ' ' && j-end < 2*context+1 {
				j++
			}
			if j < len(ops) && ops[j].kind != ' ' && j-end <= 2*context {
				end = j
				continue
			}
			break
		}
		stop := min(len(ops), end+context)
		fmt.Fprintf(&s, "@@ -%d +%d @@\n", ops[start].aLine, ops[start].bLine)
		for k := start; k < stop; k++ {
			if ops[k].kind != ' ' {
				if shown == maxLines {
					break
				}
				shown++
			}
			fmt.Fprintf(&s, "%c %s\n", ops[k].kind, ops[k].text)
		}
		i = stop
	}
	if total > shown {
		fmt.Fprintf(&s, "... and %d more changed lines\n", total-shown)
	}
	return s.String()
}

type diffOp struct {
	kind         byte // ' ', '-' or '+'
	text         string
	aLine, bLine int // 1-based line numbers in old and cur
}

// diffLines diffs two line slices: the common prefix and suffix are kept
// as context and the middle is diffed by longest common subsequence (the
// middle is bounded, so that a huge rewrite costs little: past the bound it
// is shown as all removed then all added).
func diffLines(a, b []string) []diffOp {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	sa, sb := len(a), len(b)
	for sa > p && sb > p && a[sa-1] == b[sb-1] {
		sa--
		sb--
	}
	var ops []diffOp
	for i := 0; i < p; i++ {
		ops = append(ops, diffOp{' ', a[i], i + 1, i + 1})
	}
	ma, mb := a[p:sa], b[p:sb]
	if len(ma)*len(mb) > 4_000_000 {
		for i, l := range ma {
			ops = append(ops, diffOp{'-', l, p + i + 1, p + 1})
		}
		for i, l := range mb {
			ops = append(ops, diffOp{'+', l, p + len(ma) + 1, p + i + 1})
		}
	} else {
		ops = append(ops, lcsDiff(ma, mb, p, p)...)
	}
	for i := 0; sa+i < len(a); i++ {
		ops = append(ops, diffOp{' ', a[sa+i], sa + i + 1, sb + i + 1})
	}
	return ops
}

func lcsDiff(a, b []string, aOff, bOff int) []diffOp {
	n, m := len(a), len(b)
	// l[i][j] is the LCS length of a[i:] and b[j:].
	l := make([][]int32, n+1)
	for i := range l {
		l[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	var ops []diffOp
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			ops = append(ops, diffOp{' ', a[i], aOff + i + 1, bOff + j + 1})
			i++
			j++
		case i < n && (j == m || l[i+1][j] >= l[i][j+1]):
			ops = append(ops, diffOp{'-', a[i], aOff + i + 1, bOff + j + 1})
			i++
		default:
			ops = append(ops, diffOp{'+', b[j], aOff + i + 1, bOff + j + 1})
			j++
		}
	}
	return ops
}
