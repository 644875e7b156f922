package runtime

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/diag"
	"github.com/composegen/composegen/runtime/internal/mask"
)

// maxExecOutput bounds what Exec keeps of each stream (the last bytes).
const maxExecOutput = 1 << 20

// maxLogs bounds what Logs returns (the last bytes).
const maxLogs = 1 << 20

func (s *replica) Exec(ctx context.Context, cmd ...string) (ExecResult, error) {
	return s.exec(ctx, 0, cmd)
}

// exec is Exec; a timeout above 0 bounds the command from the moment it
// starts when the engine can tell (engine.ExecTimeouter), else the whole
// call. When the command outlives it, the error wraps
// context.DeadlineExceeded.
func (s *replica) exec(ctx context.Context, timeout time.Duration, cmd []string) (ExecResult, error) {
	if err := s.hasContainer(); err != nil {
		return ExecResult{}, err
	}
	stdout := &diag.LimitedBuffer{Max: maxExecOutput}
	stderr := &diag.LimitedBuffer{Max: maxExecOutput}
	var code int
	var err error
	if et, ok := s.stack.eng.(engine.ExecTimeouter); ok && timeout > 0 {
		code, err = et.ExecTimeout(ctx, s.ContainerID(), cmd, timeout, stdout, stderr)
	} else {
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
		code, err = s.stack.eng.Exec(ctx, s.ContainerID(), cmd, stdout, stderr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ExecResult{}, ctx.Err()
		}
		if timeout > 0 && errors.Is(err, context.DeadlineExceeded) {
			return ExecResult{}, err
		}
		return ExecResult{}, fmt.Errorf("exec %s in %s: %s", strings.Join(mask.Args(cmd), " "), s.label(), s.stack.mask.String(err.Error()))
	}
	return ExecResult{ExitCode: code, Stdout: stdout.String(), Stderr: stderr.String()}, nil
}

func (s *replica) Logs(ctx context.Context) (string, error) {
	b := &diag.LimitedBuffer{Max: maxLogs}
	err := s.WriteLogs(ctx, b)
	out := b.String()
	if b.Dropped() > 0 {
		out = fmt.Sprintf("[composegen: %d earlier bytes not shown; use WriteLogs for everything]\n", b.Dropped()) + out
	}
	return out, err
}

func (s *replica) WriteLogs(ctx context.Context, w io.Writer) error {
	if err := s.hasContainer(); err != nil {
		return err
	}
	return s.stack.eng.Logs(ctx, s.ContainerID(), engine.LogOptions{Tty: s.spec.Tty}, w, w)
}

func (s *replica) FollowLogs(ctx context.Context, w io.Writer) error {
	if err := s.hasContainer(); err != nil {
		return err
	}
	err := s.stack.eng.Logs(ctx, s.ContainerID(), engine.LogOptions{Follow: true, Tty: s.spec.Tty}, w, w)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *replica) Stop(ctx context.Context, timeout time.Duration) error {
	if err := s.hasContainer(); err != nil {
		return err
	}
	grace := 10 * time.Second
	if timeout > 0 {
		grace = graceSeconds(timeout)
	} else if g := s.spec.StopGracePeriod; g != nil {
		grace = graceSeconds(*g)
	}
	return s.stack.eng.Stop(ctx, s.ContainerID(), grace)
}

func (s *replica) Start(ctx context.Context) error {
	if err := s.hasContainer(); err != nil {
		return err
	}
	if err := s.stack.eng.Start(ctx, s.ContainerID()); err != nil {
		return fmt.Errorf("start %s: %w", s.label(), err)
	}
	return s.afterRestart(ctx)
}

