// Package label names the labels composegen sets on the engine resources
// of a stack: compose's own, so that docker compose and the engine's tools
// see a compose project, and composegen's, by which it finds, shares,
// keeps and reaps its stacks. The owner labels are package owner's.
package label

// Compose's labels.
const (
	Project    = "com.docker.compose.project"
	Service    = "com.docker.compose.service"
	Network    = "com.docker.compose.network"
	Volume     = "com.docker.compose.volume"
	Oneoff     = "com.docker.compose.oneoff"
	Number     = "com.docker.compose.container-number"
	WorkingDir = "com.docker.compose.project.working_dir"
)

// composegen's labels.
const (
	// Managed is on every resource composegen creates.
	Managed = "io.composegen.managed"
	// Keep is on the resources of a stack kept after its run (why).
	Keep = "io.composegen.keep"
	// Shared is the key of a shared stack.
	Shared = "io.composegen.shared"
	// SharedOrigin is where a shared stack's key comes from.
	SharedOrigin = "io.composegen.shared.origin"
	// SharedPlan is the plan's name, for prune's report.
	SharedPlan = "io.composegen.shared.plan"
	// SharedRun is the run that started a shared stack (a hash).
	SharedRun = "io.composegen.shared.run"
	// Ready is on a shared stack's marker volume once it is ready.
	Ready = "io.composegen.shared.ready"
)
