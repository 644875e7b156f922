package runtime

import (
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/composegen/composegen/runtime/internal/lock"
	"github.com/composegen/composegen/runtime/internal/owner"
)

// A watcher is this binary re-executed as a small detached process that
// outlives the process it watches: when that process ends, however it ends
// (a panic in a parallel test, go test's -timeout, SIGKILL), the watcher
// removes the resources labelled as that process's and exits. No helper
// image is involved, so it works where Ryuk cannot be pulled.
//
// It is started once per process, at its first stack. It reads the pipe it
// gets as stdin, whose other end only the watched process holds: end of
// file means the process is gone. Its stdout and stderr are /dev/null and it
// runs in a session of its own, so go test never waits for it and a
// terminal's Ctrl-C does not kill it. COMPOSEGEN_NO_WATCHER=1 disables it
// (the reaper of the next start removes the leftovers then).
const watcherEnv = "COMPOSEGEN_WATCHER"

// watchSpec tells a watcher what to watch and what to remove.
type watchSpec struct {
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

// init turns the process into a watcher when it was spawned as one, as
// soon as the engine it needs is linked: the engines of this module
// (Docker, Podman) are registered before this package is initialised, one
// of another module (Kubernetes) may be registered after it, from its own
// package's init.
func init() {
	v := os.Getenv(watcherEnv)
	if v == "" {
		return
	}
	var spec watchSpec
	if err := json.Unmarshal([]byte(v), &spec); err != nil {
		os.Exit(2)
	}
	name := engines.Name(spec.Engine)
	if _, ok := engine.Lookup(name); ok {
		os.Exit(runWatcher(v))
	}
	engine.OnRegister(func(registered string) {
		if registered == name {
			os.Exit(runWatcher(v))
		}
	})
}

// exitIfWatcher ends a watcher process whose engine was never registered
// (it cannot happen: the watched process opened that engine in the same
// binary) before it would run the tests.
func exitIfWatcher() {
	if os.Getenv(watcherEnv) != "" {
		os.Exit(2)
	}
}

var watcherOnce sync.Map // engine name → *sync.Once

// startProcessWatcher makes sure a watcher removes this process's
// resources on the engine when the process ends.
func startProcessWatcher(engineName string) {
	if os.Getenv("COMPOSEGEN_NO_WATCHER") != "" {
		return
	}
	once, _ := watcherOnce.LoadOrStore(engines.Name(engineName), &sync.Once{})
	once.(*sync.Once).Do(func() {
		me := owner.Self()
		spec := watchSpec{Engine: engineName, Labels: map[string]string{
			label.Managed: "true", owner.LabelHost: me.Host, owner.LabelBoot: me.Boot,
			owner.LabelPidNS: me.PidNS, owner.LabelPid: strconv.Itoa(me.Pid), owner.LabelStart: me.Start,
		}}
		if _, err := spawnWatcher(spec, true); err != nil {
			fmt.Fprintf(os.Stderr, "composegen: no watcher (%v): if this process is killed, its stacks are removed by the next start\n", err)
		}
	})
}

// holdPipes keeps the write ends of the watchers' stdin pipes open for the
// life of the process.
var holdPipes []*os.File

var holdMu sync.Mutex

// spawnWatcher starts a detached watcher and returns its pid. With byPipe
// it watches this process through a pipe; otherwise spec.Pid.
func spawnWatcher(spec watchSpec, byPipe bool) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), watcherEnv+"="+string(b))
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

// runWatcher is the watcher process's main.
func runWatcher(arg string) int {
	var spec watchSpec
	if err := json.Unmarshal([]byte(arg), &spec); err != nil || len(spec.Labels) == 0 {
		return 2
	}
	if spec.Pid > 0 {
		id := owner.Self()
		id.Pid, id.Start = spec.Pid, spec.Start
		for owner.Judge(id) != owner.Dead {
			time.Sleep(250 * time.Millisecond)
		}
	} else {
		_, _ = io.Copy(io.Discard, os.Stdin) // returns at end of file
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	eng, err := engines.Open(ctx, spec.Engine)
	if err != nil {
		return 1
	}
	removeUnkept(ctx, eng, spec.Labels)
	// A create request that the watched process sent just before it died
	// may still complete in the engine after the listing: look again.
	for _, d := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second} {
		time.Sleep(d)
		removeUnkept(ctx, eng, spec.Labels)
	}
	for _, p := range spec.Paths {
		_ = os.RemoveAll(p)
	}
	reapPrivateDirs()
	return 0
}

// removeUnkept removes what carries labels, except the projects that are
// marked as kept (WithKeepOnFailure, reuse).
func removeUnkept(ctx context.Context, eng engine.Engine, labels map[string]string) {
	list, err := eng.List(ctx, labels)
	if err != nil {
		return
	}
	kept := map[string]bool{}
	for _, v := range judgeProjects(list) {
		if v.Kept != "" {
			kept[v.Project] = true
		}
	}
	removed, _ := removeLabelled(ctx, eng, labels, nil, func(r engine.Resource) bool {
		return kept[r.Labels[label.Project]]
	})
	for _, r := range removed {
		lock.RemoveProjectDir(r.Labels[label.Project])
	}
}
