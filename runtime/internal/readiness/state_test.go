package readiness

import (
	"reflect"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

func TestJudge(t *testing.T) {
	started := time.Unix(2000, 0)
	base := engine.State{Status: "running", Running: true, StartedAt: started, RestartCount: 2}
	exited := func(code int) engine.State {
		return engine.State{Status: "exited", ExitCode: code, StartedAt: started, RestartCount: 2}
	}
	for _, tt := range []struct {
		name         string
		base, st     engine.State
		mayComplete  bool
		want         Verdict
		wantRestarts int
	}{
		{"running", base, base, false, Running, 0},
		{"created", engine.State{}, engine.State{Status: "created"}, false, Running, 0},
		{"exit 0 of a one-shot", base, exited(0), true, Completed, 0},
		{"exit 0 of a worker", base, exited(0), false, Exited, 0},
		{"exit 3 of a one-shot", base, exited(3), true, Exited, 0},
		{"restart count", base, engine.State{Status: "running", Running: true, StartedAt: started, RestartCount: 5}, true, Restarted, 3},
		{"restarting", base, engine.State{Status: "restarting", Restarting: true, StartedAt: started, RestartCount: 2}, true, Restarted, 1},
		// Podman does not count restarts: a new start time tells.
		{"started again", base, engine.State{Status: "running", Running: true, StartedAt: started.Add(time.Second), RestartCount: 2}, true, Restarted, 1},
		// Without a base start time (not inspected after its start), a
		// start time is no restart.
		{"no base start", engine.State{}, engine.State{Status: "running", Running: true, StartedAt: started}, false, Running, 0},
	} {
		v, restarts := Judge(tt.base, tt.st, tt.mayComplete)
		if v != tt.want || restarts != tt.wantRestarts {
			t.Errorf("%s: Judge = %s, %d; want %s, %d", tt.name, v, restarts, tt.want, tt.wantRestarts)
		}
	}
}

func TestExitCauses(t *testing.T) {
	for _, tt := range []struct {
		name string
		st   engine.State
		role Role
		want []string
	}{
		{"failed", engine.State{ExitCode: 3}, Role{Worker: true}, nil},
		{"oom", engine.State{ExitCode: 137, OOMKilled: true, Error: "boom"}, Role{},
			[]string{"killed by the kernel for lack of memory (OOM)", "boom"}},
		{"needed healthy first", engine.State{}, Role{NeededHealthy: true, Healthcheck: true, Kind: "redis", Worker: true},
			[]string{"a dependent needs it healthy (service_healthy)"}},
		{"healthcheck", engine.State{}, Role{Healthcheck: true, Kind: "redis"},
			[]string{"it has a healthcheck, so it is expected to keep running"}},
		{"kind", engine.State{}, Role{Kind: "redis", Worker: true},
			[]string{"it is a redis server, which is expected to keep running"}},
		{"worker", engine.State{}, Role{Worker: true},
			[]string{"it is taken as a long-running service; if it is a one-shot (a migration, a seed), set x-composegen: {oneshot: true} on it in the compose file"}},
		{"other", engine.State{}, Role{}, []string{"the stack needs it running"}},
	} {
		if got := ExitCauses(tt.st, tt.role); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: ExitCauses = %q, want %q", tt.name, got, tt.want)
		}
	}
}
