package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/composegen/composegen/runtime/composeplan"
)

// driftEnv selects what a start does when a compose file changed since
// go generate: "error" (the default) fails the start, "warn" logs a warning
// once and starts the stack of the generated plan, "off" skips the check.
const driftEnv = "COMPOSEGEN_DRIFT"

// ErrDrift is wrapped by the error of a start (Start, Shared, Up) whose
// generated plan is stale: a compose file that the plan was generated from
// (the plan records each with a hash of its content) is on disk, relative
// to the generated file, with other content. The start fails before
// anything is created, with the file's name and the fix: run go generate
// ./.... A file that is not on disk is not checked (generated code used
// without its compose files), and env files are never checked (they are
// read at start).
//
// COMPOSEGEN_DRIFT=warn turns the failure into a warning, logged once per
// process and file, and starts the stack of the generated plan;
// COMPOSEGEN_DRIFT=off skips the check.
var ErrDrift = errors.New("changed since go generate")

// driftWarned holds the drifted files already warned about (once per
// process), by absolute path.
var driftWarned sync.Map

// checkDrift compares the compose files that the plan was generated from
// with the files on disk, resolved against base (the generated file's
// directory). A file that is not on disk is no drift: the generated code
// may be used where its compose files are not (vendored, another layout).
// It runs before anything is created, and reads the files through package
// os, so that go test's cache sees them as inputs of the test: a test that
// passed is run again when a compose file changes.
//
// On drift it returns an error naming the file and the fix, or, with
// COMPOSEGEN_DRIFT=warn, logs a warning (once per process and file) with
// logf (nil: standard error) and returns nil.
func checkDrift(plan *composeplan.Plan, base string, logf func(format string, args ...any)) error {
	if len(plan.Inputs) == 0 {
		return nil
	}
	mode := os.Getenv(driftEnv)
	switch mode {
	case "", "error", "warn":
	case "off":
		return nil
	default:
		return fmt.Errorf("%s=%q: want error (the default), warn or off", driftEnv, mode)
	}
	for _, in := range plan.Inputs {
		path := filepath.Join(base, filepath.FromSlash(in.Path))
		b, err := os.ReadFile(path)
		if err != nil || composeplan.HashContent(b) == in.SHA256 {
			// Not on disk (or unreadable): nothing to compare.
			continue
		}
		if mode != "warn" {
			return &driftError{file: displayPath(path)}
		}
		if _, seen := driftWarned.LoadOrStore(path, true); seen {
			continue
		}
		msg := fmt.Sprintf("composegen: warning: %s %v: the stack starts from the generated plan, which may differ (%s=warn; run go generate ./... to update it)", displayPath(path), ErrDrift, driftEnv)
		if logf != nil {
			logf("%s", msg)
		} else {
			fmt.Fprintln(os.Stderr, msg)
		}
	}
	return nil
}

// displayPath returns path relative to the working directory (the test's
// package directory under go test), slash-separated, or as it is.
func displayPath(path string) string {
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, path); err == nil {
			return filepath.ToSlash(r)
		}
	}
	return path
}

// driftError is a start refused because of drift.
type driftError struct{ file string }

func (e *driftError) Error() string {
	return fmt.Sprintf("%s %v: run go generate ./... (or set %s=warn to start the stack of the generated plan anyway)", e.file, ErrDrift, driftEnv)
}

func (e *driftError) Unwrap() error { return ErrDrift }
