package runtime

import (
	"context"
	"fmt"
	"strings"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/diag"
)

// Diagnostics describes every service of the stack as it is now, the
// services in trouble first (not ready, exited, restarted, gone), then the
// others; each with its state, exit code, port map, whether it became
// ready, and its last log lines (stdout and stderr together, in the order
// the engine recorded them). The last probe and healthcheck outputs are
// shown for a service that did not become ready; those of a service that
// did are its start-up history, not a failure, and are left out. Secrets
// are masked.
func (s *Stack) Diagnostics(ctx context.Context) string {
	var entries []diag.Entry
	for _, u := range s.order {
		for _, r := range u.replicas {
			entries = append(entries, r.entry(ctx))
		}
	}
	return s.mask.String(diag.Dump(entries))
}

// others describes, one line each, every replica that skip does not
// name: its state, ports, and whether it became ready. "" when there is
// none.
func (s *Stack) others(ctx context.Context, skip func(*replica) bool) string {
	var entries []diag.Entry
	for _, u := range s.order {
		for _, r := range u.replicas {
			if !skip(r) {
				entries = append(entries, diag.Entry{Label: r.label(), Head: r.head(ctx)})
			}
		}
	}
	return diag.Others(entries)
}

// failedBy reports whether err is the failure of replica r: errors name
// their service first (`service "label": ...`).
func failedBy(err error) func(*replica) bool {
	return func(r *replica) bool {
		return strings.HasPrefix(err.Error(), fmt.Sprintf("service %q:", r.label()))
	}
}

// describe says what is true of the replica now, in full: state, ports,
// readiness, last probe outputs and last log lines.
func (r *replica) describe(ctx context.Context) string {
	return diag.Describe(r.entry(ctx))
}

// entry gathers what a dump shows of the replica: its headline, its last
// probe outputs and, when it has a container, its log tail.
func (r *replica) entry(ctx context.Context) diag.Entry {
	e := diag.Entry{Label: r.label(), Head: r.head(ctx), Probes: r.lastProbes()}
	if e.Head.Logs {
		e.Logs = r.logTailCtx(ctx)
	}
	return e
}

// head says in one line what is true of the replica now (see diag.Head).
func (r *replica) head(ctx context.Context) diag.Headline {
	id := r.ContainerID()
	r.mu.Lock()
	failure := r.err
	base := r.base
	r.mu.Unlock()
	f := diag.Facts{
		Label:        r.label(),
		HasContainer: id != "",
		Failure:      failure,
		Over:         closed(r.failedCh),
		BaseRestarts: base.RestartCount,
		WantsPorts:   len(r.spec.Ports) > 0 && r.spec.NetworkMode == "",
		Dial:         r.dialAddr,
	}
	if id != "" {
		f.State, f.InspectErr = r.stack.eng.Inspect(ctx, id)
	}
	f.Completed, f.Ready, f.Started = r.isCompleted(), closed(r.readyCh), closed(r.startedCh)
	return diag.Head(f)
}

// lastProbes returns a copy of the replica's last probe and healthcheck
// outputs.
func (r *replica) lastProbes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.probes...)
}

func (r *replica) dialAddr(hp engine.HostPort) string {
	return fmt.Sprintf("%s:%d", r.dialHost(hp), hp.Port)
}

// logTail returns "; last logs:\n..." with the container's last lines
// (see diag.LogTail), "; no log output" when there are none.
func (r *replica) logTail() string {
	ctx, cancel := context.WithTimeout(context.Background(), diagnosticsTimeout)
	defer cancel()
	return r.logTailCtx(ctx)
}

func (r *replica) logTailCtx(ctx context.Context) string {
	if r.ContainerID() == "" {
		return ""
	}
	b := diag.LimitedBuffer{Max: 64 << 10}
	err := r.stack.eng.Logs(ctx, r.ContainerID(), engine.LogOptions{Tail: diag.TailLines, Tty: r.spec.Tty}, &b, &b)
	return diag.LogTail(b.String(), err, r.stack.mask)
}
