package diag

import (
	"bytes"
	"io"
	"sync"

	"github.com/composegen/composegen/runtime/internal/mask"
)

// LimitedBuffer keeps the last Max bytes written to it (all of them when
// Max is 0). It is safe for concurrent writes (stdout and stderr of one
// container).
type LimitedBuffer struct {
	Max     int
	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
}

func (b *LimitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	b.buf.Write(p)
	if b.Max > 0 && b.buf.Len() > b.Max {
		drop := b.buf.Len() - b.Max
		b.dropped += drop
		rest := append([]byte(nil), b.buf.Bytes()[drop:]...)
		b.buf.Reset()
		b.buf.Write(rest)
	}
	return n, nil
}

// String returns the bytes kept.
func (b *LimitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Dropped returns how many earlier bytes were dropped.
func (b *LimitedBuffer) Dropped() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped
}

// MaskWriter masks secrets in whole lines written through it to W; call
// Flush at the end for an unterminated last line.
type MaskWriter struct {
	W       io.Writer
	M       *mask.Masker
	pending []byte
}

func (w *MaskWriter) Write(p []byte) (int, error) {
	w.pending = append(w.pending, p...)
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			if len(w.pending) > 64<<10 { // a huge line: write it as it comes
				w.Flush()
			}
			return len(p), nil
		}
		if _, err := io.WriteString(w.W, w.M.String(string(w.pending[:i+1]))); err != nil {
			return 0, err
		}
		w.pending = w.pending[i+1:]
	}
}

// Flush writes what is left of an unterminated line.
func (w *MaskWriter) Flush() {
	if len(w.pending) > 0 {
		_, _ = io.WriteString(w.W, w.M.String(string(w.pending)))
		w.pending = nil
	}
}
