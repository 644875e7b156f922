package diag

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/mask"
)

// Bounds of the log lines that messages show: TailLines is also the tail
// the caller asks the engine for.
const (
	TailLines = 20
	tailBytes = 4 << 10
)

// LogTail returns "; last logs:\n\t..." with the last lines of a
// container's output out (bounded in lines and bytes, non-printable bytes
// escaped, secrets masked by m), or says why there are none: err is the
// error of reading the logs.
func LogTail(out string, err error, m *mask.Masker) string {
	out = strings.TrimRight(out, "\n")
	switch {
	case out == "" && err != nil && errors.Is(err, engine.ErrNotFound):
		return "; the container no longer exists"
	case out == "" && err != nil:
		return fmt.Sprintf("; logs unavailable (%v)", err)
	case out == "":
		return "; no log output"
	}
	// Masked before it is cut: a cut secret is no longer recognised.
	out = LastLines(m.String(out), TailLines, tailBytes)
	return "; last logs:\n\t" + strings.ReplaceAll(out, "\n", "\n\t")
}

// LastLines returns the last n lines of s, at most max bytes of them, with
// non-printable bytes escaped.
func LastLines(s string, n, max int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := printable(strings.Join(lines, "\n"))
	if len(out) > max {
		out = "…" + out[len(out)-max:]
	}
	return out
}

// printable escapes what a terminal or a test log should not receive raw:
// NUL and other control bytes (not tabs and newlines), invalid UTF-8.
func printable(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[0])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteString(s[:size])
		}
		s = s[size:]
	}
	return b.String()
}