func (s *replica) Restart(ctx context.Context) error {
	if err := s.Stop(ctx, 0); err != nil {
		return fmt.Errorf("restart %s: %w", s.label(), err)
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	for _, u := range s.stack.order {
		for _, d := range u.spec.DependsOn {
			if d.Service == s.spec.Name && d.Restart && u != s.unit {
				for _, other := range u.replicas {
					if err := other.Restart(ctx); err != nil {
						return fmt.Errorf("restart %s after its dependency %s: %w", other.label(), s.label(), err)
					}
				}
			}
		}
	}
	return nil
}

// afterRestart waits for readiness again, with a fresh baseline and exit
// watcher: the first run's exit must not count.
func (s *replica) afterRestart(ctx context.Context) error {
	st, err := s.stack.eng.Inspect(ctx, s.ContainerID())
	if err != nil {
		return fmt.Errorf("restart %s: %w", s.label(), err)
	}
	s.setState(st)
	fresh := newReplica(s.stack, s.unit, s.number, s.env)
	fresh.id, fresh.name, fresh.ports, fresh.base = s.ContainerID(), s.ContainerName(), s.currentPorts(), st
	fresh.tStarted = time.Now()
	go fresh.watchExit(ctx, fresh.exitedCh, &fresh.exitOnce)
	err = fresh.awaitReady(ctx)
	s.setState(fresh.stateSnapshot())
	if err != nil {
		return fmt.Errorf("restart %s: %w", s.label(), err)
	}
	return nil
}

// stateSnapshot returns the ports and pid it recorded, as a State.
func (s *replica) stateSnapshot() engine.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return engine.State{Ports: s.ports, Pid: s.pid}
}

func (s *replica) Pause(ctx context.Context) error {
	if err := s.hasContainer(); err != nil {
		return err
	}
	return s.stack.eng.Pause(ctx, s.ContainerID())
}

func (s *replica) Unpause(ctx context.Context) error {
	if err := s.hasContainer(); err != nil {
		return err
	}
	return s.stack.eng.Unpause(ctx, s.ContainerID())
}

func (s *replica) Kill(ctx context.Context, signal string) error {
	if err := s.hasContainer(); err != nil {
		return err
	}
	if signal != "" {
		signal = "SIG" + strings.TrimPrefix(strings.ToUpper(signal), "SIG")
		if !knownSignals[signal] {
			return fmt.Errorf("kill %s: unknown signal %q", s.label(), signal)
		}
	}
	return s.stack.eng.Kill(ctx, s.ContainerID(), signal)
}

var knownSignals = map[string]bool{
	"SIGHUP": true, "SIGINT": true, "SIGQUIT": true, "SIGKILL": true, "SIGUSR1": true,
	"SIGUSR2": true, "SIGTERM": true, "SIGSTOP": true, "SIGCONT": true,
}

func (s *replica) CopyTo(ctx context.Context, dst string, content []byte, perm int64) error {
	if err := s.hasContainer(); err != nil {
		return err
	}
	dst = path.Clean("/" + dst)
	// Upload into the deepest existing ancestor, with entries for the
	// directories below it: entries for existing directories would reset
	// their mode and owner.
	for base := path.Dir(dst); ; base = path.Dir(base) {
		err := s.upload(ctx, base, dst, content, perm)
		if err == nil || base == "/" || !errors.Is(err, engine.ErrNotFound) {
			if err != nil {
				return fmt.Errorf("copy %s to %s: %w", dst, s.label(), err)
			}
			return nil
		}
	}
}

// upload extracts, in directory base, a tar of file dst and the
// directories between base and it.
func (s *replica) upload(ctx context.Context, base, dst string, content []byte, perm int64) error {
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
	return s.stack.eng.CopyTo(ctx, s.ContainerID(), base, &b)
}

func (s *replica) CopyFrom(ctx context.Context, src string) ([]byte, error) {
	if err := s.hasContainer(); err != nil {
		return nil, err
	}
	rc, err := s.stack.eng.CopyFrom(ctx, s.ContainerID(), src)
	if err != nil {
		return nil, fmt.Errorf("copy %s from %s: %w", src, s.label(), err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			return nil, fmt.Errorf("copy %s from %s: %w", src, s.label(), err)
		}
		if h.Typeflag == tar.TypeReg {
			return io.ReadAll(io.LimitReader(tr, 64<<20))
		}
	}
}

// hasContainer reports an error for a service without a container (one
// whose creation failed).
func (s *replica) hasContainer() error {
	if s.ContainerID() == "" {
		return fmt.Errorf("service %q has no container", s.label())
	}
	return nil
}
