package diag

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/mask"
)

func TestLastLines(t *testing.T) {
	for _, tc := range []struct {
		s      string
		n, max int
		want   string
	}{
		{"a\nb\nc\n\n", 2, 100, "b\nc"},
		{"a\nb", 5, 100, "a\nb"},
		{"nul\x00 esc\x1b[0m tab\tdel\x7f bad\xff é", 1, 100, `nul\x00 esc\x1b[0m tab` + "\t" + `del\x7f bad\xff é`},
		{"0123456789", 1, 4, "…6789"},
	} {
		if got := LastLines(tc.s, tc.n, tc.max); got != tc.want {
			t.Errorf("LastLines(%q, %d, %d) = %q, want %q", tc.s, tc.n, tc.max, got, tc.want)
		}
	}
}

func TestLogTail(t *testing.T) {
	var m mask.Masker
	m.Add("hunter2-secret")
	if got, want := LogTail("", fmt.Errorf("logs: %w", engine.ErrNotFound), &m), "; the container no longer exists"; got != want {
		t.Errorf("gone: %q, want %q", got, want)
	}
	if got, want := LogTail("\n", errors.New("EOF"), &m), "; logs unavailable (EOF)"; got != want {
		t.Errorf("error: %q, want %q", got, want)
	}
	if got, want := LogTail("", nil, &m), "; no log output"; got != want {
		t.Errorf("none: %q, want %q", got, want)
	}
	got := LogTail("one\npassword hunter2-secret\n", errors.New("ignored: there is output"), &m)
	if want := "; last logs:\n\tone\n\tpassword " + m.String("hunter2-secret"); got != want || strings.Contains(got, "hunter2") {
		t.Errorf("tail: %q, want %q, secret masked", got, want)
	}
	var many strings.Builder
	for i := range 30 {
		fmt.Fprintf(&many, "line %d\n", i)
	}
	got = LogTail(many.String(), nil, &m)
	if n := strings.Count(got, "\n\t"); n != TailLines || !strings.HasSuffix(got, "\tline 29") || !strings.Contains(got, ":\n\tline 10\n") {
		t.Errorf("tail of 30 lines holds %d lines, want lines 10 to 29:\n%s", n, got)
	}
	// Masked before it is cut: a secret at the edge of the byte bound is
	// not left half shown.
	long := strings.Repeat("x", tailBytes-5) + " hunter2-secret"
	if got := LogTail(long, nil, &m); strings.Contains(got, "secret") || strings.Contains(got, "hunter") {
		t.Errorf("the secret shows in a cut tail: ...%q", got[len(got)-40:])
	}
}

func TestLimitedBuffer(t *testing.T) {
	b := LimitedBuffer{Max: 5}
	for _, s := range []string{"abc", "defg", "h"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if got, dropped := b.String(), b.Dropped(); got != "defgh" || dropped != 3 {
		t.Errorf("kept %q, dropped %d; want \"defgh\", 3", got, dropped)
	}
	var all LimitedBuffer
	_, _ = all.Write([]byte(strings.Repeat("y", 100)))
	if all.String() != strings.Repeat("y", 100) || all.Dropped() != 0 {
		t.Errorf("Max 0 kept %d bytes, dropped %d; want all 100, 0", len(all.String()), all.Dropped())
	}
}

// TestMaskWriter: a secret split across writes is masked, because lines
// are masked whole; an unterminated last line waits for Flush.
func TestMaskWriter(t *testing.T) {
	var m mask.Masker
	m.Add("hunter2-secret")
	var out strings.Builder
	w := &MaskWriter{W: &out, M: &m}
	for _, s := range []string{"pass hunter2", "-secret ok\nnext ", "hunter2-secret"} {
		if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	want1 := "pass " + m.String("hunter2-secret") + " ok\n"
	if out.String() != want1 {
		t.Errorf("before Flush: %q, want %q", out.String(), want1)
	}
	w.Flush()
	if want := want1 + "next " + m.String("hunter2-secret"); out.String() != want {
		t.Errorf("after Flush: %q, want %q", out.String(), want)
	}
	if strings.Contains(out.String(), "hunter2") {
		t.Errorf("the secret shows: %q", out.String())
	}
}
