package runtime

import (
	"context"

	"github.com/composegen/composegen/internal/adminhook"
	"github.com/composegen/composegen/runtime/internal/engines"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/lock"
	"github.com/composegen/composegen/runtime/internal/reap"
)

// The reaper (package reap) removes what composegen processes that died
// without tearing down left behind (killed or timed-out test binaries). It
// judges each project by its owner labels: a provably dead owner's
// resources go at once; an owner it cannot judge gets an age limit
// (COMPOSEGEN_ORPHAN_AGE, default 6h); a live owner's resources and kept
// stacks (WithKeepOnFailure, reuse) are never touched. It runs in the
// background at each start (reap.Start).
//
// reapHooks gives it this machine's files: a stack that a live process uses
// stays, whoever owns it (package lock); a removed stack's lock and kept
// directories go; private directories of dead owners go after each
// background reap.
var reapHooks = reap.Hooks{
	Claim: func(ctx context.Context, project string, own bool) (func(bool), bool) {
		if own {
			// Prune of a stack named by this process: its own use of
			// it does not keep it.
			return lock.ClaimOwnForRemoval(ctx, project)
		}
		return lock.ClaimForRemoval(project)
	},
	Gone: func(project string) {
		lock.RemoveProjectDir(project)
		removeKeptDir(project)
	},
	Sweep: reapPrivateDirs,
}

// prune is admin.Prune.
func prune(ctx context.Context, opts adminhook.PruneOptions) ([]adminhook.Pruned, error) {
	eng, err := engines.Open(ctx, opts.Engine)
	if err != nil {
		return nil, err
	}
	reap.Wait(ctx)
	policy := reap.Policy{MaxAge: reap.OrphanAge(), Project: opts.Project, Kept: true}
	out, err := reap.Projects(ctx, eng, policy, reapHooks)
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
