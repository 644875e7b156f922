package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/mask"
)

// Bounds of the log lines that messages show.
const (
	tailLines = 20
	tailBytes = 4 << 10
)

// Diagnostics describes every service of the stack as it is now: state,
// exit code, port map, last probe outputs and last log lines. Secrets are
// masked.
func (s *Stack) Diagnostics(ctx context.Context) string {
	var b strings.Builder
	for i, u := range s.order {
		for j, r := range u.replicas {
			if i > 0 || j > 0 {
				b.WriteString("\n")
			}
			b.WriteString(r.describe(ctx))
		}
	}
	return s.mask.String(b.String())
}

// describe says what is true of the replica now.
func (r *Service) describe(ctx context.Context) string {
	var b strings.Builder
	fmt.Fprintf(&b, "service %q", r.label())
	id := r.ContainerID()
	r.mu.Lock()
	failure := r.err
	r.mu.Unlock()
	if id == "" {
		switch {
		case closed(r.failedCh) && failure != nil && !isCancel(failure):
			fmt.Fprintf(&b, ": not created: %v", failure)
		default:
			b.WriteString(": not created (waiting for its dependencies)")
		}
		return b.String()
	}
	st, err := r.stack.eng.Inspect(ctx, id)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		b.WriteString(": the container no longer exists (removed outside composegen?)")
		return b.String()
	case err != nil:
		fmt.Fprintf(&b, ": state unknown (%v)", err)
	default:
		b.WriteString(": " + stateText(st, failure))
	}
	if st.Running {
		if ports := st.Ports; len(ports) > 0 {
			b.WriteString("; ports")
			for _, k := range portKeys(ports) {
				fmt.Fprintf(&b, " %d/%s→%s", k.Port, k.Protocol, r.dialAddr(ports[k]))
			}
		} else if len(r.spec.Ports) > 0 && r.spec.NetworkMode == "" {
			b.WriteString("; no published ports (its network was disconnected?)")
		}
	}
	r.mu.Lock()
	probes := append([]string(nil), r.probes...)
	r.mu.Unlock()
	if len(probes) > 0 {
		b.WriteString("; last probes:")
		for _, p := range probes {
			fmt.Fprintf(&b, "\n\t%s", p)
		}
	}
	b.WriteString(r.logTailCtx(ctx))
	return b.String()
}

func (r *Service) dialAddr(hp engine.HostPort) string {
	return fmt.Sprintf("%s:%d", r.dialHost(hp), hp.Port)
}

func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// stateText describes a container state.
func stateText(st engine.State, failure error) string {
	switch {
	case st.Status == "created" && st.StartedAt.IsZero():
		// Containers are created ahead of their dependencies.
		if failure != nil && !isCancel(failure) {
			return "created, never started: " + failure.Error()
		}
		return "created, never started (waiting for its dependencies)"
	case st.Restarting:
		return fmt.Sprintf("restarting (restarted %d time(s); last exit code %d)", st.RestartCount, st.ExitCode)
	case st.Paused:
		return "paused"
	case st.Running:
		if st.RestartCount > 0 {
			return fmt.Sprintf("running (restarted %d time(s))", st.RestartCount)
		}
		return "running"
	}
	s := fmt.Sprintf("%s (exit code %d", st.Status, st.ExitCode)
	if st.OOMKilled {
		s += ", OOM-killed"
	}
	if st.Error != "" {
		s += ", " + st.Error
	}
	return s + ")"
}

// logTail returns "; last logs:\n..." with the container's last lines
// (bounded in lines and bytes, non-printable bytes escaped), "; no log
// output" when there are none.
func (r *Service) logTail() string {
	ctx, cancel := context.WithTimeout(context.Background(), diagnosticsTimeout)
	defer cancel()
	return r.logTailCtx(ctx)
}

func (r *Service) logTailCtx(ctx context.Context) string {
	if r.ContainerID() == "" {
		return ""
	}
	b := limitedBuffer{max: 64 << 10}
	err := r.stack.eng.Logs(ctx, r.ContainerID(), engine.LogOptions{Tail: tailLines, Tty: r.spec.Tty}, &b, &b)
	out := strings.TrimRight(b.String(), "\n")
	switch {
	case out == "" && err != nil && errors.Is(err, engine.ErrNotFound):
		return "; the container no longer exists"
	case out == "" && err != nil:
		return fmt.Sprintf("; logs unavailable (%v)", err)
	case out == "":
		return "; no log output"
	}
	// Masked before it is cut: a cut secret is no longer recognised.
	out = lastLines(r.stack.mask.String(out), tailLines, tailBytes)
	return "; last logs:\n\t" + strings.ReplaceAll(out, "\n", "\n\t")
}

// limitedBuffer keeps the last max bytes written to it.
type limitedBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	max     int
	dropped int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	b.buf.Write(p)
	if b.max > 0 && b.buf.Len() > b.max {
		drop := b.buf.Len() - b.max
		b.dropped += drop
		rest := append([]byte(nil), b.buf.Bytes()[drop:]...)
		b.buf.Reset()
		b.buf.Write(rest)
	}
	return n, nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// maskWriter masks secrets in whole lines written through it.
type maskWriter struct {
	w       io.Writer
	m       *mask.Masker
	pending []byte
}

func (w *maskWriter) Write(p []byte) (int, error) {
	w.pending = append(w.pending, p...)
	for {
		i := bytes.IndexByte(w.pending, '\n')
		if i < 0 {
			if len(w.pending) > 64<<10 { // a huge line: write it as it comes
				w.Flush()
			}
			return len(p), nil
		}
		if _, err := io.WriteString(w.w, w.m.String(string(w.pending[:i+1]))); err != nil {
			return 0, err
		}
		w.pending = w.pending[i+1:]
	}
}

// Flush writes what is left of an unterminated line.
func (w *maskWriter) Flush() {
	if len(w.pending) > 0 {
		_, _ = io.WriteString(w.w, w.m.String(string(w.pending)))
		w.pending = nil
	}
}
