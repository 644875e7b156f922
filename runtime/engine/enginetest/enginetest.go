// Package enginetest is the conformance suite of engine.Engine: Run
// exercises every method against real containers, and every engine
// (Docker, Podman, Kubernetes) runs it from its own tests.
//
//	func TestConformance(t *testing.T) {
//		eng := openOrSkip(t)
//		enginetest.Run(t, eng, enginetest.Without(enginetest.Pause))
//	}
//
// Every resource the suite creates carries a label unique to the run and
// is removed when the test ends; the suite asserts only on its own
// resources, so it runs next to other tests that use the same engine.
// The subtests run in parallel.
package enginetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

// Feature is something an engine may be unable to do; Without turns its
// checks off: the cases that need it skip (saying so), and the checks
// within other cases that need it are left out (ExecWhilePausedFails,
// Pid) or made the way the engine does it (LogStreams). The engine's
// tests say why each one is off; the Kubernetes engine, for example,
// runs without Pause, Build, Pull, SharedNamespaces, SharedVolumes,
// LogStreams and Pid (see its package documentation).
type Feature string

// The features that Without can turn off.
const (
	// Pause is Pause and Unpause.
	Pause Feature = "pause"
	// Build is Build.
	Build Feature = "build"
	// RestartPolicy is a container's restart policy.
	RestartPolicy Feature = "restart-policy"
	// Signals is Kill with a signal other than SIGKILL, and StopSignal.
	Signals Feature = "signals"
	// Tty is a container with a tty.
	Tty Feature = "tty"
	// MultipleNetworks is a container attached to several networks.
	MultipleNetworks Feature = "multiple-networks"
	// ExecWhilePausedFails is the engine refusing an exec in a paused
	// container.
	ExecWhilePausedFails Feature = "exec-while-paused-fails"
	// Images is Image of an image the engine has (WithImage's).
	Images Feature = "images"
	// Pull is Pull (the suite checks that a pull of a missing image fails
	// at once).
	Pull Feature = "pull"
	// StopStart is Start of a container that Stop stopped.
	StopStart Feature = "stop-start"
	// SharedNamespaces is a container that joins another's network, pid
	// and ipc namespaces ("container:<id>").
	SharedNamespaces Feature = "shared-namespaces"
	// SharedVolumes is a named volume that a second container mounts
	// after the first one wrote to it.
	SharedVolumes Feature = "shared-volumes"
	// LogStreams is Logs keeping a container's stdout and stderr apart.
	// Without it the suite expects both streams, in order, on stdout.
	LogStreams Feature = "log-streams"
	// Pid is State.Pid of a running container (a process id on the
	// engine's machine).
	Pid Feature = "pid"
)

// Option configures Run.
type Option func(*config)

type config struct {
	image        string
	missingImage string
	without      map[Feature]bool
	removeImage  func(ctx context.Context, ref string) error
	timeout      time.Duration
}

// WithImage names the image the containers run (default busybox:latest).
// It must be present on the engine and have busybox's applets: sh, sleep,
// echo, cat, httpd, wget, head, id, hostname.
func WithImage(ref string) Option { return func(c *config) { c.image = ref } }

// WithMissingImage names an image that the engine does not have and cannot
// pull (default registry.invalid/composegen/enginetest:absent).
func WithMissingImage(ref string) Option { return func(c *config) { c.missingImage = ref } }

// Without turns off the checks of features the engine cannot do.
func Without(f ...Feature) Option {
	return func(c *config) {
		for _, x := range f {
			c.without[x] = true
		}
	}
}

// WithImageRemover gives the suite a way to remove the images it builds
// (the Engine interface has none); without it they stay on the engine.
func WithImageRemover(remove func(ctx context.Context, ref string) error) Option {
	return func(c *config) { c.removeImage = remove }
}

// WithTimeout bounds each subtest (default 2 minutes).
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Label is the label key that marks the suite's resources; its value is
// unique to each Run.
const Label = "io.composegen.enginetest.run"

// suite is one Run.
type suite struct {
	eng     engine.Engine
	cfg     config
	runID   string // unique id of the run
	project string
	labels  map[string]string

	builtMu sync.Mutex
	built   map[string]bool // the IDs of the images the run built
}

// Run runs the conformance suite against eng.
func Run(t *testing.T, eng engine.Engine, opts ...Option) {
	cfg := config{
		image:        "busybox:latest",
		missingImage: "registry.invalid/composegen/enginetest:absent",
		without:      map[Feature]bool{},
		timeout:      2 * time.Minute,
	}
	for _, o := range opts {
		o(&cfg)
	}
	s := &suite{eng: eng, cfg: cfg, runID: randomID()}
	s.project = "enginetest-" + s.runID
	s.labels = map[string]string{Label: s.runID}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	t.Logf("the run's resources carry the label %s=%s", Label, s.runID)
	if err := eng.CreateProject(ctx, s.project, s.labels); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	t.Cleanup(func() { s.removeAll(t) })
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.needs != "" && cfg.without[c.needs] {
				t.Skipf("the engine cannot do %s (Without)", c.needs)
			}
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
			defer cancel()
			c.fn(ctx, t, s)
		})
	}
}

// testCase is one subtest; needs names the feature it exercises ("" for
// the core every engine has).
type testCase struct {
	name  string
	needs Feature
	fn    func(ctx context.Context, t *testing.T, s *suite)
}

// cases are filled in by the files of this package.
var cases []testCase

func register(name string, needs Feature, fn func(ctx context.Context, t *testing.T, s *suite)) {
	cases = append(cases, testCase{name, needs, fn})
}

