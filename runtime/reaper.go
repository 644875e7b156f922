package runtime

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/composegen/composegen/internal/admin"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/engines"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/lock"
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
	reaping   reapers
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
	reaping.add()
	reapMu.Unlock()
	go func() {
		defer reaping.done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_, _ = reap(ctx, eng, reapPolicy{maxAge: orphanAge()})
		reapPrivateDirs()
	}()
}

// waitReaping waits for the background reaper, at most until ctx ends.
func waitReaping(ctx context.Context) {
	select {
	case <-reaping.idle():
	case <-ctx.Done():
	}
}

// reapers counts the background reapers. Unlike a sync.WaitGroup, it may
// get a new reaper while another goroutine waits for the earlier ones to
// end (parallel tests start stacks while others end).
type reapers struct {
	mu   sync.Mutex
	n    int
	none chan struct{} // closed when n drops to 0; nil while n is 0
}

func (r *reapers) add() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		r.none = make(chan struct{})
	}
	r.n++
}

func (r *reapers) done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n--
	if r.n == 0 {
		close(r.none)
		r.none = nil
	}
}

// idle returns a channel that is closed once no reaper that runs now runs.
func (r *reapers) idle() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		c := make(chan struct{})
		close(c)
		return c
	}
	return r.none
}

// reapPolicy says which projects go.
type reapPolicy struct {
	maxAge  time.Duration
	project string // only this project ("" for all)
	kept    bool   // kept projects too (prune)
}

// projectVerdict is what the reaper knows of one project.
type projectVerdict struct {
	Project string
	Verdict owner.Verdict
	Created time.Time
	Kept    string // why it is kept ("failure", "reuse"), "" if it is not
}

// reap removes the projects that policy condemns and reports them.
func reap(ctx context.Context, eng engine.Engine, policy reapPolicy) ([]admin.Pruned, error) {
	labels := map[string]string{label.Managed: "true"}
	if policy.project != "" {
		labels[label.Project] = policy.project
	}
	list, err := eng.List(ctx, labels)
	if err != nil {
		return nil, err
	}
	reasons := map[string]string{}
	sharedOrigins := map[string]string{}
	for _, r := range list {
		if n := r.Labels[label.SharedPlan]; n != "" {
			sharedOrigins[r.Labels[label.Project]] = n
		}
	}
	now := time.Now()
	for p, v := range judgeProjects(list) {
		age := now.Sub(v.Created).Round(time.Minute)
		switch {
		// A kept stack was handed over to the user: its owner no longer
		// manages it, so only prune removes it, whoever owned it.
		case v.Kept != "" && !policy.kept:
		case v.Kept != "":
			reasons[p] = "kept (" + v.Kept + ")"
		case v.Verdict == owner.Alive:
		case v.Verdict == owner.Dead:
			reasons[p] = "its owner process is gone"
		case policy.project != "":
			reasons[p] = "named, and its owner cannot be checked from here"
		case !v.Created.IsZero() && age > policy.maxAge:
			reasons[p] = fmt.Sprintf("its owner cannot be checked from here and it is %s old (more than %s)", age, policy.maxAge)
		}
	}
	// A stack that a live process uses stays, whoever owns it (lock.ClaimForRemoval);
	// the others are claimed until they are gone.
	var skipped []string
	claims := map[string]func(bool){}
	for p := range reasons {
		claim := lock.ClaimForRemoval
		if policy.project != "" {
			// Prune of a stack named by this process: its own use of
			// it does not keep it.
			claim = func(p string) (func(bool), bool) { return lock.ClaimOwnForRemoval(ctx, p) }
		}
		release, ok := claim(p)
		if !ok {
			skipped = append(skipped, p)
			delete(reasons, p)
			continue
		}
		claims[p] = release
	}
	defer func() {
		for _, release := range claims {
			release(false)
		}
	}()
	if len(reasons) == 0 {
		return skippedInUse(skipped, sharedOrigins), nil
	}
	removed, err := removeLabelled(ctx, eng, labels, nil, func(r engine.Resource) bool {
		return reasons[r.Labels[label.Project]] == ""
	})
	count := map[string]int{}
	what := map[string][]string{}
	for _, r := range removed {
		p := r.Labels[label.Project]
		count[p]++
		what[p] = append(what[p], r.Kind+" "+displayID(r))
	}
	var out []admin.Pruned
	for p, why := range reasons {
		sort.Strings(what[p])
		out = append(out, admin.Pruned{Project: p, Reason: why, Resources: count[p], Removed: what[p], Shared: sharedOrigins[p]})
		claims[p](true)
		delete(claims, p)
		lock.RemoveProjectDir(p)
		removeKeptDir(p)
	}
	out = append(out, skippedInUse(skipped, sharedOrigins)...)
	sort.Slice(out, func(i, j int) bool { return out[i].Project < out[j].Project })
	return out, err
}

// skippedInUse reports the projects that a removal skipped because a live
// process uses them.
func skippedInUse(projects []string, sharedOrigins map[string]string) []admin.Pruned {
	var out []admin.Pruned
	for _, p := range projects {
		out = append(out, admin.Pruned{Project: p, Skipped: true, Shared: sharedOrigins[p],
			Reason: "a running process uses it; it goes once its users end (run prune again then)"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Project < out[j].Project })
	return out
}

// judgeProjects groups resources by project and judges each project's
// owner.
func judgeProjects(list []engine.Resource) map[string]*projectVerdict {
	out := map[string]*projectVerdict{}
	for _, r := range list {
		p := r.Labels[label.Project]
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
		if k := r.Labels[label.Keep]; k != "" {
			v.Kept = k
		}
	}
	return out
}

// prune is admin.Prune.
func prune(ctx context.Context, opts admin.PruneOptions) ([]admin.Pruned, error) {
	eng, err := engines.Open(ctx, opts.Engine)
	if err != nil {
		return nil, err
	}
	waitReaping(ctx)
	policy := reapPolicy{maxAge: orphanAge(), project: opts.Project, kept: true}
	out, err := reap(ctx, eng, policy)
	reapPrivateDirs()
	if err == nil {
		if list, lerr := eng.List(ctx, map[string]string{label.Managed: "true"}); lerr == nil {
			live := map[string]bool{}
			var keys []string
			for _, r := range list {
				live[r.Labels[label.Project]] = true
				if k := r.Labels[label.Shared]; k != "" {
					keys = append(keys, k)
				}
			}
			lock.Prune(live, keys, opts.Project)
		}
	}
	return out, err
}
