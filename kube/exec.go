package kube

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	"github.com/composegen/composegen/runtime/engine"
)

// Exec runs cmd in the running container through the API (WebSockets, or
// SPDY for older API servers) and returns its exit code. When ctx ends
// first it returns ctx's error; nothing is written to the writers after
// Exec returned.
func (e *Engine) Exec(ctx context.Context, id string, cmd []string, stdout, stderr io.Writer) (int, error) {
	return e.exec(ctx, id, cmd, nil, stdout, stderr)
}

func (e *Engine) exec(ctx context.Context, id string, cmd []string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	p, err := e.getPod(ctx, id)
	if err != nil {
		return 0, err
	}
	if !stateOf(p).Running {
		return 0, fmt.Errorf("exec in container %s: the container is not running", id)
	}
	out, errw := &gate{w: stdout}, &gate{w: stderr}
	defer out.shut()
	defer errw.shut()
	ex, err := e.executor(p, cmd, stdin != nil)
	if err != nil {
		return 0, err
	}
	err = ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: out, Stderr: errw})
	var exit utilexec.CodeExitError
	switch {
	case ctx.Err() != nil:
		return 0, ctx.Err()
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		return exit.Code, nil
	}
	return 0, fmt.Errorf("exec in container %s: %w", id, err)
}

// executor prepares an exec of cmd in the pod's container.
func (e *Engine) executor(p *corev1.Pod, cmd []string, stdin bool) (remotecommand.Executor, error) {
	req := e.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(p.Namespace).Name(p.Name).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: p.Spec.Containers[0].Name, Command: cmd, Stdin: stdin, Stdout: true, Stderr: true,
		}, scheme.ParameterCodec)
	spdyEx, err := remotecommand.NewSPDYExecutor(e.cfg, http.MethodPost, req.URL())
	if err != nil {
		return nil, err
	}
	wsEx, err := remotecommand.NewWebSocketExecutor(e.cfg, http.MethodGet, req.URL().String())
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(wsEx, spdyEx, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
}

// gate passes writes to w until it is shut; nil w discards.
type gate struct {
	mu       sync.Mutex
	w        io.Writer
	shutDown bool
}

func (g *gate) Write(p []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.w == nil || g.shutDown {
		return len(p), nil
	}
	return g.w.Write(p)
}

func (g *gate) shut() {
	g.mu.Lock()
	g.shutDown = true
	g.mu.Unlock()
}

// CopyTo extracts the tar stream into directory dir of the container by
// running tar in it (as kubectl cp does: the image needs tar). A missing
// dir is an error wrapping engine.ErrNotFound.
func (e *Engine) CopyTo(ctx context.Context, id, dir string, tar io.Reader) error {
	var errb limitBuf
	errb.max = 4 << 10
	code, err := e.exec(ctx, id, []string{"tar", "-x", "-f", "-", "-C", dir}, tar, io.Discard, &errb)
	if err != nil {
		return fmt.Errorf("copy to %s: %w (the image needs tar)", dir, err)
	}
	if code != 0 {
		return tarError("copy to "+dir, code, errb.String())
	}
	return nil
}

func tarError(what string, code int, stderr string) error {
	msg := strings.TrimSpace(stderr)
	if strings.Contains(msg, "No such file") || strings.Contains(msg, "can't change directory") {
		return fmt.Errorf("%s: %s: %w", what, msg, engine.ErrNotFound)
	}
	if code == 126 || code == 127 {
		msg += " (the image needs tar)"
	}
	return fmt.Errorf("%s: tar exited %d: %s", what, code, msg)
}

// CopyFrom returns a tar stream of path in the container, made by tar in
// the container. A missing path is an error wrapping engine.ErrNotFound.
func (e *Engine) CopyFrom(ctx context.Context, id, p string) (io.ReadCloser, error) {
	p = path.Clean(p)
	dir, base := path.Dir(p), path.Base(p)
	if p == "/" {
		dir, base = "/", "."
	}
	var out bytes.Buffer
	var errb limitBuf
	errb.max = 4 << 10
	code, err := e.exec(ctx, id, []string{"tar", "-c", "-f", "-", "-C", dir, base}, nil, &out, &errb)
	if err != nil {
		return nil, fmt.Errorf("copy from %s: %w", p, err)
	}
	if code != 0 {
		return nil, tarError("copy from "+p, code, errb.String())
	}
	return io.NopCloser(&out), nil
}
