// Package adminhook holds the types of package admin and the functions
// that implement it, which package runtime sets when it is initialised. It
// exists so that admin can import runtime (a program that uses admin links
// the implementation) while runtime implements admin's API: only runtime
// and admin use it.
package adminhook

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

// Impl is package runtime's implementation of package admin, set when
// runtime is initialised.
var Impl struct {
	Doctor func(ctx context.Context, opts DoctorOptions) []Finding
	Prune  func(ctx context.Context, opts PruneOptions) ([]Pruned, error)
}
