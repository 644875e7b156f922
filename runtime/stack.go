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
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
)

// Stack is a running stack instance: a unique project name, its own
// networks and volumes, and one container per started service.
type Stack struct {
	plan    *composeplan.Plan
	cfg     config
	eng     *engine
	project string
	host    string
	dir     string // absolute project directory
	res     *resolver
	t0      time.Time

	// life is cancelled by Down; it bounds the exit watchers.
	life   context.Context
	cancel context.CancelFunc

	services map[string]*Service
	order    []*Service
	networks map[string]string // plan network name → engine network name
	volumes  map[string]string // plan volume name → engine volume name

	downOnce sync.Once
	downErr  error
}

// Up starts the plan's services (those of the active profiles, or those
// named with WithServices and their dependencies), each as soon as its
// depends_on conditions allow, and returns when every one is ready. On error
// nothing is left behind (unless WithKeepOnFailure) and the error names the
// service, the cause and its last log lines.
//
// Up registers no cleanup: call Down when done. Start is the form for tests.
func Up(ctx context.Context, plan *composeplan.Plan, opts ...Option) (*Stack, error) {
	cfg := newConfig(opts)
	s, err := up(ctx, plan, cfg, callerDir())
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
func Start(tb TB, plan *composeplan.Plan, opts ...Option) *Stack {
	tb.Helper()
	cfg := newConfig(opts)
	if cfg.logf == nil {
		cfg.logf = tb.Logf
	}
	ctx := context.Background()
	s, err := up(ctx, plan, cfg, callerDir())
	if s != nil {
		tb.Cleanup(func() {
			if err == nil && tb.Failed() {
				s.logf("composegen: test failed; state of stack %s:\n%s", s.project, s.Diagnostics(context.Background()))
			}
			if (err != nil || tb.Failed()) && s.cfg.keepOnFailure {
				s.logKept()
				return
			}
			if derr := s.Down(context.Background()); derr != nil {
				tb.Logf("composegen: %v", derr)
			}
		})
	}
	if err != nil {
		tb.Fatalf("composegen: %v", err)
	}
	return s
}

func newConfig(opts []Option) config {
	cfg := config{timeout: 2 * time.Minute}
	if v := os.Getenv("COMPOSEGEN_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			cfg.timeout = d
		}
	}
	if envBool("COMPOSEGEN_VERBOSE") {
		cfg.verbose = true
	}
	if envBool("COMPOSEGEN_KEEP") {
		cfg.keepOnFailure = true
	}
	cfg.logDir = os.Getenv("COMPOSEGEN_LOG_DIR")
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

func envBool(name string) bool {
	b, _ := strconv.ParseBool(os.Getenv(name))
	return b
}

func (s *Stack) logf(format string, args ...any) {
	if s.cfg.logf != nil {
		s.cfg.logf(format, args...)
		return
	}
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

var runtimePkg = reflect.TypeOf(Stack{}).PkgPath()

// callerDir returns the directory of the first caller outside this package:
// the generated file, whose directory Plan.Dir is relative to. When the
// binary was built with -trimpath the file is not on disk and the working
// directory is used. COMPOSEGEN_DIR overrides both.
func callerDir() string {
	if d := os.Getenv("COMPOSEGEN_DIR"); d != "" {
		return d
	}
	pcs := make([]uintptr, 16)
	n := goruntime.Callers(2, pcs)
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
// nothing was created) so that the caller decides whether to keep it.
func up(ctx context.Context, plan *composeplan.Plan, cfg config, base string) (*Stack, error) {
	t0 := time.Now()
	if cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.timeout)
		defer cancel()
	}
	eng, err := getEngine(ctx)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", plan.Name, err)
	}
	reapOnce.Do(func() { reapDead(eng) })

	dir := filepath.Join(base, filepath.FromSlash(plan.Dir))
	res, err := newResolver(dir, plan.EnvFiles, cfg.env)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", plan.Name, err)
	}
	selected, err := selectServices(plan, cfg)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", plan.Name, err)
	}
	s := &Stack{
		plan: plan, cfg: cfg, eng: eng, host: eng.host, dir: dir, res: res, t0: t0,
		project:  cfg.projectName,
		services: map[string]*Service{},
		networks: map[string]string{},
		volumes:  map[string]string{},
	}
	if s.project == "" {
		s.project = instanceName(plan.Name)
	}
	s.life, s.cancel = context.WithCancel(context.Background())
	for _, spec := range selected {
		env, err := res.serviceEnv(dir, spec)
		if err != nil {
			return nil, fmt.Errorf("start %s: service %q: %w", plan.Name, spec.Name, err)
		}
		svc := newService(s, spec, env)
		s.services[spec.Name] = svc
		s.order = append(s.order, svc)
	}
	register(s)
	ctx, endStart := s.beginStart(ctx) // Down (or a signal) cancels the start
	defer endStart()

	if err := s.createNetworksAndVolumes(ctx); err != nil {
		return s, fmt.Errorf("start %s: %w", plan.Name, err)
	}
	if err := s.startAll(ctx); err != nil {
		return s, fmt.Errorf("start %s: %w", plan.Name, err)
	}
	if s.cfg.verbose {
		s.logf("%s", s.Timeline())
	}
	return s, nil
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

