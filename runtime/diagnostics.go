package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
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

// Diagnostics describes every service of the stack as it is now, the
// services in trouble first (not ready, exited, restarted, gone), then the
// others; each with its state, exit code, port map, whether it became
// ready, and its last log lines (stdout and stderr together, in the order
// the engine recorded them). The last probe and healthcheck outputs are
// shown for a service that did not become ready; those of a service that
// did are its start-up history, not a failure, and are left out. Secrets
// are masked.
func (s *Stack) Diagnostics(ctx context.Context) string {
	var bad, good []string
	for _, u := range s.order {
		for _, r := range u.replicas {
			h := r.head(ctx)
			text := fmt.Sprintf("service %q: %s", r.label(), h.text)
			if !closed(r.readyCh) {
				text += r.probeTail() // why it did not become ready
			}
			if h.logs {
				text += r.logTailCtx(ctx)
			}
			if h.trouble {
				bad = append(bad, text)
			} else {
				good = append(good, text)
			}
		}
	}
	return s.mask.String(strings.Join(append(bad, good...), "\n"))
}

// others describes, one line each, every replica that skip does not
// name: its state, ports, and whether it became ready. "" when there is
// none.
func (s *Stack) others(ctx context.Context, skip func(*replica) bool) string {
	var b strings.Builder
	for _, u := range s.order {
		for _, r := range u.replicas {
			if !skip(r) {
				fmt.Fprintf(&b, "\n\t%s: %s", r.label(), r.head(ctx).text)
			}
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "\nother services:" + b.String()
}

// failedBy reports whether err is the failure of replica r: errors name
// their service first (`service "label": ...`).
func failedBy(err error) func(*replica) bool {
	return func(r *replica) bool {
		return strings.HasPrefix(err.Error(), fmt.Sprintf("service %q:", r.label()))
	}
}

// describe says what is true of the replica now, in full: state, ports,
// readiness, last probe outputs and last log lines.
func (r *replica) describe(ctx context.Context) string {
	h := r.head(ctx)
	text := fmt.Sprintf("service %q: %s%s", r.label(), h.text, r.probeTail())
	if h.logs {
		text += r.logTailCtx(ctx)
	}
	return text
}

// headline is the one-line state of a replica.
type headline struct {
	text string
	// trouble: it did not become ready, or no longer runs as it should.
	trouble bool
	// logs: it has a container whose logs can be read.
	logs bool
}

// head says in one line what is true of the replica now: its container's
// state, whether it became ready (or completed, for a one-shot) and its
// published ports.
func (r *replica) head(ctx context.Context) headline {
	id := r.ContainerID()
	r.mu.Lock()
	failure := r.err
	base := r.base
	r.mu.Unlock()
	failed := closed(r.failedCh) && failure != nil && !isCancel(failure)
	if id == "" {
		if failed {
			return headline{text: "not created: " + failureText(r, failure), trouble: true}
		}
		return headline{text: "not created (waiting for its dependencies)", trouble: closed(r.failedCh)}
	}
	st, err := r.stack.eng.Inspect(ctx, id)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return headline{text: "the container no longer exists (removed outside composegen?)", trouble: true}
	case err != nil:
		return headline{text: fmt.Sprintf("state unknown (%v)", err), trouble: true, logs: true}
	}
	h := headline{logs: true}
	var b strings.Builder
	if st.Status == "created" && st.StartedAt.IsZero() && failed {
		b.WriteString("created, never started: " + failureText(r, failure))
	} else {
		b.WriteString(stateText(st, failure))
	}
	switch {
	case r.isCompleted():
		b.WriteString(", completed")
	case closed(r.readyCh) && st.Running:
		b.WriteString(", ready")
		h.trouble = st.RestartCount > base.RestartCount
	case closed(r.readyCh):
		b.WriteString(", after it was ready")
		h.trouble = true
	case closed(r.startedCh):
		b.WriteString(", not ready")
		h.trouble = true
	default:
		h.trouble = failed
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
	h.text = b.String()
	return h
}

// failureText is a replica's failure in one line, without its `service
// "label": ` prefix, which the dump already shows, and without the log
// lines that follow it (the dump shows them apart).
func failureText(r *replica, failure error) string {
	var de *depError
	if errors.As(failure, &de) {
		return fmt.Sprintf("its dependency %q failed", de.dep)
	}
	msg, _, _ := strings.Cut(failure.Error(), "\n")
	msg = strings.TrimSuffix(msg, "; last logs:")
	if rest, ok := strings.CutPrefix(msg, fmt.Sprintf("service %q: ", r.label())); ok {
		return rest
	}
	// The error of a dependency it waited for (service_completed_successfully),
	// which the dump shows with that service.
	if rest, ok := strings.CutPrefix(msg, "service "); ok {
		if name, err := strconv.QuotedPrefix(rest); err == nil {
			return "its dependency " + name + " failed"
		}
	}
	return msg
}

// probeTail returns "; last probes:" and the replica's last probe and
// healthcheck outputs, "" when there are none.
func (r *replica) probeTail() string {
	r.mu.Lock()
	probes := append([]string(nil), r.probes...)
	r.mu.Unlock()
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

func (r *replica) dialAddr(hp engine.HostPort) string {
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
func (r *replica) logTail() string {
	ctx, cancel := context.WithTimeout(context.Background(), diagnosticsTimeout)
	defer cancel()
	return r.logTailCtx(ctx)
}

func (r *replica) logTailCtx(ctx context.Context) string {
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
