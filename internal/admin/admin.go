// Package admin is what composegen's commands (doctor, prune) and this
// repository's test suites use of the runtime beyond its public API: the
// report on the engine, and the removal of the stacks no running process
// owns. Package runtime implements it; a program that uses it links
// package runtime (Doctor and Prune panic otherwise).
package admin

import "context"

// DoctorOptions select what Doctor checks.
type DoctorOptions struct {
	// Engine names the engine ("" for COMPOSEGEN_ENGINE, else Docker).
	Engine string
	// Images are the images a compose file needs: Doctor says which are
	// present on the engine and which a start would have to pull.
	Images []string
	// RoundTripImage is the small image of the round trip (default
	// "busybox"); it is pulled when absent, as a start would.
	RoundTripImage string
}

// Finding is one line of Doctor's report.
type Finding struct {
	// Check names what was checked: "engine", "round trip", "image
	// postgres:16".
	Check string
	// Level is "ok", "warning" (works, but may not where pulls are
	// blocked) or "problem" (a stack cannot start).
	Level string
	// Detail says what was found and, for a problem, what to do.
	Detail string
}

// PruneOptions select what Prune removes.
type PruneOptions struct {
	// Engine names the engine ("" for COMPOSEGEN_ENGINE, else Docker).
	Engine string
	// Project limits Prune to one stack instance, which goes unless its
	// owner runs.
	Project string
}

// Pruned is one project that Prune or the reaper removed, or skipped
// because a running process uses it (Skipped).
type Pruned struct {
	// Project is the stack instance's project name.
	Project string
	// Reason says why it was removed.
	Reason string
	// Resources counts the containers, networks, volumes and projects
	// removed.
	Resources int
	// Removed names each resource removed ("container chain5-postgres-1",
	// "network chain5_default"), sorted.
	Removed []string
	// Shared is the compose project name of a stack from Shared ("" for
	// other stacks).
	Shared string
	// Skipped is set when the stack was not removed because a running
	// process uses it (Reason says so); Resources is then 0.
	Skipped bool
}

// Impl is package runtime's implementation, set when it is initialised.
var Impl struct {
	Doctor func(ctx context.Context, opts DoctorOptions) []Finding
	Prune  func(ctx context.Context, opts PruneOptions) ([]Pruned, error)
}

// Doctor says why tests could not start a stack: which engine they would
// use and why (DOCKER_HOST, a context, a socket), its version and API, and
// whether it can create a container, publish a port and answer on it from
// this process (a real round trip with a small container, removed
// afterwards); then, for each of opts.Images, whether it is present or
// would be pulled. It reports problems as findings, not errors.
func Doctor(ctx context.Context, opts DoctorOptions) []Finding {
	linked(Impl.Doctor != nil)
	return Impl.Doctor(ctx, opts)
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
	linked(Impl.Prune != nil)
	return Impl.Prune(ctx, opts)
}

func linked(ok bool) {
	if !ok {
		panic("composegen: package admin is implemented by package runtime, which this program does not link: import it")
	}
}