// selectServices returns the services to start, in plan order: those of
// the active profiles, or, with WithServices, the named ones; each with the
// closure of its required dependencies.
func selectServices(plan *composeplan.Plan, cfg config) ([]*composeplan.ServiceSpec, error) {
	byName := map[string]*composeplan.ServiceSpec{}
	for i := range plan.Services {
		byName[plan.Services[i].Name] = &plan.Services[i]
	}
	profiles := plan.Profiles
	if cfg.profilesSet {
		profiles = cfg.profiles
	}
	active := func(sp *composeplan.ServiceSpec) bool {
		if len(sp.Profiles) == 0 {
			return true
		}
		for _, p := range sp.Profiles {
			if p == "*" {
				return true
			}
			for _, a := range profiles {
				if a == p || a == "*" {
					return true
				}
			}
		}
		return false
	}
	want := map[string]bool{}
	var roots []string
	if len(cfg.services) > 0 {
		for _, n := range cfg.services {
			if byName[n] == nil {
				return nil, fmt.Errorf("no service %q in the plan", n)
			}
			roots = append(roots, n)
		}
	} else {
		for i := range plan.Services {
			if active(&plan.Services[i]) {
				roots = append(roots, plan.Services[i].Name)
			}
		}
	}
	var visit func(name, from string) error
	visit = func(name, from string) error {
		if want[name] {
			return nil
		}
		sp := byName[name]
		if sp == nil {
			return fmt.Errorf("service %q depends on %q, which is not in the plan", from, name)
		}
		want[name] = true
		for _, d := range sp.DependsOn {
			// An optional dependency that is not in the plan or not in
			// an active profile is skipped.
			if !d.Required && (byName[d.Service] == nil || !active(byName[d.Service])) {
				continue
			}
			if err := visit(d.Service, name); err != nil {
				return err
			}
		}
		for _, ref := range containerRefs(sp) {
			if ref.optional {
				continue
			}
			if err := visit(ref.service, name); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range roots {
		if err := visit(r, ""); err != nil {
			return nil, err
		}
	}
	var out []*composeplan.ServiceSpec
	for i := range plan.Services {
		if want[plan.Services[i].Name] {
			out = append(out, &plan.Services[i])
		}
	}
	if err := checkCycles(out); err != nil {
		return nil, err
	}
	return out, nil
}

func checkCycles(specs []*composeplan.ServiceSpec) error {
	state := map[string]int{}
	by := map[string]*composeplan.ServiceSpec{}
	for _, s := range specs {
		by[s.Name] = s
	}
	var path []string
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("depends_on cycle: %s -> %s", strings.Join(path, " -> "), n)
		case 2:
			return nil
		}
		state[n] = 1
		path = append(path, n)
		if s := by[n]; s != nil {
			for _, d := range s.DependsOn {
				if by[d.Service] != nil {
					if err := visit(d.Service); err != nil {
						return err
					}
				}
			}
			for _, ref := range containerRefs(s) {
				if by[ref.service] != nil && ref.service != n {
					if err := visit(ref.service); err != nil {
						return err
					}
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = 2
		return nil
	}
	names := make([]string, 0, len(by))
	for n := range by {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := visit(n); err != nil {
			return err
		}
	}
	return nil
}

// startAll starts every selected service concurrently, each after its
// dependencies, and waits until all are ready or one fails. The first
// failure cancels the others and is the error returned.
func (s *Stack) startAll(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() {
			firstErr = err
			cancel()
		})
	}
	allDone := make(chan struct{})
	for _, svc := range s.order {
		// A container that exits non-zero while the stack comes up fails
		// the start at once, whatever state it had reached.
		go func(svc *Service) {
			select {
			case <-svc.exitedCh:
				svc.mu.Lock()
				svc.tExited = time.Now()
				svc.mu.Unlock()
				if err := svc.exitError(); err != nil && svc.spec.Restart != "always" && !strings.HasPrefix(svc.spec.Restart, "on-failure") {
					fail(err)
				}
			case <-allDone:
			}
		}(svc)
		wg.Add(1)
		go func(svc *Service) {
			defer wg.Done()
			if err := svc.run(ctx); err != nil {
				svc.fail(err)
				if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
					fail(err)
				}
			}
		}(svc)
	}
	wg.Wait()
	close(allDone)
	errOnce.Do(func() {}) // no later failure may race with the result
	if firstErr == nil && ctx.Err() != nil {
		// The caller's context ended (or Down began): services that saw
		// the cancellation did not report it as their failure.
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		if errors.Is(firstErr, context.DeadlineExceeded) || errors.Is(firstErr, context.Canceled) {
			return s.timeoutError(ctx, firstErr)
		}
		return firstErr
	}
	return nil
}

