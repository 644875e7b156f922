package docker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// pauseEngine is a fake engine whose first fails pauses fail the way runc's
// cgroup v1 freezer does under load.
type pauseEngine struct {
	fails  int32
	pauses atomic.Int32
	paused atomic.Bool
}

func (f *pauseEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/containers/c/pause":
		if f.pauses.Add(1) <= f.fails {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"message":"Cannot pause container c: OCI runtime pause failed: unable to freeze: unknown"}`)
			return
		}
		f.paused.Store(true)
		w.WriteHeader(http.StatusNoContent)
	case "/containers/c/json":
		fmt.Fprintf(w, `{"State":{"Status":"running","Running":true,"Paused":%v}}`, f.paused.Load())
	default:
		http.NotFound(w, r)
	}
}

func fakePauseEngine(t *testing.T, f *pauseEngine) *Engine {
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
	t.Cleanup(func() { e.Close() })
	return e
}

// TestPauseRetriesAFailedFreeze: runc gives up freezing a container whose
// processes fork on a loaded host, and thaws it back; Pause tries again,
// a bounded number of times, and then says what failed.
func TestPauseRetriesAFailedFreeze(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	f := &pauseEngine{fails: 2}
	if err := fakePauseEngine(t, f).Pause(ctx, "c"); err != nil {
		t.Errorf("Pause after two failed freezes: %v; want nil", err)
	}
	if n := f.pauses.Load(); n != 3 {
		t.Errorf("Pause asked the engine %d times; want 3", n)
	}

	f = &pauseEngine{fails: 1000}
	err := fakePauseEngine(t, f).Pause(ctx, "c")
	if err == nil || !strings.Contains(err.Error(), "pause container c: Cannot pause container c: OCI runtime pause failed: unable to freeze") {
		t.Errorf("Pause that never freezes: %v; want the engine's error", err)
	}
	if n := f.pauses.Load(); n != pauseTries {
		t.Errorf("Pause that never freezes asked the engine %d times; want %d", n, pauseTries)
	}
}
