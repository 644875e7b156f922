package diag

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// Notices are what a run tells its user once, in one line, whether its
// tests pass or fail: a kept shared stack replaced or removed, a shared
// stack kept for the next run.
//
// Where they go: `go test ./...` (package list mode) shows the output of a
// test binary, standard error included, only when its package fails or
// with -v; a passing package prints its "ok" line and nothing else. A
// notice written to the test binary's standard error would be lost exactly
// when the tests pass. So when the test binary runs under the go command, a
// notice goes to the go command's own standard error, which is the user's
// terminal or the CI log: opened through /proc/<pid>/fd/2 (Linux), only
// when it is a terminal or a pipe (a regular file is never written behind
// go's back: go writes it at its own offset), and only when it is not
// already the test binary's standard error (`go test` in a package
// directory streams the output). Elsewhere, and when a logf is given,
// notices go where the other messages go.

// noticed holds the notices this process printed: each is printed once.
var noticed sync.Map

// Notice prints a one-line notice (see above): its runs of white space
// become one space; it goes to logf when logf is not nil, else, once per
// process, to the standard error of goPid, the go command this test binary
// runs under (0: none), or to this process's. msg must be masked.
func Notice(msg string, logf func(format string, args ...any), goPid int) {
	msg = strings.Join(strings.Fields(msg), " ")
	if logf != nil {
		logf("%s", msg)
		return
	}
	if _, dup := noticed.LoadOrStore(msg, true); dup {
		return
	}
	w := io.Writer(os.Stderr)
	if goPid > 0 {
		if f := openStderrOf(goPid); f != nil {
			defer f.Close()
			w = f
		}
	}
	_, _ = io.WriteString(w, msg+"\n") // one write: one line, never interleaved
}

// openStderrOf opens the standard error of process pid for appending when
// it is a terminal or a pipe that is not this process's standard error,
// else returns nil.
func openStderrOf(pid int) *os.File {
	p := fmt.Sprintf("/proc/%d/fd/2", pid)
	fi, err := os.Stat(p)
	if err != nil || fi.Mode()&(os.ModeCharDevice|os.ModeNamedPipe) == 0 {
		return nil
	}
	if own, err := os.Stderr.Stat(); err == nil && os.SameFile(own, fi) {
		return nil
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil
	}
	return f
}
