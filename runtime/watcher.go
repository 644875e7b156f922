package runtime

import (
	"fmt"
	"os"
	"sync"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/engines"
	"github.com/composegen/composegen/runtime/internal/lock"
	"github.com/composegen/composegen/runtime/internal/reap"
)

// A watcher (package reap) is this binary re-executed as a small detached
// process that removes the resources of the process it watches when that
// process ends, however it ends. It is started once per process, at its
// first stack (and once per shared stack, see shared.go).
// COMPOSEGEN_NO_WATCHER=1 disables it (the reaper of the next start removes
// the leftovers then).

// watcherHooks is what a watcher does with this machine's files: the lock
// directory of each project it removed, then the private directories of
// dead owners.
var watcherHooks = reap.Hooks{Gone: lock.RemoveProjectDir, Sweep: reapPrivateDirs}

// init turns the process into a watcher when it was spawned as one, as
// soon as the engine it needs is linked: the engines of this module
// (Docker, Podman) are registered before this package is initialised, one
// of another module (Kubernetes) may be registered after it, from its own
// package's init.
func init() {
	v := os.Getenv(reap.WatcherEnv)
	if v == "" {
		return
	}
	spec, err := reap.ParseSpec(v)
	if err != nil {
		os.Exit(2)
	}
	name := engines.Name(spec.Engine)
	if _, ok := engine.Lookup(name); ok {
		os.Exit(reap.Watch(spec, watcherHooks))
	}
	engine.OnRegister(func(registered string) {
		if registered == name {
			os.Exit(reap.Watch(spec, watcherHooks))
		}
	})
}

// exitIfWatcher ends a watcher process whose engine was never registered
// (it cannot happen: the watched process opened that engine in the same
// binary) before it would run the tests.
func exitIfWatcher() {
	if os.Getenv(reap.WatcherEnv) != "" {
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
		if _, err := reap.Spawn(reap.SelfSpec(engineName), true); err != nil {
			fmt.Fprintf(os.Stderr, "composegen: no watcher (%v): if this process is killed, its stacks are removed by the next start\n", err)
		}
	})
}
