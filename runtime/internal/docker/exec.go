package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

// errExecUnknown is returned when the engine cannot say how an exec ended.
var errExecUnknown = errors.New("the engine does not know the exit code")

// execSettle bounds how long Exec waits, after the exec's output closed,
// for the engine to report the process as exited. (A variable for the
// unit tests.)
var execSettle = 5 * time.Second

// Exec runs cmd in the running container and returns its exit code. The
// output is streamed to stdout and stderr as it comes (nothing is buffered
// here beyond one 32 KiB copy buffer); a writer that fails is dropped, not
// the exec. When ctx ends, the stream is closed and ctx's error returned.
// An exec whose exit code the engine does not know (its container died or
// restarted under it) is an error, never exit code 0.
func (e *Engine) Exec(ctx context.Context, id string, cmd []string, stdout, stderr io.Writer) (int, error) {
	return e.exec(ctx, id, cmd, 0, stdout, stderr)
}

var _ engine.ExecTimeouter = (*Engine)(nil)

// ExecTimeout is Exec with timeout bounding the command from its start:
// the connection that carries the exec's stream is set up first (over
// ssh://, a new session that may take seconds to log in), and the clock
// starts when the engine starts the command.
func (e *Engine) ExecTimeout(ctx context.Context, id string, cmd []string, timeout time.Duration, stdout, stderr io.Writer) (int, error) {
	return e.exec(ctx, id, cmd, timeout, stdout, stderr)
}

// errCmdTimeout is the error of a command that outlived ExecTimeout's
// timeout.
type errCmdTimeout time.Duration

func (e errCmdTimeout) Error() string {
	return fmt.Sprintf("the command did not finish within %v", time.Duration(e))
}
func (e errCmdTimeout) Unwrap() error { return context.DeadlineExceeded }

func (e *Engine) exec(ctx context.Context, id string, cmd []string, timeout time.Duration, stdout, stderr io.Writer) (int, error) {
	name := "exec"
	if len(cmd) > 0 {
		name = "exec " + cmd[0] // never the arguments: they may hold secrets
	}
	// The stream's connection first: it is the slow part over ssh://,
	// and the command's timeout must not count it.
	conn, err := e.dial.DialContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return -1, fmt.Errorf("%s in container %s: %w", name, id, err)
	}
	var created struct {
		ID string `json:"Id"`
	}
	body := map[string]any{"AttachStdout": true, "AttachStderr": true, "Cmd": cmd}
	if err := e.call(ctx, "POST", "/containers/"+url.PathEscape(id)+"/exec", nil, body, &created); err != nil {
		conn.Close()
		return -1, fmt.Errorf("%s in container %s: %w", name, id, err)
	}
	cctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	timedOut := func() bool { return timeout > 0 && ctx.Err() == nil && cctx.Err() != nil }
	if err := e.execStream(cctx, conn, created.ID, stdout, stderr); err != nil {
		if timedOut() {
			return -1, errCmdTimeout(timeout)
		}
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return -1, fmt.Errorf("%s in container %s: %w", name, id, err)
	}
	// The command has closed its output: its exit code is the engine's
	// answer, which the timeout does not bound (over ssh:// the question
	// may need a new session).
	code, err := e.execResult(ctx, id, created.ID)
	if err != nil && ctx.Err() == nil {
		return -1, fmt.Errorf("%s in container %s: %w", name, id, err)
	}
	return code, err
}

// execStream starts the exec and copies its output until it ends or ctx
// ends; it returns only when nothing writes to stdout or stderr any more.
func (e *Engine) execStream(ctx context.Context, conn net.Conn, execID string, stdout, stderr io.Writer) error {
	r, err := hijackOn(ctx, conn, "/exec/"+url.PathEscape(execID)+"/start", map[string]bool{"Detach": false, "Tty": false})
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- demux(r, stdout, stderr) }()
	select {
	case err = <-done:
		conn.Close()
		return err
	case <-ctx.Done():
		conn.Close()
		<-done
		return ctx.Err()
	}
}

