package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/diag"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/lock"
	"github.com/composegen/composegen/runtime/internal/reap"
)

// Bounds of the calls that must end even when the engine stalls.
var (
	downTimeout        = 30 * time.Second
	diagnosticsTimeout = 10 * time.Second
)

// down removes everything labelled with the stack's project: what was
// recorded and whatever a cancelled request may have created anyway.
func (s *Stack) down(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, downTimeout)
		defer cancel()
	}
	s.cancel()
	defer unregister(s)
	// A start in progress (Down from a signal handler, or from another
	// goroutine) is cancelled above; let it return before listing.
	s.awaitStart(ctx)
	if s.cfg.logDir != "" {
		s.writeLogs(ctx)
	}
	var known []string
	for _, u := range s.order {
		for _, r := range u.replicas {
			if id := r.ContainerID(); id != "" {
				known = append(known, id)
			}
		}
	}
	_, err := reap.Remove(ctx, s.eng, map[string]string{label.Project: s.project, label.Managed: "true"}, known, nil)
	s.removePrivate()
	if err == nil {
		lock.RemoveProjectDir(s.project)
	}
	// The reaper runs in the background; a short-lived process must not
	// exit half-way through it.
	reap.Wait(ctx)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (gave up: the engine did not finish within the teardown's bound; what is left is removed by the next start's reaper or `composegen prune`)", err)
		}
		return fmt.Errorf("down %s: %w", s.project, err)
	}
	return nil
}

// writeLogs streams every container's full log to
// DIR/<project>/<service>.log (0600 files in 0700 directories), masked
// line by line.
func (s *Stack) writeLogs(ctx context.Context) {
	dir := filepath.Join(s.cfg.logDir, s.project)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		s.logf("composegen: log dir: %v", err)
		return
	}
	var g errgroup.Group
	for _, u := range s.order {
		for _, r := range u.replicas {
			if r.ContainerID() == "" {
				continue
			}
			g.Go(func() error {
				name := r.spec.Name
				if len(u.replicas) > 1 {
					name = fmt.Sprintf("%s-%d", name, r.number)
				}
				f, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
				if err != nil {
					return err
				}
				w := &diag.MaskWriter{W: f, M: s.mask}
				err = r.WriteLogs(ctx, w)
				w.Flush()
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		s.logf("composegen: writing logs to %s: %v", dir, err)
	}
}

// keep leaves the stack running for inspection: it is marked so that the
// reaper spares it (a volume labelled with the project and
// io.composegen.keep), and the log says how to look at it and remove it.
func (s *Stack) keep() {
	unregister(s)
	ctx, cancel := context.WithTimeout(context.Background(), diagnosticsTimeout)
	defer cancel()
	err := s.eng.CreateVolume(ctx, engine.VolumeSpec{
		Name:    s.project + "_composegen-keep",
		Project: s.project,
		Labels:  s.labels(map[string]string{label.Keep: "failure"}),
	})
	if err != nil {
		s.logf("composegen: could not mark stack %s as kept (%v); the next start's reaper may remove it", s.project, err)
	}
	s.logf("composegen: keeping stack %s for inspection:\n  docker ps -a --filter label=%s=%s\n  docker logs <container>\nremove it with:\n  go run github.com/composegen/composegen/cmd/composegen prune -project %s",
		s.project, label.Project, s.project, s.project)
}
