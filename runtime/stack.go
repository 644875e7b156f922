package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	goruntime "runtime"
	"strings"
	"sync"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/diag"
	"github.com/composegen/composegen/runtime/internal/engines"
	"github.com/composegen/composegen/runtime/internal/interp"
	"github.com/composegen/composegen/runtime/internal/mask"
	"github.com/composegen/composegen/runtime/internal/owner"
	"github.com/composegen/composegen/runtime/internal/reap"
)

// Stack is a running stack instance: a unique project name, its own
// networks and volumes, and the containers of its services.
type Stack struct {
	plan    *composeplan.Plan
	cfg     config
	eng     engine.Engine
	info    engine.Info
	project string
	dir     string // absolute project directory
	res     *interp.Resolver
	mask    *mask.Masker
	t0      time.Time
	tNets   time.Time  // its networks and volumes exist (set once, by up)
	gate    *startGate // bounds the process's starts on this engine (nil: none)
	adm     *admission // the stack's place at gate (set once, by startAll)
	owner   owner.ID
	created time.Time
	// othersReady is closed when every replica of the services that are
	// not unclassified is ready (set once, by startAll).
	othersReady chan struct{}

	// life is cancelled by Down; it bounds the exit watchers.
	life   context.Context
	cancel context.CancelFunc

	units    map[string]*unit // by compose service name
	order    []*unit          // plan order
	networks map[string]string
	volumes  map[string]string

	// shared is set on a stack from Shared, which no test tears down.
	shared bool
	// sharedKey is the key of a shared stack (hex sha256).
	sharedKey string
	// diagOnce logs a shared stack's diagnostics once per process.
	diagOnce sync.Once

	tmpOnce sync.Once
	tmpDir  string // 0700 directory for secrets and configs written at start
	tmpErr  error

	downOnce sync.Once
	downErr  error
}

// Up starts the plan's services (those of the active profiles, or those
// named with WithServices and their dependencies), each as soon as its
// depends_on conditions allow, and returns when every one is ready. On error
// nothing is left behind (unless WithKeepOnFailure) and the error names the
// service, the cause and its last log lines. A compose file that changed
// since go generate fails the start before anything is created (see
// ErrDrift).
//
// Up registers no cleanup: call Down when done. Start is the form for tests.
func Up(ctx context.Context, plan *composeplan.Plan, opts ...Option) (*Stack, error) {
	exitIfWatcher()
	cfg := newConfig(opts)
	base := callerDir(cfg)
	if err := checkDrift(plan, base, cfg.logf); err != nil {
		return nil, fmt.Errorf("start %s: %w", plan.Name, err)
	}
	s, err := up(ctx, plan, cfg, base)
	if err != nil {
		if s != nil {
			s.failCleanup()
		}
		return nil, err
	}
	return s, nil
}

// Start is Up for tests. Teardown is registered with tb.Cleanup before
// readiness is checked, so nothing leaks however the test ends; when the
// stack cannot start the test fails with the cause and each service's last
// logs, and when the test fails each service's state, last probe outputs and
// logs are logged before teardown.
//
// When no container engine answers, Start skips the test with the reason,
// so that `go test ./...` on a machine without Docker runs the other tests;
// under CI=true it fails it instead.
func Start(tb TB, plan *composeplan.Plan, opts ...Option) *Stack {
	exitIfWatcher()
	tb.Helper()
	cfg := newConfig(opts)
	if cfg.logf == nil {
		cfg.logf = tb.Logf
	}
	base := callerDir(cfg)
	if err := checkDrift(plan, base, cfg.logf); err != nil {
		tb.Fatalf("composegen: start %s: %v", plan.Name, err)
		return nil
	}
	s, err := up(context.Background(), plan, cfg, base)
	if s != nil {
		tb.Cleanup(func() {
			if err == nil && tb.Failed() {
				ctx, cancel := context.WithTimeout(context.Background(), diagnosticsTimeout)
				s.logf("composegen: test failed; state of stack %s:\n%s", s.project, s.Diagnostics(ctx))
				cancel()
			}
			if (err != nil || tb.Failed()) && s.cfg.keepOnFailure {
				s.keep()
				return
			}
			if derr := s.Down(context.Background()); derr != nil {
				tb.Logf("composegen: %v", derr)
			}
		})
	}
	if err != nil {
		if errors.Is(err, engines.ErrUnavailable) && os.Getenv("CI") != "true" {
			tb.Skipf("composegen: %v (skipping; with CI=true this fails the test)", err)
		}
		tb.Fatalf("composegen: %v", err)
	}
	return s
}

