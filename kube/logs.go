package kube

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/composegen/composegen/runtime/engine"
)

// keptLogs bounds the output kept of a container's earlier runs (its pods
// that Stop deleted).
const keptLogs = 1 << 20

// ringBuf keeps the last max bytes written to it; it is safe for
// concurrent use.
type ringBuf struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (r *ringBuf) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.b = append(r.b, p...)
	if r.max > 0 && len(r.b) > r.max {
		r.b = append([]byte(nil), r.b[len(r.b)-r.max:]...)
	}
	return len(p), nil
}

func (r *ringBuf) Bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.b...)
}

func (r *ringBuf) String() string { return string(r.Bytes()) }

// limitBuf keeps a command's short output.
type limitBuf = ringBuf

// Logs copies the container's output to stdout: that of the runs before
// Stop (which deletes the pod; the engine keeps the last MiB of each), of
// the run before the last restart in the pod, and of the current run. The
// Kubernetes API merges stdout and stderr, so everything goes to stdout.
// With Follow it streams until the container stops or ctx ends.
func (e *Engine) Logs(ctx context.Context, id string, opts engine.LogOptions, stdout, stderr io.Writer) error {
	p, err := e.getPod(ctx, id)
	if err != nil {
		return err
	}
	if opts.Follow && !gated(p) && stateOf(p).Status == "created" {
		if err := e.waitStarted(ctx, id); err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if p, err = e.getPod(ctx, id); err != nil {
			return err
		}
	}
	var past bytes.Buffer
	past.Write(e.savedLogs(id))
	if cs := containerStatus(p); cs != nil && cs.RestartCount > 0 {
		// The run before the pod's last restart (a crash loop's).
		_ = e.streamLogs(ctx, p, podLogs{previous: true, tail: opts.Tail}, &past)
	}
	current := hasCurrentLogs(p)
	if opts.Follow || !current {
		if _, err := stdout.Write(tailLines(past.Bytes(), opts.Tail)); err != nil || !current {
			return err
		}
		return e.streamLogs(ctx, p, podLogs{follow: true, tail: opts.Tail}, stdout)
	}
	if err := e.streamLogs(ctx, p, podLogs{tail: opts.Tail}, &past); err != nil {
		return err
	}
	_, err = stdout.Write(tailLines(past.Bytes(), opts.Tail))
	return err
}

// hasCurrentLogs reports whether the pod's container has run or runs (a
// waiting one, created or in a crash loop's back-off, has none).
func hasCurrentLogs(p *corev1.Pod) bool {
	cs := containerStatus(p)
	return !gated(p) && cs != nil && (cs.State.Running != nil || cs.State.Terminated != nil)
}

// podLogs selects the output of the current pod.
type podLogs struct {
	follow, previous bool
	tail             int
}

// streamLogs copies the current pod's output.
func (e *Engine) streamLogs(ctx context.Context, p *corev1.Pod, opts podLogs, w io.Writer) error {
	lo := &corev1.PodLogOptions{Container: p.Spec.Containers[0].Name, Follow: opts.follow, Previous: opts.previous}
	if opts.tail > 0 {
		lo.TailLines = new(int64(opts.tail))
	}
	rc, err := e.cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, lo).Stream(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("logs of container %s/%s: %w", p.Namespace, p.Name, notFound(err))
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// tailLines returns the last n lines of b (all of it for n <= 0).
func tailLines(b []byte, n int) []byte {
	if n <= 0 {
		return b
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			if n--; n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

func (e *Engine) savedLogs(id string) []byte {
	e.mu.Lock()
	r := e.logs[id]
	e.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.Bytes()
}

func (e *Engine) keepLogs(id string, b []byte) {
	if len(b) == 0 {
		return
	}
	e.mu.Lock()
	r := e.logs[id]
	if r == nil {
		r = &ringBuf{max: keptLogs}
		e.logs[id] = r
	}
	e.mu.Unlock()
	_, _ = r.Write(b)
}

// saveLogs keeps the output of a pod whose container has finished, before
// the pod goes.
func (e *Engine) saveLogs(ctx context.Context, id string, p *corev1.Pod) {
	buf := &ringBuf{max: keptLogs}
	if e.streamLogs(ctx, p, podLogs{}, buf) == nil {
		e.keepLogs(id, buf.Bytes())
	}
}

// captureLogs follows the output of a pod about to be deleted until its
// container ends; the returned function waits for that (briefly, after the
// pod is gone) and keeps what was captured.
func (e *Engine) captureLogs(ctx context.Context, id string, p *corev1.Pod) func() {
	if stateOf(p).Status == "created" {
		return func() {}
	}
	cctx, cancel := context.WithCancel(ctx)
	buf := &ringBuf{max: keptLogs}
	done := make(chan struct{})
	lo := &corev1.PodLogOptions{Container: p.Spec.Containers[0].Name, Follow: true}
	// Open the stream before the pod is deleted, so that nothing is lost.
	rc, err := e.cs.CoreV1().Pods(p.Namespace).GetLogs(p.Name, lo).Stream(cctx)
	if err != nil {
		cancel()
		return func() {}
	}
	go func() {
		defer close(done)
		defer rc.Close()
		_, _ = io.Copy(buf, rc)
	}()
	return func() {
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		cancel()
		<-done
		e.keepLogs(id, buf.Bytes())
	}
}
