// Package admin is what composegen's commands (doctor, prune) and this
// repository's test suites use of the runtime beyond its public API: the
// report on the engine, and the removal of the stacks no running process
// owns. Package runtime implements it (through package adminhook, which
// holds the types).
package admin

import (
	"context"

	"github.com/composegen/composegen/internal/adminhook"
	_ "github.com/composegen/composegen/runtime" // implements adminhook.Impl
)

type (
	// DoctorOptions select what Doctor checks.
	DoctorOptions = adminhook.DoctorOptions
	// Finding is one line of Doctor's report.
	Finding = adminhook.Finding
	// PruneOptions select what Prune removes.
	PruneOptions = adminhook.PruneOptions
	// Pruned is one project that Prune removed, or skipped because a running
	// process uses it (Skipped).
	Pruned = adminhook.Pruned
)

// Doctor says why tests could not start a stack: which engine they would
// use and why (DOCKER_HOST, a context, a socket), its version and API, and
// whether it can create a container, publish a port and answer on it from
// this process (a real round trip with a small container, removed
// afterwards); then, for each of opts.Images, whether it is present or
// would be pulled. It reports problems as findings, not errors.
func Doctor(ctx context.Context, opts DoctorOptions) []Finding {
	return adminhook.Impl.Doctor(ctx, opts)
}

// Prune removes, from the engine, the stacks that no running process owns:
// kept ones (WithKeepOnFailure, COMPOSEGEN_KEEP, reused shared stacks),
// those whose owner provably died, and those whose owner cannot be checked
// from this machine once they are older than COMPOSEGEN_ORPHAN_AGE (6h).
// A stack that a running process uses is skipped and reported (Skipped),
// except that this process's own use does not keep a stack named by
// opts.Project. The private files of dead owners go too, and the lock, lease and
// failure files (under os.TempDir) of the stacks that are not on the engine
// any more, unless a running process holds them. It never removes the
// stack of a process that runs.
func Prune(ctx context.Context, opts PruneOptions) ([]Pruned, error) {
	return adminhook.Impl.Prune(ctx, opts)
}