func (s *Stack) logf(format string, args ...any) {
	msg := s.mask.String(fmt.Sprintf(format, args...))
	if s.cfg.logf != nil {
		s.cfg.logf("%s", msg)
		return
	}
	fmt.Fprintln(os.Stderr, msg)
}

var runtimePkg = reflect.TypeOf(Stack{}).PkgPath()

// callerDir returns the directory the plan's paths are relative to: the
// WithDir (or COMPOSEGEN_DIR) option, else the directory of the first caller
// outside this package (the generated file). When the binary was built with
// -trimpath the file is not on disk and the working directory is used.
func callerDir(cfg config) string {
	if cfg.dir != "" {
		if abs, err := filepath.Abs(cfg.dir); err == nil {
			return abs
		}
		return cfg.dir
	}
	pcs := make([]uintptr, 16)
	n := goruntime.Callers(3, pcs)
	frames := goruntime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, runtimePkg+".") && f.File != "" {
			if filepath.IsAbs(f.File) {
				if _, err := os.Stat(f.File); err == nil {
					return filepath.Dir(f.File)
				}
			}
			break
		}
		if !more {
			break
		}
	}
	wd, _ := os.Getwd()
	return wd
}

// up does the work of Up. On error it returns the partial stack (nil if
// nothing was created) so that the caller decides whether to keep it. Every
// error it returns is masked.
func up(ctx context.Context, plan *composeplan.Plan, cfg config, base string) (*Stack, error) {
	t0 := time.Now()
	if cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
	}
	m := &mask.Masker{}
	fail := func(s *Stack, err error) (*Stack, error) {
		return s, &startError{msg: m.String(fmt.Sprintf("start %s: %v", plan.Name, err)), err: err}
	}
	eng, err := engines.Open(ctx, cfg.engine)
	if err != nil {
		return fail(nil, err)
	}
	reap.Start(eng, reapHooks)
	startProcessWatcher(cfg.engine)
	dir := filepath.Join(base, filepath.FromSlash(plan.Dir))
	res, err := interp.New(dir, plan.EnvFiles, cfg.env, m)
	if err != nil {
		return fail(nil, err)
	}
	selected, err := selectServices(plan, cfg)
	if err != nil {
		return fail(nil, err)
	}
	gate, err := gateFor(eng.Info(), cfg.maxStarting)
	if err != nil {
		return fail(nil, err)
	}
	s := newStack(plan, cfg, eng, dir, res, m, t0)
	s.gate = gate
	if err := s.buildUnits(selected); err != nil {
		return fail(nil, err)
	}
	register(s)
	ctx, endStart := s.beginStart(ctx) // Down (or a signal) cancels the start
	defer endStart()
	if cfg.resume == nil {
		if err := s.eng.CreateProject(ctx, s.project, s.labels(nil)); err != nil {
			return fail(s, err)
		}
	}
	if err := s.createNetworksAndVolumes(ctx); err != nil {
		return fail(s, err)
	}
	s.tNets = time.Now()
	if cfg.resume != nil {
		if err := s.resumeUnits(ctx); err != nil {
			return fail(s, err)
		}
	}
	if cfg.onStack != nil {
		cfg.onStack(s)
	}
	if err := s.startAll(ctx); err != nil {
		return fail(s, err)
	}
	if s.cfg.verbose {
		s.logf("%s", s.Timeline())
	}
	return s, nil
}

// newStack makes the Stack of one instance of plan, with no units yet.
func newStack(plan *composeplan.Plan, cfg config, eng engine.Engine, dir string, res *interp.Resolver, m *mask.Masker, t0 time.Time) *Stack {
	s := &Stack{
		plan: plan, cfg: cfg, eng: eng, info: eng.Info(), dir: dir, res: res, mask: m, t0: t0,
		project: cfg.projectName, owner: owner.Self(), created: t0,
		units:    map[string]*unit{},
		networks: map[string]string{},
		volumes:  map[string]string{},
	}
	if cfg.owner != nil {
		s.owner = *cfg.owner
	}
	if s.project == "" {
		s.project = instanceName(plan.Name)
	}
	s.life, s.cancel = context.WithCancel(context.Background())
	return s
}

