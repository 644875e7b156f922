// Package engines opens the container engine a stack runs on: Docker (which
// also finds Podman's sockets) unless COMPOSEGEN_ENGINE or WithEngine names
// another one registered with package engine.
package engines

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/docker"
)

func init() {
	engine.Register("docker", docker.Open)
}

// Engines are connected once per process and name; a failed attempt is not
// cached, so a test binary recovers when the engine comes up later.
var engines struct {
	sync.Mutex
	m map[string]engine.Engine
}

// Name returns the engine name to use: name, else COMPOSEGEN_ENGINE, else
// "docker".
func Name(name string) string {
	if name == "" {
		name = os.Getenv("COMPOSEGEN_ENGINE")
	}
	if name == "" || name == "podman" {
		name = "docker"
	}
	return name
}

// ErrUnavailable is wrapped by the error of Open when the engine does not
// answer (as opposed to an engine that is not linked in).
var ErrUnavailable = errors.New("no container engine answered")

// Open returns the engine named name (see Name).
func Open(ctx context.Context, name string) (engine.Engine, error) {
	name = Name(name)
	engines.Lock()
	defer engines.Unlock()
	if e := engines.m[name]; e != nil {
		return e, nil
	}
	open, ok := engine.Lookup(name)
	if !ok {
		hint := ""
		if name == "kubernetes" {
			hint = ": regenerate the fixtures with `composegen -engine kubernetes` (it links github.com/composegen/composegen/kube into the test binary)"
		}
		return nil, fmt.Errorf("engine %q is not linked into this binary (linked: %s)%s", name, strings.Join(engine.Names(), ", "), hint)
	}
	e, err := open(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if engines.m == nil {
		engines.m = map[string]engine.Engine{}
	}
	engines.m[name] = e
	return e, nil
}