func randomID() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// removeAll removes everything of the run and checks that nothing is
// left.
func (s *suite) removeAll(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	left, err := s.eng.List(ctx, s.labels)
	if err != nil {
		t.Errorf("cleanup: List: %v", err)
		return
	}
	// Containers first: networks and volumes in use cannot go.
	for _, kinds := range [][]string{{engine.KindContainer}, {engine.KindNetwork, engine.KindVolume}, {engine.KindProject}} {
		removeKinds(ctx, t, s.eng, left, kinds)
	}
	if left, err = s.eng.List(ctx, s.labels); err != nil || len(left) > 0 {
		t.Errorf("cleanup: after removing everything, List = %v, %v; want nothing", describe(left), err)
	}
}

func removeKinds(ctx context.Context, t *testing.T, eng engine.Engine, rs []engine.Resource, kinds []string) {
	var wg sync.WaitGroup
	for _, r := range rs {
		for _, k := range kinds {
			if r.Kind == k {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := eng.Remove(ctx, r); err != nil {
						t.Errorf("cleanup: Remove %s %s: %v", r.Kind, r.Name, err)
					}
				}()
			}
		}
	}
	wg.Wait()
}

func describe(rs []engine.Resource) string {
	var parts []string
	for _, r := range rs {
		parts = append(parts, r.Kind+" "+r.Name)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// labelsFor returns the run's labels plus the test's name.
func (s *suite) labelsFor(t *testing.T) map[string]string {
	return map[string]string{Label: s.runID, "io.composegen.enginetest.test": t.Name()}
}

// name returns a resource name unique to the run.
func (s *suite) name(t *testing.T, suffix string) string {
	n := strings.ToLower(t.Name())
	n = n[strings.LastIndexByte(n, '/')+1:]
	n = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, n)
	if suffix != "" {
		n += "-" + suffix
	}
	return s.project + "-" + n
}

// spec returns a container spec of the suite's image running cmd.
func (s *suite) spec(t *testing.T, suffix string, cmd ...string) engine.ContainerSpec {
	return engine.ContainerSpec{
		Name: s.name(t, suffix) + "-1", Project: s.project, Service: "svc", Number: 1,
		Image: s.cfg.image, Cmd: cmd, Labels: s.labelsFor(t),
	}
}

// create creates a container and removes it at the end of the test.
func (s *suite) create(ctx context.Context, t *testing.T, spec engine.ContainerSpec) string {
	t.Helper()
	id, err := s.eng.Create(ctx, spec)
	if err != nil {
		t.Fatalf("Create %s: %v", spec.Name, err)
	}
	s.cleanup(t, engine.Resource{Kind: engine.KindContainer, ID: id, Name: spec.Name})
	return id
}

// run creates and starts a container.
func (s *suite) run(ctx context.Context, t *testing.T, spec engine.ContainerSpec) string {
	t.Helper()
	id := s.create(ctx, t, spec)
	if err := s.eng.Start(ctx, id); err != nil {
		t.Fatalf("Start %s: %v", spec.Name, err)
	}
	return id
}

// network creates a network of the test.
func (s *suite) network(ctx context.Context, t *testing.T, suffix string) string {
	t.Helper()
	name, err := s.eng.CreateNetwork(ctx, engine.NetworkSpec{Name: s.name(t, suffix), Project: s.project, Labels: s.labelsFor(t)})
	if err != nil {
		t.Fatalf("CreateNetwork: %v", err)
	}
	s.cleanup(t, engine.Resource{Kind: engine.KindNetwork, ID: name, Name: name})
	return name
}

// cleanup removes r when the test ends (the run's final sweep catches
// anything this misses).
func (s *suite) cleanup(t *testing.T, r engine.Resource) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.eng.Remove(ctx, r); err != nil {
			t.Errorf("Remove %s %s: %v", r.Kind, r.Name, err)
		}
	})
}

// exec runs cmd and fails the test on an error.
func (s *suite) exec(ctx context.Context, t *testing.T, id string, cmd ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb strings.Builder
	code, err := s.eng.Exec(ctx, id, cmd, &out, &errb)
	if err != nil {
		t.Fatalf("Exec %q: %v", cmd, err)
	}
	return code, out.String(), errb.String()
}

// logs returns the container's whole output.
func (s *suite) logs(ctx context.Context, t *testing.T, id string, opts engine.LogOptions) (stdout, stderr string) {
	t.Helper()
	var out, errb syncBuilder
	if err := s.eng.Logs(ctx, id, opts, &out, &errb); err != nil {
		t.Fatalf("Logs: %v", err)
	}
	return out.String(), errb.String()
}

// eventually polls cond every 50ms until it holds or d passes.
func eventually(ctx context.Context, d time.Duration, cond func() bool) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return cond()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitRunning waits until the container runs.
func (s *suite) waitRunning(ctx context.Context, t *testing.T, id string) engine.State {
	t.Helper()
	var st engine.State
	var err error
	if !eventually(ctx, 30*time.Second, func() bool {
		st, err = s.eng.Inspect(ctx, id)
		return err == nil && st.Running
	}) {
		t.Fatalf("container did not run within 30s: %+v, %v", st, err)
	}
	return st
}

// syncBuilder is a strings.Builder safe for concurrent use (Logs with
// Follow writes while the test reads).
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncBuilder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncBuilder) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// notFound checks that err wraps engine.ErrNotFound.
func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("%s: error %v; want one wrapping engine.ErrNotFound", what, err)
	}
}
