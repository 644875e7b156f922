package docker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// eventsEngine is a fake Podman for Wait: its container runs since
// started; its first breaks event streams send the container's "start"
// event and then end mid-event, as Podman's stream did in CI; the next
// one replays events, the "die" that came meanwhile among them.
type eventsEngine struct {
	started time.Time
	breaks  int
	replay  []string // JSON events, one per line

	mu     sync.Mutex
	sinces []string
}

func (f *eventsEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/containers/c/json":
		fmt.Fprintf(w, `{"State":{"Status":"running","Running":true,"StartedAt":%q},"HostConfig":{"RestartPolicy":{"Name":"always"}}}`,
			f.started.Format(time.RFC3339Nano))
	case "/events":
		f.mu.Lock()
		f.sinces = append(f.sinces, r.URL.Query().Get("since"))
		n := len(f.sinces)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if n <= f.breaks {
			fmt.Fprintf(w, "%s\n", ev("start", f.started, ""))
			fmt.Fprint(w, `{"Action":"di`)
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
			return
		}
		for _, e := range f.replay {
			fmt.Fprintf(w, "%s\n", e)
		}
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the stream stays open, as the engine's does
	default:
		http.NotFound(w, r)
	}
}

func ev(action string, t time.Time, code string) string {
	attrs := ""
	if code != "" {
		attrs = fmt.Sprintf(`,"Actor":{"Attributes":{"exitCode":%q}}`, code)
	}
	return fmt.Sprintf(`{"Action":%q,"timeNano":%d%s}`, action, t.UnixNano(), attrs)
}

// fakeWait runs a Podman engine's Wait against f.
func fakeWait(t *testing.T, f *eventsEngine) (int, error) {
	t.Helper()
	path := unixSocket(t)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l, f)
	e, err := newEngine(&netDialer{network: "unix", addr: path}, unixEndpoint(path, "test"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.podman = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e.Wait(ctx, "c")
}

// A die that came while the event stream was broken is found in the next
// stream's replay, even though the restart policy has started the
// container again since (the inspection shows a running container, and
// the next die would be another run's).
func TestWaitSeesTheExitWhileTheStreamWasBroken(t *testing.T) {
	t.Parallel()
	started := time.Now().Add(-time.Minute).Truncate(time.Second).Add(300 * time.Millisecond)
	f := &eventsEngine{started: started, breaks: 3, replay: []string{
		ev("die", started.Add(-200*time.Millisecond), "9"), // a run before this one, in the same second
		ev("start", started, ""),
		ev("die", started.Add(2*time.Second), "3"),
		ev("start", started.Add(2100*time.Millisecond), ""),
		ev("die", started.Add(4*time.Second), "4"),
	}}
	code, err := fakeWait(t, f)
	if err != nil || code != 3 {
		t.Fatalf("Wait = %d, %v; want 3, the exit of the run that was inspected", code, err)
	}
	want := strconv.FormatInt(started.Unix(), 10)
	if len(f.sinces) != f.breaks+1 {
		t.Errorf("%d event streams opened, want %d", len(f.sinces), f.breaks+1)
	}
	for i, s := range f.sinces {
		if s != want {
			t.Errorf("stream %d asked for the events since %s, want %s (the inspected start)", i+1, s, want)
		}
	}
}

// A stream that keeps breaking is an error, not a wait for ever.
func TestWaitGivesUpOnAStreamThatKeepsBreaking(t *testing.T) {
	// Not parallel: it shortens the backoff between streams, which it
	// waits for waitReconnects times, while no other test runs.
	defer func(d, m time.Duration) { waitRetryDelay, waitRetryMaxDelay = d, m }(waitRetryDelay, waitRetryMaxDelay)
	waitRetryDelay, waitRetryMaxDelay = 5*time.Millisecond, 100*time.Millisecond
	f := &eventsEngine{started: time.Now().Add(-time.Minute), breaks: 1000}
	code, err := fakeWait(t, f)
	if err == nil || code != -1 {
		t.Fatalf("Wait = %d, %v; want an error", code, err)
	}
	want := fmt.Sprintf("the stream ended %d times", waitReconnects+1)
	if !strings.Contains(err.Error(), "wait for container c: events:") || !strings.Contains(err.Error(), want) {
		t.Errorf("error %q: want it to name container c and say %q", err, want)
	}
	if len(f.sinces) != waitReconnects+1 {
		t.Errorf("%d event streams opened, want %d", len(f.sinces), waitReconnects+1)
	}
}