// execResult polls the exec's inspection until the engine reports it
// exited.
func (e *Engine) execResult(ctx context.Context, container, execID string) (int, error) {
	start := time.Now()
	delay, nextCheck := time.Millisecond, 100*time.Millisecond
	for {
		var x struct {
			Running  bool
			ExitCode *int
		}
		err := e.call(ctx, "GET", "/exec/"+url.PathEscape(execID)+"/json", nil, nil, &x)
		switch {
		case errors.Is(err, engine.ErrNotFound):
			return -1, fmt.Errorf("%w: the exec is gone (its container was restarted or removed under it)", errExecUnknown)
		case err != nil:
			return -1, err
		case !x.Running && x.ExitCode == nil:
			return -1, errExecUnknown
		case !x.Running:
			return *x.ExitCode, nil
		}
		// The output closed but the engine says the process runs: either
		// it closed its output and runs on, or its container died under
		// it and the engine will never know how it ended.
		if waited := time.Since(start); waited > nextCheck {
			if err := e.execContainerAlive(ctx, container); err != nil {
				return -1, err
			}
			nextCheck = waited + time.Second
		}
		if time.Since(start) > execSettle {
			return -1, fmt.Errorf("%w: the exec closed its output but still runs after %v", errExecUnknown, execSettle)
		}
		if err := sleep(ctx, delay); err != nil {
			return -1, err
		}
		delay = backoff(delay, 50*time.Millisecond)
	}
}

// execContainerAlive returns an error when the exec's container no longer
// runs.
func (e *Engine) execContainerAlive(ctx context.Context, id string) error {
	c, err := e.inspect(ctx, id)
	if errors.Is(err, engine.ErrNotFound) {
		return fmt.Errorf("%w: the container was removed under the exec", errExecUnknown)
	}
	if err != nil {
		return err
	}
	if !c.State.Running || c.State.Restarting {
		return fmt.Errorf("%w: the container stopped under the exec (state %s)", errExecUnknown, normalStatus(c.State.Status))
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// upgradeTimeout bounds the wait for the engine's answer to an exec's
// start, which comes before the command runs: a connection that gets no
// answer for that long is stuck (over ssh://, a session whose remote end
// hangs), and the exec fails saying so instead of waiting for ever when
// its ctx has no deadline. The command's own run time is not bounded.
// (A variable for the unit tests.)
var upgradeTimeout = 2 * time.Minute

// hijackOn sends a POST that upgrades conn to a raw stream (exec start)
// and returns the stream; on failure it closes conn. ctx ending during
// the set-up closes the connection; afterwards the caller closes it.
func hijackOn(ctx context.Context, conn net.Conn, path string, body any) (io.Reader, error) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	bound := upgradeTimeout
	err := conn.SetDeadline(time.Now().Add(bound))
	var r io.Reader
	if err == nil {
		r, err = upgrade(conn, path, body)
	}
	if err == nil {
		err = conn.SetDeadline(time.Time{})
	}
	if !stop() {
		conn.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		conn.Close()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, fmt.Errorf("the engine did not answer the start of the exec within %v (its connection is stuck): %w", bound, err)
		}
		return nil, err
	}
	return r, nil
}

// upgrade writes the request and reads the answer's head.
func upgrade(conn net.Conn, path string, body any) (io.Reader, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest("POST", apiBase+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	if err := req.Write(conn); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusSwitchingProtocols:
		return br, nil
	case http.StatusOK:
		return resp.Body, nil
	}
	defer resp.Body.Close()
	return nil, readAPIError(resp)
}

// demux copies a multiplexed stream (8-byte frame headers: stream, 0, 0,
// 0, big-endian size) to stdout and stderr, one bounded copy at a time.
func demux(r io.Reader, stdout, stderr io.Writer) error {
	out, errw := &sink{w: stdout}, &sink{w: stderr}
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		size := int64(binary.BigEndian.Uint32(hdr[4:]))
		var w io.Writer
		switch hdr[0] {
		case 0, 1:
			w = out
		case 2:
			w = errw
		case 3:
			msg, _ := io.ReadAll(io.LimitReader(r, min(size, 4096)))
			return fmt.Errorf("engine: %s", msg)
		default:
			return fmt.Errorf("unexpected stream type %d in the exec's output", hdr[0])
		}
		if _, err := io.CopyN(w, r, size); err != nil {
			return err
		}
	}
}

// sink writes to w until w fails, and then discards: a caller's writer
// that refuses more output does not stop the exec.
type sink struct {
	w      io.Writer
	failed bool
}

func (s *sink) Write(p []byte) (int, error) {
	if s.w != nil && !s.failed {
		if _, err := s.w.Write(p); err != nil {
			s.failed = true
		}
	}
	return len(p), nil
}
