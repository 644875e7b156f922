package diag

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

func TestState(t *testing.T) {
	started := time.Unix(1, 0)
	for _, tc := range []struct {
		st      engine.State
		failure error
		want    string
	}{
		{engine.State{Status: "created"}, nil, "created, never started (waiting for its dependencies)"},
		{engine.State{Status: "created"}, context.Canceled, "created, never started (waiting for its dependencies)"},
		{engine.State{Status: "created"}, errors.New("port is already allocated"), "created, never started: port is already allocated"},
		{engine.State{Status: "restarting", Restarting: true, RestartCount: 2, ExitCode: 1, StartedAt: started}, nil, "restarting (restarted 2 time(s); last exit code 1)"},
		{engine.State{Status: "paused", Paused: true, Running: true, StartedAt: started}, nil, "paused"},
		{engine.State{Status: "running", Running: true, StartedAt: started}, nil, "running"},
		{engine.State{Status: "running", Running: true, RestartCount: 3, StartedAt: started}, nil, "running (restarted 3 time(s))"},
		{engine.State{Status: "exited", ExitCode: 137, OOMKilled: true, StartedAt: started}, nil, "exited (exit code 137, OOM-killed)"},
		{engine.State{Status: "dead", ExitCode: 128, Error: "no such file", StartedAt: started}, nil, "dead (exit code 128, no such file)"},
	} {
		if got := State(tc.st, tc.failure); got != tc.want {
			t.Errorf("State(%+v, %v) = %q, want %q", tc.st, tc.failure, got, tc.want)
		}
	}
}

type depErr struct{ dep string }

func (e *depErr) Error() string      { return "service \"web\": not started because its dependency failed" }
func (e *depErr) Dependency() string { return e.dep }

// TestFailureText: in the one-line list, a replica's failure loses its
// service prefix and the log lines that follow it; a dependency's failure
// names the dependency.
func TestFailureText(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("service \"web\": exited with code 7; last logs:\n\tboom\n\tmore"), "exited with code 7"},
		{errors.New("service \"migrate\": exited with code 3; last logs:\n\tx"), `its dependency "migrate" failed`},
		{&depErr{dep: "db"}, `its dependency "db" failed`},
		{fmt.Errorf("wrapped: %w", &depErr{dep: "db"}), `its dependency "db" failed`},
		{errors.New("create container: no such image"), "create container: no such image"},
	} {
		if got := FailureText("web", tc.err); got != tc.want {
			t.Errorf("FailureText(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func dial(hp engine.HostPort) string { return fmt.Sprintf("127.0.0.1:%d", hp.Port) }

func running(ports map[engine.PortKey]engine.HostPort) engine.State {
	return engine.State{Status: "running", Running: true, StartedAt: time.Unix(1, 0), Ports: ports}
}

func TestHead(t *testing.T) {
	boom := errors.New(`service "web": exited with code 2; last logs:` + "\n\tx")
	ports := map[engine.PortKey]engine.HostPort{
		{Port: 8080, Protocol: "tcp"}: {IP: "0.0.0.0", Port: 30001},
		{Port: 53, Protocol: "udp"}:   {IP: "0.0.0.0", Port: 30003},
		{Port: 53, Protocol: "tcp"}:   {IP: "0.0.0.0", Port: 30002},
	}
	for _, tc := range []struct {
		name string
		f    Facts
		want Headline
	}{
		{"waiting", Facts{}, Headline{Text: "not created (waiting for its dependencies)"}},
		{"waiting, start over", Facts{Over: true, Failure: context.Canceled}, Headline{Text: "not created (waiting for its dependencies)", Trouble: true}},
		{"create failed", Facts{Over: true, Failure: boom}, Headline{Text: "not created: exited with code 2", Trouble: true}},
		{"gone", Facts{HasContainer: true, InspectErr: fmt.Errorf("inspect: %w", engine.ErrNotFound)}, Headline{Text: "the container no longer exists (removed outside composegen?)", Trouble: true}},
		{"inspect failed", Facts{HasContainer: true, InspectErr: errors.New("EOF")}, Headline{Text: "state unknown (EOF)", Trouble: true, Logs: true}},
		{"never started", Facts{HasContainer: true, Over: true, Failure: boom, State: engine.State{Status: "created"}}, Headline{Text: "created, never started: exited with code 2", Trouble: true, Logs: true}},
		{"created, waiting", Facts{HasContainer: true, State: engine.State{Status: "created"}}, Headline{Text: "created, never started (waiting for its dependencies)", Logs: true}},
		{"ready, ports sorted", Facts{HasContainer: true, Ready: true, Started: true, State: running(ports)}, Headline{Text: "running, ready; ports 53/tcp→127.0.0.1:30002 53/udp→127.0.0.1:30003 8080/tcp→127.0.0.1:30001", Logs: true, ready: true}},
		{"ready, restarted since", Facts{HasContainer: true, Ready: true, State: engine.State{Status: "running", Running: true, RestartCount: 1, StartedAt: time.Unix(1, 0)}}, Headline{Text: "running (restarted 1 time(s)), ready", Trouble: true, Logs: true, ready: true}},
		{"ready, restarted before", Facts{HasContainer: true, Ready: true, BaseRestarts: 1, State: engine.State{Status: "running", Running: true, RestartCount: 1, StartedAt: time.Unix(1, 0)}}, Headline{Text: "running (restarted 1 time(s)), ready", Logs: true, ready: true}},
		{"exited after ready", Facts{HasContainer: true, Ready: true, State: engine.State{Status: "exited", ExitCode: 1, StartedAt: time.Unix(1, 0)}}, Headline{Text: "exited (exit code 1), after it was ready", Trouble: true, Logs: true, ready: true}},
		{"not ready", Facts{HasContainer: true, Started: true, State: running(nil), WantsPorts: true}, Headline{Text: "running, not ready; no published ports (its network was disconnected?)", Trouble: true, Logs: true}},
		{"completed", Facts{HasContainer: true, Completed: true, Ready: true, State: engine.State{Status: "exited", StartedAt: time.Unix(1, 0)}}, Headline{Text: "exited (exit code 0), completed", Logs: true, ready: true}},
		{"exited before its wait", Facts{HasContainer: true, Over: true, Failure: boom, State: engine.State{Status: "exited", ExitCode: 2, StartedAt: time.Unix(1, 0)}}, Headline{Text: "exited (exit code 2)", Trouble: true, Logs: true}},
	} {
		tc.f.Label, tc.f.Dial = "web", dial
		if got := Head(tc.f); got != tc.want {
			t.Errorf("%s: Head = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
