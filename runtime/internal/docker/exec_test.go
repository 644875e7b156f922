package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// execEngine is a fake engine for Exec: the exec's output is one frame,
// then the stream ends (or hangs, with hang); inspect answers with
// inspect(n) for the n-th inspection of the exec, and the container
// state is containerRunning.
type execEngine struct {
	hang             bool
	silentStart      bool // the start is never answered
	inspect          func(n int) (status int, body string)
	containerRunning bool
	polls            atomic.Int32
}

func (f *execEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/containers/c/exec":
		fmt.Fprint(w, `{"Id":"e1"}`)
	case r.URL.Path == "/exec/e1/start":
		f.start(w)
	case r.URL.Path == "/exec/e1/json":
		code, body := f.inspect(int(f.polls.Add(1)))
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	case r.URL.Path == "/containers/c/json":
		fmt.Fprintf(w, `{"State":{"Status":"running","Running":%v}}`, f.containerRunning)
	default:
		http.NotFound(w, r)
	}
}

func (f *execEngine) start(w http.ResponseWriter) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	if f.silentStart {
		_, _ = conn.Read(make([]byte, 1)) // until the client closes
		return
	}
	buf.WriteString("HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	buf.Write(frame(1, "hello\n"))
	buf.Flush()
	if f.hang {
		_, _ = conn.Read(make([]byte, 1)) // until the client closes
	}
}

// execRun is what fakeExec saw.
type execRun struct {
	code int
	out  string
	err  error
	took time.Duration
}

// fakeExec runs Exec against f.
func fakeExec(t *testing.T, f *execEngine, timeout time.Duration) execRun {
	path := unixSocket(t)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l, f)
	d := &netDialer{network: "unix", addr: path}
	e, err := newEngine(d, unixEndpoint(path, "test"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out strings.Builder
	start := time.Now()
	code, err := e.Exec(ctx, "c", []string{"probe", "--password", "hunter2"}, &out, nil)
	return execRun{code, out.String(), err, time.Since(start)}
}

func TestExecExitCodeLags(t *testing.T) {
	t.Parallel()
	f := &execEngine{containerRunning: true, inspect: func(n int) (int, string) {
		if n < 4 {
			return 200, `{"Running":true,"ExitCode":0}`
		}
		return 200, `{"Running":false,"ExitCode":3}`
	}}
	r := fakeExec(t, f, 30*time.Second)
	code, out, err := r.code, r.out, r.err
	if code != 3 || err != nil || out != "hello\n" {
		t.Errorf("Exec = %d, %q, %v; want 3 once the engine reports the exit", code, out, err)
	}
}

func TestExecUnknownExitCode(t *testing.T) {
	// Not parallel with other top-level tests: it shortens execSettle (the
	// "still running" case waits for all of it) until its subtests end.
	old := execSettle
	t.Cleanup(func() { execSettle = old })
	execSettle = 500 * time.Millisecond
	for _, tt := range []struct {
		name    string
		running bool // the container
		inspect func(int) (int, string)
		within  time.Duration
		want    string
	}{
		{"exit code null", true, func(int) (int, string) { return 200, `{"Running":false,"ExitCode":null}` },
			5 * time.Second, "the engine does not know the exit code"},
		{"exec forgotten", true, func(int) (int, string) { return 404, `{"message":"no such exec"}` },
			5 * time.Second, "the exec is gone (its container was restarted or removed under it)"},
		{"container stopped", false, func(int) (int, string) { return 200, `{"Running":true,"ExitCode":0}` },
			3 * time.Second, "the container stopped under the exec"},
		{"still running", true, func(int) (int, string) { return 200, `{"Running":true,"ExitCode":0}` },
			execSettle + 3*time.Second, "the exec closed its output but still runs after 500ms"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := fakeExec(t, &execEngine{containerRunning: tt.running, inspect: tt.inspect}, time.Minute)
			code, err, took := r.code, r.err, r.took
			if err == nil || code == 0 || !errors.Is(err, errExecUnknown) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Exec = %d, %v; want an error saying %q", code, err, tt.want)
			}
			if took > tt.within {
				t.Errorf("Exec took %v; want at most %v", took, tt.within)
			}
			if err != nil && (strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "exec probe in container c")) {
				t.Errorf("error %q should name the program and never its arguments", err)
			}
		})
	}
}

func TestExecContextEndsStream(t *testing.T) {
	t.Parallel()
	f := &execEngine{hang: true, inspect: func(int) (int, string) { return 200, `{"Running":false,"ExitCode":0}` }}
	r := fakeExec(t, f, 500*time.Millisecond)
	code, out, err, took := r.code, r.out, r.err, r.took
	if !errors.Is(err, context.DeadlineExceeded) || code == 0 {
		t.Errorf("Exec = %d, %v; want the context's error", code, err)
	}
	if out != "hello\n" {
		t.Errorf("output before the context ended = %q", out)
	}
	if took > 3*time.Second {
		t.Errorf("Exec returned %v after its context ended", took-500*time.Millisecond)
	}
}

// TestExecStartNeverAnswered: a connection on which the engine never
// answers the exec's start (over ssh://, a session whose remote end
// hangs) fails the exec with an error that says so, within the bound,
// although the exec's context has no deadline then.
func TestExecStartNeverAnswered(t *testing.T) {
	// Not parallel with other top-level tests: it shortens upgradeTimeout.
	old := upgradeTimeout
	t.Cleanup(func() { upgradeTimeout = old })
	upgradeTimeout = 300 * time.Millisecond
	f := &execEngine{silentStart: true, inspect: func(int) (int, string) { return 200, `{"Running":false,"ExitCode":0}` }}
	r := fakeExec(t, f, time.Minute)
	if r.err == nil || r.code == 0 || errors.Is(r.err, context.DeadlineExceeded) ||
		!strings.Contains(r.err.Error(), "exec probe in container c: the engine did not answer the start of the exec within 300ms") {
		t.Errorf("Exec = %d, %v; want an error saying the start was not answered within 300ms", r.code, r.err)
	}
}

// countingDialer counts the connections it opens.
type countingDialer struct {
	dialer
	n atomic.Int32
}

func (d *countingDialer) DialContext(ctx context.Context) (net.Conn, error) {
	d.n.Add(1)
	return d.dialer.DialContext(ctx)
}

// TestConnectionsAreReused checks that sequential calls share one
// connection (each new one costs a TLS handshake or an ssh session).
func TestConnectionsAreReused(t *testing.T) {
	t.Parallel()
	path := unixSocket(t)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/containers/gone/json" {
			w.WriteHeader(404)
			fmt.Fprintln(w, `{"message":"No such container: gone"}`)
			return
		}
		fmt.Fprintln(w, `{"State":{"Status":"running","Running":true}}`) // a newline after the JSON, as engines send
	}))
	d := &countingDialer{dialer: &netDialer{network: "unix", addr: path}}
	e, err := newEngine(d, unixEndpoint(path, "test"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for range 20 {
		if _, err := e.Inspect(context.Background(), "c"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Inspect(context.Background(), "gone"); err == nil {
			t.Fatal("no error for an absent container")
		}
	}
	if n := d.n.Load(); n != 1 {
		t.Errorf("40 sequential calls opened %d connections; want 1", n)
	}
}