// timeoutError explains a deadline: which services were not ready yet, with
// their last probe outputs and logs.
func (s *Stack) timeoutError(ctx context.Context, cause error) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%v after %s; not ready:", cause, time.Since(s.t0).Round(time.Millisecond))
	for _, svc := range s.order {
		if svc.isReady() {
			continue
		}
		fmt.Fprintf(&b, "\n%s", svc.describe(context.Background()))
	}
	return errors.New(b.String())
}

// Down stops and removes the stack's containers, networks and volumes, all
// in parallel. External volumes and networks are left alone. It is safe to
// call more than once.
func (s *Stack) Down(ctx context.Context) error {
	s.downOnce.Do(func() { s.downErr = s.down(ctx) })
	return s.downErr
}

// Service returns the running service named name, nil if it is not part of
// this stack instance (not selected, or excluded by profiles).
func (s *Stack) Service(name string) *Service {
	if s == nil {
		return nil
	}
	return s.services[name]
}

// ProjectName returns the unique project name of this stack instance, the
// value of the com.docker.compose.project label of its containers.
func (s *Stack) ProjectName() string { return s.project }

// Timeline returns when each service was created, started and ready,
// relative to the start of Up.
func (s *Stack) Timeline() string {
	var b strings.Builder
	fmt.Fprintf(&b, "composegen: stack %s timeline:", s.project)
	ms := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return fmt.Sprintf("%dms", t.Sub(s.t0).Milliseconds())
	}
	for _, svc := range s.order {
		svc.mu.Lock()
		fmt.Fprintf(&b, "\n  %-20s created %-8s started %-8s ready %-8s", svc.spec.Name, ms(svc.tCreated), ms(svc.tStarted), ms(svc.tReady))
		if !svc.tExited.IsZero() {
			fmt.Fprintf(&b, " exited %s (code %d)", ms(svc.tExited), svc.exitCode)
		}
		svc.mu.Unlock()
	}
	return b.String()
}

func (s *Stack) failCleanup() {
	if s.cfg.keepOnFailure {
		s.logKept()
		return
	}
	_ = s.Down(context.Background())
}

func (s *Stack) logKept() {
	unregister(s)
	s.logf("composegen: keeping stack %s for inspection:\n  docker ps -a --filter label=com.docker.compose.project=%s\n  docker logs <container>\nremove it with:\n  docker rm -f $(docker ps -aq --filter label=com.docker.compose.project=%s); docker network prune -f --filter label=com.docker.compose.project=%s; docker volume prune -f --filter label=com.docker.compose.project=%s",
		s.project, s.project, s.project, s.project, s.project)
}
