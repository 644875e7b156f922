package readiness

import "github.com/composegen/composegen/runtime/engine"

// Verdict is what a container state means for a replica that is coming up
// or up.
type Verdict int

const (
	// Running: it runs, or it was created and has not started yet (or the
	// engine has not caught up with its start).
	Running Verdict = iota
	// Completed: it exited 0 and may complete (a one-shot).
	Completed
	// Restarted: its restart policy restarted it since it was started: it
	// crashes.
	Restarted
	// Exited: it stopped, and that fails the start.
	Exited
)

func (v Verdict) String() string {
	switch v {
	case Completed:
		return "completed"
	case Restarted:
		return "restarted"
	case Exited:
		return "exited"
	}
	return "running"
}

// Judge says what state st means for a replica whose container was started
// in state base. mayComplete says whether an exit with code 0 completes
// the service instead of failing it. restarts counts the restarts since
// base (at least 1 when the verdict is Restarted).
func Judge(base, st engine.State, mayComplete bool) (v Verdict, restarts int) {
	restarts = st.RestartCount - base.RestartCount
	restarted := restarts > 0 || st.Restarting ||
		(!base.StartedAt.IsZero() && !st.StartedAt.IsZero() && !st.StartedAt.Equal(base.StartedAt))
	switch {
	case restarted:
		return Restarted, max(restarts, 1)
	case st.Running, st.Status == "created":
		return Running, 0
	case st.ExitCode == 0 && mayComplete:
		return Completed, 0
	}
	return Exited, 0
}

// Role is what the stack expects of a service, for explaining why its exit
// failed the start.
type Role struct {
	// NeededHealthy: a dependent waits for service_healthy.
	NeededHealthy bool
	// Healthcheck: it has a healthcheck to run (see Enabled).
	Healthcheck bool
	// Kind is its kind ("" for none).
	Kind string
	// Worker: it was taken as long-running without being declared one.
	Worker bool
}

// ExitCauses explains the exit of a container in state st that failed the
// start, as compose does: the kernel's OOM kill, the engine's error, and
// for an exit with code 0, why the stack needed it running.
func ExitCauses(st engine.State, role Role) []string {
	var why []string
	if st.OOMKilled {
		why = append(why, "killed by the kernel for lack of memory (OOM)")
	}
	if st.Error != "" {
		why = append(why, st.Error)
	}
	if st.ExitCode == 0 {
		need := "the stack needs it running"
		switch {
		case role.NeededHealthy:
			need = "a dependent needs it healthy (service_healthy)"
		case role.Healthcheck:
			need = "it has a healthcheck, so it is expected to keep running"
		case role.Kind != "":
			need = "it is a " + role.Kind + " server, which is expected to keep running"
		case role.Worker:
			need = "it is taken as a long-running service; if it is a one-shot (a migration, a seed), set x-composegen: {oneshot: true} on it in the compose file"
		}
		why = append(why, need)
	}
	return why
}
