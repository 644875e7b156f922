package diag

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/composegen/composegen/runtime/engine"
)

// State describes a container state; failure is the service's failure, if
// any, which a container created but never started shows.
func State(st engine.State, failure error) string {
	switch {
	case st.Status == "created" && st.StartedAt.IsZero():
		// Containers are created ahead of their dependencies.
		if failure != nil && !IsCancel(failure) {
			return "created, never started: " + failure.Error()
		}
		return "created, never started (waiting for its dependencies)"
	case st.Restarting:
		return fmt.Sprintf("restarting (restarted %d time(s); last exit code %d)", st.RestartCount, st.ExitCode)
	case st.Paused:
		return "paused"
	case st.Running:
		if st.RestartCount > 0 {
			return fmt.Sprintf("running (restarted %d time(s))", st.RestartCount)
		}
		return "running"
	}
	s := fmt.Sprintf("%s (exit code %d", st.Status, st.ExitCode)
	if st.OOMKilled {
		s += ", OOM-killed"
	}
	if st.Error != "" {
		s += ", " + st.Error
	}
	return s + ")"
}

// Facts are what is true of one replica now, as its headline needs them.
type Facts struct {
	// Label names the replica ("web", "web-2").
	Label string
	// HasContainer: its container was created. The fields from InspectErr
	// on are read only then.
	HasContainer bool
	// Failure is the replica's error, nil when none; Over that its start
	// has ended in failure (or in the failure of another service).
	Failure error
	Over    bool
	// InspectErr is the error of inspecting its container; State the
	// container's state when it is nil.
	InspectErr error
	State      engine.State
	// BaseRestarts is the restart count when it became ready.
	BaseRestarts int
	// Completed: a one-shot that exited 0; Ready: it became ready;
	// Started: its wait for readiness began.
	Completed, Ready, Started bool
	// WantsPorts: its spec publishes ports on a network of its own.
	WantsPorts bool
	// Dial gives the address a client dials for a published port.
	Dial func(engine.HostPort) string
}

// Headline is the one-line state of a replica.
type Headline struct {
	Text string
	// Trouble: it did not become ready, or no longer runs as it should.
	Trouble bool
	// Logs: it has a container whose logs can be read.
	Logs bool
	// ready: it became ready (its probes are then its start-up history).
	ready bool
}

// Head says in one line what is true of a replica: its container's state,
// whether it became ready (or completed, for a one-shot) and its
// published ports.
func Head(f Facts) Headline {
	failed := f.Over && f.Failure != nil && !IsCancel(f.Failure)
	if !f.HasContainer {
		if failed {
			return Headline{Text: "not created: " + FailureText(f.Label, f.Failure), Trouble: true, ready: f.Ready}
		}
		return Headline{Text: "not created (waiting for its dependencies)", Trouble: f.Over, ready: f.Ready}
	}
	switch {
	case errors.Is(f.InspectErr, engine.ErrNotFound):
		return Headline{Text: "the container no longer exists (removed outside composegen?)", Trouble: true, ready: f.Ready}
	case f.InspectErr != nil:
		return Headline{Text: fmt.Sprintf("state unknown (%v)", f.InspectErr), Trouble: true, Logs: true, ready: f.Ready}
	}
	st := f.State
	h := Headline{Logs: true, ready: f.Ready}
	var b strings.Builder
	if st.Status == "created" && st.StartedAt.IsZero() && failed {
		b.WriteString("created, never started: " + FailureText(f.Label, f.Failure))
	} else {
		b.WriteString(State(st, f.Failure))
	}
	switch {
	case f.Completed:
		b.WriteString(", completed")
	case f.Ready && st.Running:
		b.WriteString(", ready")
		h.Trouble = st.RestartCount > f.BaseRestarts
	case f.Ready:
		b.WriteString(", after it was ready")
		h.Trouble = true
	case f.Started:
		b.WriteString(", not ready")
		h.Trouble = true
	default:
		h.Trouble = failed
	}
	if st.Running {
		if len(st.Ports) > 0 {
			b.WriteString("; ports")
			keys := make([]engine.PortKey, 0, len(st.Ports))
			for k := range st.Ports {
				keys = append(keys, k)
			}
			slices.SortFunc(keys, func(a, b engine.PortKey) int {
				if a.Port != b.Port {
					return a.Port - b.Port
				}
				return strings.Compare(a.Protocol, b.Protocol)
			})
			for _, k := range keys {
				fmt.Fprintf(&b, " %d/%s→%s", k.Port, k.Protocol, f.Dial(st.Ports[k]))
			}
		} else if f.WantsPorts {
			b.WriteString("; no published ports (its network was disconnected?)")
		}
	}
	h.Text = b.String()
	return h
}

// FailureText is a replica's failure in one line, without its `service
// "label": ` prefix, which the dump already shows, and without the log
// lines that follow it (the dump shows them apart). An error with a
// method Dependency() string is the failure of that dependency.
func FailureText(label string, failure error) string {
	var de interface{ Dependency() string }
	if errors.As(failure, &de) {
		return fmt.Sprintf("its dependency %q failed", de.Dependency())
	}
	msg, _, _ := strings.Cut(failure.Error(), "\n")
	msg = strings.TrimSuffix(msg, "; last logs:")
	if rest, ok := strings.CutPrefix(msg, fmt.Sprintf("service %q: ", label)); ok {
		return rest
	}
	// The error of a dependency it waited for (service_completed_successfully),
	// which the dump shows with that service.
	if rest, ok := strings.CutPrefix(msg, "service "); ok {
		if name, err := strconv.QuotedPrefix(rest); err == nil {
			return "its dependency " + name + " failed"
		}
	}
	return msg
}
