// Package diag is composegen's one diagnostic type. Every error and warning
// of the load and model stages and of the CLI is a Diagnostic that names the
// file, line and column, the service and the field where compose gives them,
// says what is wrong and, in a hint, what to do.
package diag

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Severity says how the CLI reports a Diagnostic.
type Severity int

const (
	// Error stops generation: nothing is written.
	Error Severity = iota
	// Warning is printed on every generation.
	Warning
	// Note is printed only with -v.
	Note
)

func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	default:
		return "note"
	}
}

// Diagnostic is one problem found in the compose files or the command line.
type Diagnostic struct {
	Severity Severity
	// File is the compose file as shown to the user (relative to the
	// working directory), "" when the problem has no file.
	File   string
	Line   int
	Column int
	// Service is the compose service, "" for project-level problems.
	Service string
	// Field is the service's field ("ports[1]", "deploy.replicas"), or the
	// top-level one ("networks.back.ipam") when Service is empty.
	Field string
	// Message says what is wrong, in compose's terms.
	Message string
	// Hint says what to do, "" when the message says it.
	Hint string
	// Group marks an expected and documented situation that a file may
	// have many times (a published port fixed at generation). Without -v
	// the CLI says it once per file and group, with Summary.
	Group   string
	Summary string
}

// String formats d as "file:line:col: service "x": field: message (hint)".
func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.location())
	if d.Service != "" {
		b.WriteString("service " + strconv.Quote(d.Service) + ": ")
	}
	if d.Field != "" {
		b.WriteString(d.Field + ": ")
	}
	b.WriteString(d.Message)
	if d.Hint != "" {
		b.WriteString(" (" + d.Hint + ")")
	}
	return b.String()
}

// location returns "file:line:col: ", "file:line: ", "file: " or "".
func (d Diagnostic) location() string {
	if d.File == "" {
		return ""
	}
	s := d.File
	if d.Line > 0 {
		s += ":" + strconv.Itoa(d.Line)
		if d.Column > 0 {
			s += ":" + strconv.Itoa(d.Column)
		}
	}
	return s + ": "
}

// Error makes a Diagnostic an error value.
func (d Diagnostic) Error() string { return d.String() }

// List is an ordered set of diagnostics.
type List []Diagnostic

// Errors returns the diagnostics of severity Error.
func (l List) Errors() List { return l.filter(func(d Diagnostic) bool { return d.Severity == Error }) }

// Warnings returns the diagnostics of severity Warning and Note.
func (l List) Warnings() List {
	return l.filter(func(d Diagnostic) bool { return d.Severity != Error })
}

func (l List) filter(keep func(Diagnostic) bool) List {
	var out List
	for _, d := range l {
		if keep(d) {
			out = append(out, d)
		}
	}
	return out
}

// Err returns the errors of l as an error (an Errors), nil when there are
// none.
func (l List) Err() error {
	if errs := l.Errors(); len(errs) > 0 {
		return Errors(errs)
	}
	return nil
}

// Sort orders l by file, line, column, service and field, keeping the order
// of diagnostics at the same place.
func (l List) Sort() {
	slices.SortStableFunc(l, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Service, b.Service),
			cmp.Compare(a.Field, b.Field),
		)
	})
}

// Compact removes the repetitions of a diagnostic (compose-go may report a
// field twice), keeping the first; l's order is kept.
func (l List) Compact() List {
	seen := map[Diagnostic]bool{}
	out := l[:0:0]
	for _, d := range l {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

// Errors is the error of one or more diagnostics of severity Error.
type Errors []Diagnostic

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, d := range e {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Errorf returns an Error diagnostic without a location.
func Errorf(format string, args ...any) Diagnostic {
	return Diagnostic{Severity: Error, Message: fmt.Sprintf(format, args...)}
}
