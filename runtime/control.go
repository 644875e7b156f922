package runtime

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	docker "github.com/ory/dockertest/v3/docker"
)

// limitedBuffer keeps at most max bytes, dropping the oldest.
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	b.buf.Write(p)
	if b.max > 0 && b.buf.Len() > b.max {
		rest := b.buf.Bytes()[b.buf.Len()-b.max:]
		nb := make([]byte, len(rest))
		copy(nb, rest)
		b.buf.Reset()
		b.buf.Write(nb)
	}
	return n, nil
}

// Exec runs cmd in the service's container (no shell: pass "sh", "-c", ...
// for one) and returns its exit code and output. The error is for failures
// to run it at all; a non-zero exit is in ExitCode.
func (s *Service) Exec(ctx context.Context, cmd ...string) (ExecResult, error) {
	c := s.stack.eng.c
	ex, err := c.CreateExec(docker.CreateExecOptions{
		Container: s.ContainerID(), Cmd: cmd, AttachStdout: true, AttachStderr: true, Context: ctx,
	})
	if err != nil {
		return ExecResult{}, fmt.Errorf("exec %q in %s: %w", cmd, s.spec.Name, err)
	}
	stdout := &limitedBuffer{max: 1 << 20}
	stderr := &limitedBuffer{max: 1 << 20}
	// The engine client's hijacked stream ignores the context: close it
	// ourselves when ctx ends (the process itself runs on in the container;
	// the engine cannot stop an exec).
	cw, err := c.StartExecNonBlocking(ex.ID, docker.StartExecOptions{OutputStream: stdout, ErrorStream: stderr, Context: ctx})
	if err == nil {
		done := make(chan error, 1)
		go func() { done <- cw.Wait() }()
		select {
		case err = <-done:
		case <-ctx.Done():
			_ = cw.Close()
			return ExecResult{}, ctx.Err()
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ExecResult{}, ctx.Err()
		}
		return ExecResult{}, fmt.Errorf("exec %q in %s: %w", cmd, s.spec.Name, err)
	}
	// The streams closed; the process usually has exited, but the exit code
	// may lag, and a process that closed its output may run on. Never take
	// a running process's placeholder exit code 0 for success.
	limit := time.After(10 * time.Second)
	delay := time.Millisecond
	for {
		insp, err := c.InspectExec(ex.ID)
		if err != nil {
			return ExecResult{}, fmt.Errorf("exec %q in %s: %w", cmd, s.spec.Name, err)
		}
		if !insp.Running {
			return ExecResult{ExitCode: insp.ExitCode, Stdout: stdout.buf.String(), Stderr: stderr.buf.String()}, nil
		}
		select {
		case <-ctx.Done():
			return ExecResult{}, ctx.Err()
		case <-limit:
			return ExecResult{ExitCode: -1, Stdout: stdout.buf.String(), Stderr: stderr.buf.String()},
				fmt.Errorf("exec %q in %s: closed its output but still runs after 10s", cmd, s.spec.Name)
		case <-time.After(delay):
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

// Logs returns the container's output so far (stdout and stderr
// interleaved as the engine stored them).
func (s *Service) Logs(ctx context.Context) (string, error) {
	var b bytes.Buffer
	err := s.stack.eng.c.Logs(docker.LogsOptions{
		Context: ctx, Container: s.ContainerID(), OutputStream: &b, ErrorStream: &b,
		Stdout: true, Stderr: true, RawTerminal: s.spec.Tty,
	})
	return b.String(), err
}

// FollowLogs copies the container's output to w until ctx is done or the
// container stops.
func (s *Service) FollowLogs(ctx context.Context, w io.Writer) error {
	err := s.stack.eng.c.Logs(docker.LogsOptions{
		Context: ctx, Container: s.ContainerID(), OutputStream: w, ErrorStream: w,
		Stdout: true, Stderr: true, Follow: true, RawTerminal: s.spec.Tty,
	})
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// logTail returns "\nlast logs:\n..." with the container's last lines, or
// "" when there are none.
func (s *Service) logTail() string {
	if s.ContainerID() == "" {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var b bytes.Buffer
	_ = s.stack.eng.c.Logs(docker.LogsOptions{
		Context: ctx, Container: s.ContainerID(), OutputStream: &b, ErrorStream: &b,
		Stdout: true, Stderr: true, Tail: "20", RawTerminal: s.spec.Tty,
	})
	out := strings.TrimRight(b.String(), "\n")
	if out == "" {
		return "; no log output"
	}
	return "; last logs:\n\t" + strings.ReplaceAll(out, "\n", "\n\t")
}

// Stop stops the container with its stop signal and grace period (10s by
// default, or timeout if positive).
func (s *Service) Stop(ctx context.Context, timeout time.Duration) error {
	secs := uint(10)
	if timeout > 0 {
		secs = uint((timeout + time.Second - 1) / time.Second)
	} else if g := s.spec.StopGracePeriod; g != nil {
		secs = graceSeconds(*g)
	}
	err := s.stack.eng.c.StopContainerWithContext(s.ContainerID(), secs, ctx)
	var notRunning *docker.ContainerNotRunning
	if errors.As(err, &notRunning) {
		return nil
	}
	return err
}

// Start starts the stopped container again and waits until it is ready
// (its healthcheck or probe passes again). Host ports may change: the port
// methods and the accessors built on them always return the current ones.
func (s *Service) Start(ctx context.Context) error {
	err := s.stack.eng.c.StartContainerWithContext(s.ContainerID(), nil, ctx)
	var already *docker.ContainerAlreadyRunning
	if err != nil && !errors.As(err, &already) {
		return fmt.Errorf("start %s: %w", s.spec.Name, err)
	}
	return s.afterRestart(ctx)
}

// Restart restarts the container (stop with its stop signal and grace
// period, then start) and waits until it is ready again, as after Up. Like
// `docker compose restart`, it then restarts the services of the stack that
// declare this one in depends_on with restart: true, each awaited too.
//
// The container keeps its filesystem (not its tmpfs mounts) and its
// networks, but the engine may publish its ports on other host ports: the
// port methods (and accessors built on them, such as DSN) always return the
// current ones, so call them again after Restart rather than keeping an
// address from before.
func (s *Service) Restart(ctx context.Context) error {
	if err := s.Stop(ctx, 0); err != nil {
		return fmt.Errorf("restart %s: %w", s.spec.Name, err)
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	for _, other := range s.stack.order {
		for _, d := range other.spec.DependsOn {
			if d.Service == s.spec.Name && d.Restart && other != s {
				if err := other.Restart(ctx); err != nil {
					return fmt.Errorf("restart %s after its dependency %s: %w", other.spec.Name, s.spec.Name, err)
				}
			}
		}
	}
	return nil
}

func (s *Service) afterRestart(ctx context.Context) error {
	if err := s.readPorts(ctx); err != nil {
		return err
	}
	// The exit watcher ended with the first run; readiness must not see
	// that old exit.
	fresh := newService(s.stack, s.spec, s.env)
	fresh.id, fresh.name, fresh.ports = s.ContainerID(), s.ContainerName(), s.currentPorts()
	go fresh.watchExitUntil(ctx)
	if err := fresh.awaitReady(ctx); err != nil {
		return fmt.Errorf("restart %s: %w", s.spec.Name, err)
	}
	return nil
}

func (s *Service) currentPorts() map[portKey]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[portKey]int, len(s.ports))
	for k, v := range s.ports {
		m[k] = v
	}
	return m
}

func (s *Service) watchExitUntil(ctx context.Context) {
	code, err := s.stack.eng.c.WaitContainerWithContext(s.ContainerID(), ctx)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.exitCode = code
	s.mu.Unlock()
	close(s.exitedCh)
}

// Pause freezes the container's processes.
func (s *Service) Pause(ctx context.Context) error {
	return s.stack.eng.c.PauseContainer(s.ContainerID())
}

// Unpause resumes a paused container.
func (s *Service) Unpause(ctx context.Context) error {
	return s.stack.eng.c.UnpauseContainer(s.ContainerID())
}

// Kill sends signal (such as "SIGKILL" or "SIGHUP"; "" for SIGKILL) to the
// container's main process.
func (s *Service) Kill(ctx context.Context, signal string) error {
	opts := docker.KillContainerOptions{ID: s.ContainerID(), Context: ctx}
	if signal != "" {
		sig, ok := signalNumbers[strings.TrimPrefix(strings.ToUpper(signal), "SIG")]
		if !ok {
			return fmt.Errorf("kill %s: unknown signal %q", s.spec.Name, signal)
		}
		opts.Signal = sig
	}
	return s.stack.eng.c.KillContainer(opts)
}

var signalNumbers = map[string]docker.Signal{
	"HUP": docker.SIGHUP, "INT": docker.SIGINT, "QUIT": docker.SIGQUIT, "KILL": docker.SIGKILL,
	"USR1": docker.SIGUSR1, "USR2": docker.SIGUSR2, "TERM": docker.SIGTERM, "STOP": docker.SIGSTOP,
	"CONT": docker.SIGCONT,
}

// CopyTo writes content as file dst (an absolute path) in the container,
// with mode perm. Missing parent directories are created (mode 0755).
func (s *Service) CopyTo(ctx context.Context, dst string, content []byte, perm int64) error {
	if err := s.hasContainer(); err != nil {
		return err
	}
	dst = path.Clean("/" + dst)
	// Upload into the deepest existing ancestor, with entries for the
	// directories below it: entries for existing directories would reset
	// their mode and owner.
	for base := path.Dir(dst); ; base = path.Dir(base) {
		err := s.upload(ctx, base, dst, content, perm)
		var de *docker.Error
		if err == nil || base == "/" || !errors.As(err, &de) || de.Status != http.StatusNotFound {
			if err != nil {
				return fmt.Errorf("copy %s to %s: %w", dst, s.spec.Name, err)
			}
			return nil
		}
	}
}

// upload extracts, in directory base, a tar of file dst and the
// directories between base and it.
func (s *Service) upload(ctx context.Context, base, dst string, content []byte, perm int64) error {
	rel := strings.TrimPrefix(strings.TrimPrefix(dst, base), "/")
	now := time.Now()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	parts := strings.Split(rel, "/")
	for i := 1; i < len(parts); i++ {
		name := strings.Join(parts[:i], "/") + "/"
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: now}); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: rel, Mode: perm, Size: int64(len(content)), ModTime: now}); err != nil {
		return err
	}
	if _, err := tw.Write(content); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return s.stack.eng.c.UploadToContainer(s.ContainerID(), docker.UploadToContainerOptions{
		InputStream: &b, Path: base, Context: ctx,
	})
}

// CopyFrom reads file src (an absolute path) from the container.
func (s *Service) CopyFrom(ctx context.Context, src string) ([]byte, error) {
	if err := s.hasContainer(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err := s.stack.eng.c.DownloadFromContainer(s.ContainerID(), docker.DownloadFromContainerOptions{
		OutputStream: &b, Path: src, Context: ctx,
	})
	if err != nil {
		return nil, fmt.Errorf("copy %s from %s: %w", src, s.spec.Name, err)
	}
	tr := tar.NewReader(&b)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("copy %s from %s: %w", src, s.spec.Name, err)
		}
		if h.Typeflag == tar.TypeReg {
			return io.ReadAll(tr)
		}
	}
}

// hasContainer reports an error for a service without a container (one
// from NewTestService, or one whose creation failed).
func (s *Service) hasContainer() error {
	if s.stack.eng == nil || s.ContainerID() == "" {
		return fmt.Errorf("service %q has no container", s.spec.Name)
	}
	return nil
}
