package docker

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strconv"

	"github.com/composegen/composegen/runtime/engine"
	dt "github.com/ory/dockertest/v3/docker"
)

// Logs copies the container's output to the writers (both to stdout for
// a tty container, whose output is raw).
func (e *Engine) Logs(ctx context.Context, id string, opts engine.LogOptions, stdout, stderr io.Writer) error {
	tail := "all"
	if opts.Tail > 0 {
		tail = strconv.Itoa(opts.Tail)
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	err := e.c.Logs(dt.LogsOptions{
		Context: ctx, Container: id, OutputStream: stdout, ErrorStream: stderr,
		Stdout: true, Stderr: true, Tail: tail, Follow: opts.Follow, RawTerminal: opts.Tty,
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("logs of container %s: %w", id, notFound(err))
	}
	// A followed stream that the context ended can come back without an
	// error (over TCP + TLS, the client reads the cut as the end of the
	// stream): the output is then incomplete, which the caller must know.
	if opts.Follow && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// CopyTo extracts the tar stream into directory dir of the container.
func (e *Engine) CopyTo(ctx context.Context, id, dir string, tar io.Reader) error {
	err := e.c.UploadToContainer(id, dt.UploadToContainerOptions{InputStream: tar, Path: dir, Context: ctx})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("copy to %s in container %s: %w", dir, id, notFound(err))
	}
	return nil
}

// CopyFrom returns a tar stream of path in the container; the caller
// closes it.
func (e *Engine) CopyFrom(ctx context.Context, id, path string) (io.ReadCloser, error) {
	resp, err := e.request(ctx, "GET", "/containers/"+url.PathEscape(id)+"/archive", url.Values{"path": {path}}, nil)
	if err != nil {
		return nil, fmt.Errorf("copy %s from container %s: %w", path, id, err)
	}
	return resp.Body, nil
}
