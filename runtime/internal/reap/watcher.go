package reap

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/engines"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/owner"
)

// A watcher is this binary re-executed as a small detached process that
// outlives the process it watches: when that process ends, however it ends
// (a panic in a parallel test, go test's -timeout, SIGKILL), the watcher
// removes the resources labelled as that process's and exits. No helper
// image is involved, so it works where Ryuk cannot be pulled.
//
// It reads the pipe it gets as stdin, whose other end only the watched
// process holds: end of file means the process is gone. Its stdout and
// stderr are /dev/null and it runs in a session of its own, so go test never
// waits for it and a terminal's Ctrl-C does not kill it.

// WatcherEnv is the environment variable that carries a watcher's Spec (as
// JSON): a process started with it set is a watcher, and the binary's init
// must run Watch instead of its main.
const WatcherEnv = "COMPOSEGEN_WATCHER"

// Spec tells a watcher what to watch and what to remove.
type Spec struct {
	// Engine names the engine (the watcher inherits the environment that
	// selected it).
	Engine string `json:"engine"`
	// Pid and Start identify the watched process when it is not our
	// parent (shared stacks watch the go command); 0 means stdin's end of
	// file.
	Pid   int    `json:"pid,omitempty"`
	Start string `json:"start,omitempty"`
	// Labels select what to remove.
	Labels map[string]string `json:"labels"`
	// Paths are files and directories of this machine to remove after
	// the resources (a shared stack's lock files).
	Paths []string `json:"paths,omitempty"`
}

// SelfSpec is the Spec of a watcher of this process: it removes, on the
// named engine, the managed resources whose owner labels name this process.
func SelfSpec(engineName string) Spec {
	me := owner.Self()
	return Spec{Engine: engineName, Labels: map[string]string{
		label.Managed: "true", owner.LabelHost: me.Host, owner.LabelBoot: me.Boot,
		owner.LabelPidNS: me.PidNS, owner.LabelPid: strconv.Itoa(me.Pid), owner.LabelStart: me.Start,
	}}
}

// ParseSpec reads the value of WatcherEnv.
func ParseSpec(v string) (Spec, error) {
	var spec Spec
	if err := json.Unmarshal([]byte(v), &spec); err != nil {
		return Spec{}, err
	}
	if len(spec.Labels) == 0 {
		return Spec{}, errors.New("watcher spec selects nothing (no labels)")
	}
	return spec, nil
}

// holdPipes keeps the write ends of the watchers' stdin pipes open for the
// life of the process.
var (
	holdMu    sync.Mutex
	holdPipes []*os.File
)

// Spawn starts this binary as a detached watcher of spec and returns its
// pid. With byPipe it watches this process through a pipe; otherwise
// spec.Pid.
func Spawn(spec Spec, byPipe bool) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), WatcherEnv+"="+string(b))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if byPipe {
		r, w, err := os.Pipe()
		if err != nil {
			return 0, err
		}
		cmd.Stdin = r
		defer r.Close()
		holdMu.Lock()
		holdPipes = append(holdPipes, w)
		holdMu.Unlock()
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	go func() { _ = cmd.Wait() }() // reap it if it ends first
	return cmd.Process.Pid, nil
}

// Watch is a watcher process's main: it waits for the watched process to
// end, removes what spec selects except kept projects (calling h.Gone for
// each project it removed resources of), then spec.Paths, then calls
// h.Sweep. It returns the process's exit code.
func Watch(spec Spec, h Hooks) int {
	return watch(spec, os.Stdin, h)
}

// rechecks are the pauses after which a watcher lists again: a create
// request that the watched process sent just before it died may still
// complete in the engine after the first listing.
var rechecks = []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}

func watch(spec Spec, stdin io.Reader, h Hooks) int {
	if spec.Pid > 0 {
		id := owner.Self()
		id.Pid, id.Start = spec.Pid, spec.Start
		for owner.Judge(id) != owner.Dead {
			time.Sleep(250 * time.Millisecond)
		}
	} else {
		_, _ = io.Copy(io.Discard, stdin) // returns at end of file
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eng, err := engines.Open(ctx, spec.Engine)
	if err != nil {
		return 1
	}
	removeUnkept(ctx, eng, spec.Labels, h)
	for _, d := range rechecks {
		time.Sleep(d)
		removeUnkept(ctx, eng, spec.Labels, h)
	}
	for _, p := range spec.Paths {
		_ = os.RemoveAll(p)
	}
	h.sweep()
	return 0
}

// removeUnkept removes what carries labels, except the projects that are
// marked as kept (WithKeepOnFailure, reuse).
func removeUnkept(ctx context.Context, eng engine.Engine, labels map[string]string, h Hooks) {
	list, err := eng.List(ctx, labels)
	if err != nil {
		return
	}
	kept := map[string]bool{}
	for _, v := range judge(list) {
		if v.Kept != "" {
			kept[v.Project] = true
		}
	}
	removed, _ := Remove(ctx, eng, labels, nil, func(r engine.Resource) bool {
		return kept[r.Labels[label.Project]]
	})
	for _, r := range removed {
		h.gone(r.Labels[label.Project])
	}
}