// buildUnits makes one unit per selected service with its replicas, each
// with its resolved environment.
func (s *Stack) buildUnits(selected []*composeplan.ServiceSpec) error {
	for _, spec := range selected {
		n := spec.Replicas
		if v, ok := s.cfg.scale[spec.Name]; ok {
			n = v
		}
		if n < 1 {
			n = 1
		}
		u := newUnit(s, spec)
		for i := 1; i <= n; i++ {
			env, err := s.res.ServiceEnv(s.dir, spec)
			if err != nil {
				return fmt.Errorf("service %q: %w", spec.Name, err)
			}
			u.replicas = append(u.replicas, newReplica(s, u, i, env))
		}
		s.units[spec.Name] = u
		s.order = append(s.order, u)
	}
	for name := range s.cfg.scale {
		if s.units[name] == nil {
			return fmt.Errorf("WithScale: no service %q in this start", name)
		}
	}
	s.classifyUnits()
	return nil
}

// instanceName makes a unique compose project name for one stack instance.
func instanceName(base string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	base = normalizeProjectName(base)
	if base == "" {
		base = "composegen"
	}
	return base + "-" + hex.EncodeToString(b[:])
}

func normalizeProjectName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	return strings.TrimLeft(b.String(), "-_")
}

// Down stops and removes the stack's containers, networks and volumes, all
// in parallel. External volumes and networks are left alone. It is safe to
// call more than once. Without a deadline on ctx it gives up after 30
// seconds, and says so.
//
// On a stack from Shared, Down does nothing and returns an error that wraps
// ErrShared: other tests and test binaries use the stack, which goes when
// the go test run ends (or stays, with WithReuse).
func (s *Stack) Down(ctx context.Context) error {
	if s.shared {
		return fmt.Errorf("down %s: %w", s.project, ErrShared)
	}
	s.downOnce.Do(func() { s.downErr = s.down(ctx) })
	return s.downErr
}

// Service returns the running service named name (its first replica), nil
// if it is not part of this stack instance (not selected, or excluded by
// profiles).
func (s *Stack) Service(name string) *Service {
	if r := s.replica(name); r != nil {
		return r.pub
	}
	return nil
}

// replica returns the first replica of the service named name, nil if it
// is not part of this stack instance.
func (s *Stack) replica(name string) *replica {
	if s == nil {
		return nil
	}
	u := s.units[name]
	if u == nil {
		return nil
	}
	return u.replicas[0]
}

// ProjectName returns the unique project name of this stack instance, the
// value of the com.docker.compose.project label of its resources.
func (s *Stack) ProjectName() string { return s.project }

// Engine returns the name of the engine the stack runs on ("docker",
// "podman", "kubernetes") and its endpoint.
func (s *Stack) Engine() (name, endpoint string) { return s.info.Name, s.info.Endpoint }

// Timeline returns when each container was created, started and ready,
// relative to the start of Up.
func (s *Stack) Timeline() string {
	t := diag.Timeline{Project: s.project, T0: s.t0, Nets: s.tNets}
	if s.adm != nil {
		if w, ok := s.adm.waited(); ok && w > 0 {
			t.Waited, t.Turn = w, s.gate.describe()+", "+maxStartingEnv
		}
	}
	for _, u := range s.order {
		for _, r := range u.replicas {
			r.mu.Lock()
			t.Rows = append(t.Rows, diag.Row{Label: r.label(), Created: r.tCreated, Started: r.tStarted, Ready: r.tReady, Exited: r.tExited, ExitCode: r.exitCode})
			r.mu.Unlock()
		}
	}
	return s.mask.String(t.String())
}

// failCleanup removes a stack whose start failed, or keeps it for
// inspection.
func (s *Stack) failCleanup() {
	if s.cfg.keepOnFailure {
		s.keep()
		return
	}
	_ = s.Down(context.Background())
}

// startError is a failed start. Its message is masked; errors.Is sees the
// cause (an unavailable engine, a deadline), but the cause's unmasked text
// is not reachable through Unwrap.
type startError struct {
	msg string
	err error
}

func (e *startError) Error() string { return e.msg }

// Is reports whether the cause is target.
func (e *startError) Is(target error) bool { return errors.Is(e.err, target) }
