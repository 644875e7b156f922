package runtime

import (
	"context"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/owner"
)

// The reaper removes what composegen processes that died without tearing
// down left behind (killed or timed-out test binaries). It judges each
// project by its owner labels (package owner): a provably dead owner's
// resources go at once; an owner it cannot judge (another machine, boot or
// PID namespace sharing the engine) gets an age limit, orphanAge after the
// resources were created (COMPOSEGEN_ORPHAN_AGE, default 6h); a live
// owner's resources and kept stacks (WithKeepOnFailure, reuse) are never
// touched.
//
// It runs in the background at each start, at most once every reapEvery
// per engine, so that a start right after a kill still cleans up.
var (
	reapEvery = 2 * time.Second
	reapMu    sync.Mutex
	reapLast  = map[string]time.Time{}
	reaping   sync.WaitGroup
)

// orphanAge is how old the resources of an owner that cannot be judged must
// be before the reaper removes them.
func orphanAge() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("COMPOSEGEN_ORPHAN_AGE")); err == nil && d > 0 {
		return d
	}
	return 6 * time.Hour
}

// startReaper reaps in the background unless it ran recently for this
// engine or COMPOSEGEN_NO_REAP is set.
func startReaper(eng engine.Engine) {
	if os.Getenv("COMPOSEGEN_NO_REAP") != "" {
		return
	}
	key := eng.Info().Endpoint
	reapMu.Lock()
	if time.Since(reapLast[key]) < reapEvery {
		reapMu.Unlock()
		return
	}
	reapLast[key] = time.Now()
	reaping.Add(1)
	reapMu.Unlock()
	go func() {
		defer reaping.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = reap(ctx, eng, reapPolicy{maxAge: orphanAge()})
		reapPrivateDirs()
	}()
}

// waitReaping waits for the background reaper, at most until ctx ends.
func waitReaping(ctx context.Context) {
	done := make(chan struct{})
	go func() { reaping.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// reapPolicy says which projects go.
type reapPolicy struct {
	maxAge  time.Duration
	project string // only this project ("" for all)
	all     bool   // every project but live owners' (prune --all)
	kept    bool   // kept projects too (prune)
}

// projectVerdict is what the reaper knows of one project.
type projectVerdict struct {
	Project string
	Verdict owner.Verdict
	Created time.Time
	Kept    bool
}

// reap removes the projects that policy condemns, and returns them with
// the resources removed.
func reap(ctx context.Context, eng engine.Engine, policy reapPolicy) ([]engine.Resource, error) {
	labels := map[string]string{labelManaged: "true"}
	if policy.project != "" {
		labels[labelProject] = policy.project
	}
	list, err := eng.List(ctx, labels)
	if err != nil {
		return nil, err
	}
	verdicts := judgeProjects(list)
	condemned := map[string]bool{}
	now := time.Now()
	for p, v := range verdicts {
		switch {
		case v.Verdict == owner.Alive:
		case v.Kept && !policy.kept:
		case v.Verdict == owner.Dead, policy.all, policy.project != "":
			condemned[p] = true
		case !v.Created.IsZero() && now.Sub(v.Created) > policy.maxAge:
			condemned[p] = true
		}
	}
	if len(condemned) == 0 {
		return nil, nil
	}
	return removeLabelled(ctx, eng, labels, nil, func(r engine.Resource) bool {
		return !condemned[r.Labels[labelProject]]
	})
}

// judgeProjects groups resources by project and judges each project's
// owner.
func judgeProjects(list []engine.Resource) map[string]*projectVerdict {
	out := map[string]*projectVerdict{}
	for _, r := range list {
		p := r.Labels[labelProject]
		if p == "" {
			continue
		}
		v := out[p]
		if v == nil {
			v = &projectVerdict{Project: p, Verdict: owner.Unknown}
			if id, created, ok := owner.FromLabels(r.Labels); ok {
				v.Verdict, v.Created = owner.Judge(id), created
			} else if sec, err := strconv.ParseInt(r.Labels[owner.LabelCreated], 10, 64); err == nil {
				v.Created = time.Unix(sec, 0)
			}
			out[p] = v
		}
		if r.Labels[labelKeep] != "" {
			v.Kept = true
		}
	}
	return out
}
