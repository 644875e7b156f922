// Package reap removes what composegen processes left on a container
// engine: it removes a stack's labelled resources in dependency order
// (Remove), judges each project by its owner labels and removes those whose
// owner is provably dead, too old to judge, or, for prune, kept (Projects,
// and Start for the background reaper of each start), and runs the watcher
// process that removes a run's resources when that run ends, however it ends
// (Spawn, Watch). It knows engines, labels and owners, not stacks: tearing a
// Stack down, the signal handler, and the lock and private files of this
// machine stay in package runtime, which passes the file handling in as
// Hooks.
package reap

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/composegen/composegen/internal/adminhook"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/owner"
)

// Hooks is what reaping does beyond the engine's resources: the files of
// this machine that go with a project. A nil hook does nothing (Claim: every
// project may go).
type Hooks struct {
	// Claim takes a project for removal without waiting; ok is false when
	// a live process uses it. own is set for a removal of a project this
	// process named (prune -project), whose own use does not keep it.
	// release(gone) ends the claim.
	Claim func(ctx context.Context, project string, own bool) (release func(gone bool), ok bool)
	// Gone is called for each project whose resources were removed.
	Gone func(project string)
	// Sweep removes this machine's leftovers of dead owners; it runs
	// after each background reap and at a watcher's end.
	Sweep func()
}

func (h Hooks) gone(project string) {
	if h.Gone != nil {
		h.Gone(project)
	}
}

func (h Hooks) sweep() {
	if h.Sweep != nil {
		h.Sweep()
	}
}

// Policy says which projects Projects removes. A project whose owner runs
// never goes; one whose owner is dead always goes (unless kept).
type Policy struct {
	// MaxAge is how old the resources of an owner that cannot be judged
	// (another machine, boot or PID namespace) must be to go.
	MaxAge time.Duration
	// Project limits the removal to one project ("" for all); a named
	// project goes even when its owner cannot be judged.
	Project string
	// Kept removes kept stacks (WithKeepOnFailure, reuse) too (prune).
	Kept bool
}

// OrphanAge is how old the resources of an owner that cannot be judged must
// be before the reaper removes them: COMPOSEGEN_ORPHAN_AGE, default 6h.
func OrphanAge() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("COMPOSEGEN_ORPHAN_AGE")); err == nil && d > 0 {
		return d
	}
	return 6 * time.Hour
}

// verdict is what the reaper knows of one project.
type verdict struct {
	Project string
	Verdict owner.Verdict
	Created time.Time
	Kept    string // why it is kept ("failure", "reuse"), "" if it is not
}

// Projects removes the managed projects that policy condemns and reports
// them, and the condemned ones it skipped because a live process uses them
// (Hooks.Claim), sorted by project.
func Projects(ctx context.Context, eng engine.Engine, policy Policy, h Hooks) ([]adminhook.Pruned, error) {
	labels := map[string]string{label.Managed: "true"}
	if policy.Project != "" {
		labels[label.Project] = policy.Project
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
	for p, v := range judge(list) {
		age := now.Sub(v.Created).Round(time.Minute)
		switch {
		// A kept stack was handed over to the user: its owner no longer
		// manages it, so only prune removes it, whoever owned it.
		case v.Kept != "" && !policy.Kept:
		case v.Kept != "":
			reasons[p] = "kept (" + v.Kept + ")"
		case v.Verdict == owner.Alive:
		case v.Verdict == owner.Dead:
			reasons[p] = "its owner process is gone"
		case policy.Project != "":
			reasons[p] = "named, and its owner cannot be checked from here"
		case !v.Created.IsZero() && age > policy.MaxAge:
			reasons[p] = fmt.Sprintf("its owner cannot be checked from here and it is %s old (more than %s)", age, policy.MaxAge)
		}
	}
	// A stack that a live process uses stays, whoever owns it; the others
	// are claimed until they are gone.
	var skipped []string
	claims := map[string]func(bool){}
	for p := range reasons {
		release, ok := func(bool) {}, true
		if h.Claim != nil {
			release, ok = h.Claim(ctx, p, policy.Project != "")
		}
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
	removed, err := Remove(ctx, eng, labels, nil, func(r engine.Resource) bool {
		return reasons[r.Labels[label.Project]] == ""
	})
	count := map[string]int{}
	what := map[string][]string{}
	for _, r := range removed {
		p := r.Labels[label.Project]
		count[p]++
		what[p] = append(what[p], r.Kind+" "+displayID(r))
	}
	var out []adminhook.Pruned
	for p, why := range reasons {
		sort.Strings(what[p])
		out = append(out, adminhook.Pruned{Project: p, Reason: why, Resources: count[p], Removed: what[p], Shared: sharedOrigins[p]})
		claims[p](true)
		delete(claims, p)
		h.gone(p)
	}
	out = append(out, skippedInUse(skipped, sharedOrigins)...)
	sort.Slice(out, func(i, j int) bool { return out[i].Project < out[j].Project })
	return out, err
}

// skippedInUse reports the projects that a removal skipped because a live
// process uses them.
func skippedInUse(projects []string, sharedOrigins map[string]string) []adminhook.Pruned {
	var out []adminhook.Pruned
	for _, p := range projects {
		out = append(out, adminhook.Pruned{Project: p, Skipped: true, Shared: sharedOrigins[p],
			Reason: "a running process uses it; it goes once its users end (run prune again then)"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Project < out[j].Project })
	return out
}

// judge groups resources by project and judges each project's owner.
func judge(list []engine.Resource) map[string]*verdict {
	out := map[string]*verdict{}
	for _, r := range list {
		p := r.Labels[label.Project]
		if p == "" {
			continue
		}
		v := out[p]
		if v == nil {
			v = &verdict{Project: p, Verdict: owner.Unknown}
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
