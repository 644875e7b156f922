package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/diag"
	"github.com/composegen/composegen/runtime/internal/engines"
	"github.com/composegen/composegen/runtime/internal/interp"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/lock"
	"github.com/composegen/composegen/runtime/internal/mask"
	"github.com/composegen/composegen/runtime/internal/owner"
	"github.com/composegen/composegen/runtime/internal/reap"
	"github.com/composegen/composegen/runtime/internal/sharekey"
)

// Shared stacks: one stack for every test of every package of a go test run.
//
// The first Shared call of the run starts the stack (with full readiness,
// as Start); every other call, in the same test binary or in another one
// that go test runs at the same time or later, attaches to it. Test
// binaries find the stack on the engine by its key (see sharedkey.go) and
// take turns through a file lock, so that exactly one of them starts it
// while the others wait. Attaching lists the stack's resources by label,
// inspects each container (a container that is no longer running is
// reported, never used) and rebuilds the Stack: a few milliseconds. On an
// engine whose published ports belong to a process (Kubernetes'
// port-forwards), each attaching process publishes them for itself
// (engine.Publisher), so that it reaches the stack however long the process
// that started it lives.
//
// The run is the go command that runs the test binary (its parent, when
// that is go), else the test binary itself. A watcher process, detached
// from go test's output, is started with the stack: when the run ends,
// however it ends, it removes the stack. The stack's resources carry the
// watcher's identity as their owner, so that the reaper removes them if the
// watcher itself dies.
//
// With WithReuse (COMPOSEGEN_REUSE=1) no watcher is started: once ready,
// the stack is marked kept (the reaper and the watchers spare it), and the
// next run with the same key attaches to it. A kept stack of the same
// origin but another key is removed when the new one starts.

// ErrShared is wrapped by the error of Down on a stack from Shared: no test
// tears a shared stack down.
var ErrShared = errors.New("the stack is shared by the tests of this go test run: it is removed when the run ends (or kept with WithReuse), never by a test")

// sharedWaitExtra is how much longer than a start's own timeout a test
// waits for another process to start a shared stack.
const sharedWaitExtra = 30 * time.Second

// Shared returns the stack that every test of every package of this go test
// run shares for plan and opts: the first call starts it (with readiness, as
// Start does), concurrent calls in this or other test binaries wait for that
// start, and later calls attach to it in milliseconds. No test tears it down
// (Down returns an error wrapping ErrShared); it is removed when the go
// command that runs the tests ends, or when the test binary ends if it runs
// on its own, however that happens (pass, fail, panic, -timeout, SIGINT,
// SIGKILL).
//
// Tests that share a stack must not change what others see: use a fresh
// database per test (the FreshDSN and FreshURL accessors), never stop,
// restart or pause a shared service.
//
// The stack is shared by the calls with the same plan and the same inputs:
// everything the plan reads (interpolated values, env files, bind-mounted
// files, images, and the build hash and built image of each service with a
// build section) and the options that change what runs (WithProfiles,
// WithScale, WithEnv, WithFixedPorts, WithEngine, WithReuse). WithServices
// does not: the test attaches to the same stack and waits only for the
// named services, their dependencies and the one-shots that feed them,
// while the rest keeps starting (see WithServices). A change in any of them gets another stack, never a stale
// one: an edited build context gets a new image and a new stack. With
// WithBuild the images are built first, and the stack changes when the
// build made another image. WithProjectName and WithKeepOnFailure do not
// apply.
//
// When the stack cannot start, every test that asked for it during this run
// fails with the same diagnostics; a shared stack whose container stopped is
// reported by each test that asks for it. Without an engine the test is
// skipped, as with Start (failed under CI=true).
func Shared(tb TB, plan *composeplan.Plan, opts ...Option) *Stack {
	exitIfWatcher()
	tb.Helper()
	cfg := newConfig(opts)
	ctx := context.Background()
	if d, ok := tb.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, dl)
			defer cancel()
		}
	}
	base := callerDir(cfg)
	logf := cfg.logf
	if logf == nil {
		logf = tb.Logf
	}
	if err := checkDrift(plan, base, logf); err != nil {
		tb.Fatalf("composegen: shared stack of %s: %v", plan.Name, err)
		return nil
	}
	s, err := shared(ctx, plan, cfg, base)
	if err != nil {
		if errors.Is(err, engines.ErrUnavailable) && os.Getenv("CI") != "true" {
			tb.Skipf("composegen: %v (skipping; with CI=true this fails the test)", err)
		}
		tb.Fatalf("composegen: %v", err)
		return nil
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			s.noteSharedFailure(tb)
		}
	})
	return s
}

// noteSharedFailure logs, for a failed test, where the shared stack is and,
// once per process, its diagnostics.
func (s *Stack) noteSharedFailure(tb TB) {
	first := false
	s.diagOnce.Do(func() { first = true })
	if !first {
		tb.Logf("composegen: shared stack %s (diagnostics in the log of the first failed test of this binary)", s.project)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), diagnosticsTimeout)
	defer cancel()
	tb.Logf("composegen: test failed; state of shared stack %s:\n%s", s.project, s.Diagnostics(ctx))
}

// sharedEntry is one shared stack of this process: the first caller
// attaches or starts it, the others wait for done.
type sharedEntry struct {
	done chan struct{}
	s    *Stack
	err  error

	// For the calls that wait for part of the stack (sharedpart.go): the
	// stack this process starts, once its units exist, and the start's
	// keys, once known.
	mu   sync.Mutex
	st   *Stack
	sh   *sharedStart
	used bool // a call got part of st
}

// partUsed reports whether a call of this process got part of the stack
// this process starts.
func (e *sharedEntry) partUsed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.used
}

var sharedStacks struct {
	sync.Mutex
	m map[string]*sharedEntry
}

// shared returns the shared stack of plan with cfg, attaching to it or
// starting it.
func shared(ctx context.Context, plan *composeplan.Plan, cfg config, base string) (*Stack, error) {
	m := &mask.Masker{}
	fail := func(err error) (*Stack, error) {
		return nil, &startError{msg: m.String(fmt.Sprintf("shared stack of %s: %v", plan.Name, err)), err: err}
	}
	want, err := sharedWant(plan, &cfg)
	if err != nil {
		return fail(err)
	}
	t0 := time.Now()
	eng, err := engines.Open(ctx, cfg.engine)
	if err != nil {
		return fail(err)
	}
	opened := time.Since(t0)
	run := currentRun()
	dir := filepath.Join(base, filepath.FromSlash(plan.Dir))
	pk := processKey(plan, cfg, dir, eng)

	sharedStacks.Lock()
	if sharedStacks.m == nil {
		sharedStacks.m = map[string]*sharedEntry{}
	}
	e := sharedStacks.m[pk]
	first := e == nil
	if first {
		e = &sharedEntry{done: make(chan struct{})}
		sharedStacks.m[pk] = e
	}
	sharedStacks.Unlock()

	if first {
		// The start serves every test of the process: it is bounded by its
		// own timeout, not by the first caller's deadline, and goes on when
		// the first caller waits only for part of it.
		go func() {
			e.s, e.err = acquireShared(context.WithoutCancel(ctx), plan, cfg, eng, base, dir, m, run, opened, e)
			close(e.done)
		}()
	}
	var s *Stack
	if want != nil {
		if s, err = e.waitPart(ctx, want); err != nil {
			return nil, err
		}
	} else {
		select {
		case <-e.done:
		case <-ctx.Done():
			return fail(fmt.Errorf("waiting for another test to start it: %w", ctx.Err()))
		}
		if e.err != nil {
			return nil, e.err
		}
		s = e.s
	}
	if err := s.sharedHealth(); err != nil {
		return nil, err
	}
	return s, nil
}

// processKey identifies a shared stack within this process, before its key
// is computed: the plan, the options and the values of WithEnv.
func processKey(plan *composeplan.Plan, cfg config, dir string, eng engine.Engine) string {
	k := sharekey.New(nil)
	k.Str(fmt.Sprintf("%p", plan))
	k.Str(dir)
	hashOptions(k, cfg, eng)
	k.Str(fmt.Sprintf("build=%t", cfg.build))
	names := make([]string, 0, len(cfg.env))
	for n := range cfg.env {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		k.Str(n)
		k.Str(cfg.env[n])
	}
	return k.Sum()
}

// acquireShared attaches to the shared stack or, when there is none yet,
// starts it, taking turns with the other processes of the run.
func acquireShared(ctx context.Context, plan *composeplan.Plan, cfg config, eng engine.Engine, base, dir string, m *mask.Masker, run runInfo, opened time.Duration, e *sharedEntry) (*Stack, error) {
	t0 := time.Now()
	fail := func(err error) (*Stack, error) {
		return nil, &startError{msg: m.String(fmt.Sprintf("shared stack of %s: %v", plan.Name, err)), err: err}
	}
	if cfg.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.timeout+sharedWaitExtra)
		defer cancel()
	}
	res, err := interp.New(dir, plan.EnvFiles, cfg.env, m)
	if err != nil {
		return fail(err)
	}
	scope := run.scope
	if cfg.reuse {
		scope = ""
	}
	keys, err := computeKeys(ctx, eng, plan, cfg, dir, res, scope)
	if err != nil {
		return fail(err)
	}
	sh := &sharedStart{plan: plan, cfg: cfg, eng: eng, base: base, dir: dir, res: res, mask: m, run: run, keys: keys, entry: e}
	sh.project = sharedProjectName(plan.Name, keys.key)
	e.mu.Lock()
	e.sh = sh
	e.mu.Unlock()
	// In use by this process from now on: no other process removes it
	// (lock.HoldInUse), however its owner fares.
	if err := lock.HoldInUse(ctx, sh.project); err != nil {
		return fail(err)
	}
	keyed := time.Since(t0)

	// Most calls find the stack ready, without waiting for the lock.
	switch s, st, err := sh.attach(ctx); st {
	case attachReady:
		if cfg.reuse {
			// Earlier versions of this stack that were in use when it
			// started go once their users ended.
			sh.removeDrifted(ctx)
			for _, r := range sh.replaced {
				sh.notice("composegen: kept shared stack %s removed: %s, and its users ended", r.project, r.why)
			}
		}
		if cfg.verbose {
			sh.logf("composegen: attached to shared stack %s in %s (engine %s, key %s, attach %s)", s.project,
				(opened + time.Since(t0)).Round(time.Millisecond), opened.Round(time.Millisecond), keyed.Round(time.Millisecond), (time.Since(t0) - keyed).Round(time.Millisecond))
		}
		return s, nil
	case attachBroken:
		return fail(err)
	}
	if err := lock.EnsurePrivateDir(lock.Root()); err != nil {
		return fail(err)
	}
	unlock, err := lock.File(ctx, sh.lockFile())
	if err != nil {
		return fail(fmt.Errorf("waiting for another test binary to start it: %w", err))
	}
	defer unlock()
	if msg := sh.readFailure(); msg != "" {
		return nil, &startError{msg: msg, err: errors.New(msg)}
	}
	s, st, err := sh.attach(ctx)
	var resume map[string][]engine.Resource
	switch st {
	case attachReady:
		return s, nil
	case attachBroken:
		return fail(err)
	case attachPartial:
		// A start of this run whose process ended before the whole stack
		// was ready (its tests only needed part of it): complete it,
		// never removing a service that tests may use.
		if list, lerr := sh.eng.List(ctx, map[string]string{label.Managed: "true", label.Shared: keys.key}); lerr == nil && !cfg.reuse {
			var own *owner.ID
			if resume, own = sh.resumable(ctx, list); resume != nil {
				sh.cfg.owner = own
				break
			}
		}
		fallthrough
	case attachStale:
		// What a start that died half-way left (its process was
		// killed), or a kept stack whose containers no longer run.
		if err := sh.remove(ctx, map[string]string{label.Shared: keys.key}); err != nil {
			return fail(err)
		}
		if st == attachStale {
			sh.replaced = append(sh.replaced, replaced{sh.project, shortReason(err)})
		}
	}
	if cfg.reuse {
		sh.removeDrifted(ctx)
	}
	s, err = sh.start(ctx, resume)
	sh.noteReplaced(err == nil)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// replaced is a kept shared stack that a start removed, and why.
type replaced struct{ project, why string }

// noteReplaced tells the user, once and in one line per stack, which kept
// shared stacks the start replaced and why, or, when it replaced none, that
// the new stack is kept for the next run (see notice).
func (sh *sharedStart) noteReplaced(started bool) {
	prune := "`composegen prune -project " + sh.project + "` removes it"
	for _, r := range sh.replaced {
		switch {
		case !started:
			sh.notice("composegen: kept shared stack %s removed (%s); starting its replacement failed", r.project, r.why)
		case r.project == sh.project:
			sh.notice("composegen: kept shared stack %s replaced (%s); the new one is kept too: %s", r.project, r.why, prune)
		default:
			sh.notice("composegen: kept shared stack %s replaced by %s (%s); %s", r.project, sh.project, r.why, prune)
		}
	}
	if started && len(sh.replaced) == 0 && sh.cfg.reuse {
		sh.notice("composegen: shared stack %s is kept for the next run (reuse); %s", sh.project, prune)
	}
}

// shortReason is the reason of an attach error without the logs it
// carries.
func shortReason(err error) string {
	var st *stoppedError
	if errors.As(err, &st) {
		return st.what
	}
	msg, _, _ := strings.Cut(err.Error(), "\n")
	msg, _, _ = strings.Cut(msg, "; last logs:")
	return msg
}

// stoppedError is a container of a shared stack that no longer runs as it
// did when the stack was ready.
type stoppedError struct {
	what string // service "x": its container is ...
	tail string // its last logs
}

func (e *stoppedError) Error() string {
	return e.what + ": it stopped after the shared stack was ready (a test stopped or killed it, or it crashed), so it is not used" + e.tail
}

// sharedProjectName is the project name of a shared stack: the plan's name
// and a prefix of the key.
func sharedProjectName(name, key string) string {
	base := normalizeProjectName(name)
	if base == "" {
		base = "composegen"
	}
	return base + "-s" + key[:12]
}

// sharedStart is one process's attempt to attach to or start a shared
// stack.
type sharedStart struct {
	plan    *composeplan.Plan
	cfg     config
	eng     engine.Engine
	base    string
	dir     string
	res     *interp.Resolver
	mask    *mask.Masker
	run     runInfo
	keys    sharedKeys
	project string
	// replaced are the kept stacks this start removed.
	replaced []replaced
	// entry is this process's entry for the stack.
	entry *sharedEntry
}

func (sh *sharedStart) lockFile() string {
	return lock.SharedBase(sh.keys.key) + ".lock"
}

func (sh *sharedStart) failureFile() string {
	return lock.SharedBase(sh.keys.key) + ".err"
}

// writeFailure records a failed start for the other processes of this run:
// the services that failed (a test that waits for others may still use
// them) and the message (masked).
func (sh *sharedStart) writeFailure(failed []string, msg string) {
	_ = os.WriteFile(sh.failureFile(), []byte(sh.run.scope+"\n"+strings.Join(failed, " ")+"\n"+msg), 0o600)
}

// readFailure returns the failure that another process of this run
// recorded, "" if none.
func (sh *sharedStart) readFailure() string {
	_, msg := sh.readFailureOf()
	return msg
}

// readFailureOf returns the services that failed in the start that another
// process of this run recorded as failed, and its message ("" if none).
func (sh *sharedStart) readFailureOf() ([]string, string) {
	b, err := os.ReadFile(sh.failureFile())
	if err != nil {
		return nil, ""
	}
	parts := strings.SplitN(string(b), "\n", 3)
	if len(parts) < 3 || parts[0] != sh.run.scope {
		_ = os.Remove(sh.failureFile()) // an earlier run's
		return nil, ""
	}
	return strings.Fields(parts[1]), parts[2] + "\n(this start failed earlier in this go test run, in another test binary; it is not retried until the next run)"
}

// attachState is what attach found.
type attachState int

const (
	attachNone    attachState = iota // no stack with the key
	attachPartial                    // resources, but not (yet) ready
	attachReady                      // a ready stack, attached
	attachBroken                     // a ready stack of this run whose container stopped (err says which)
	attachStale                      // a kept stack of an earlier run whose container stopped
)

// attach looks for the shared stack on the engine and, when it is ready,
// rebuilds the Stack from its containers.
func (sh *sharedStart) attach(ctx context.Context) (*Stack, attachState, error) {
	list, err := sh.eng.List(ctx, map[string]string{label.Managed: "true", label.Shared: sh.keys.key})
	if err != nil {
		return nil, attachBroken, fmt.Errorf("list resources: %w", err)
	}
	if len(list) == 0 {
		return nil, attachNone, nil
	}
	ready, run := false, ""
	for _, r := range list {
		if r.Labels[label.Ready] == "true" {
			ready, run = true, r.Labels[label.SharedRun]
		}
	}
	if !ready {
		return nil, attachPartial, nil
	}
	s, err := sh.rebuild(ctx, list, nil)
	if err != nil {
		if sh.cfg.reuse && run != sh.run.scope {
			return nil, attachStale, err
		}
		return nil, attachBroken, err
	}
	return s, attachReady, nil
}

// logf reports what a shared start does, to the WithLogf function or
// standard error (the stack outlives the test that asked for it).
func (sh *sharedStart) logf(format string, args ...any) {
	msg := sh.mask.String(fmt.Sprintf(format, args...))
	if sh.cfg.logf != nil {
		sh.cfg.logf("%s", msg)
		return
	}
	fmt.Fprintln(os.Stderr, msg)
}

// notice tells the user something about the run in one line (see notice).
func (sh *sharedStart) notice(format string, args ...any) {
	notice(sh.cfg, sh.mask.String(fmt.Sprintf(format, args...)))
}

// rebuild makes the Stack of a running shared stack from its resources:
// every container of every selected service must be there and running,
// except one-shots, which must have exited 0.
//
// With services, only those (a closure: see sharedWant) are rebuilt.
func (sh *sharedStart) rebuild(ctx context.Context, list []engine.Resource, services []string) (*Stack, error) {
	cfg := sh.cfg
	cfg.services = services
	selected, err := selectServices(sh.plan, cfg)
	if err != nil {
		return nil, err
	}
	cfg.projectName = sh.project
	s := newStack(sh.plan, cfg, sh.eng, sh.dir, sh.res, sh.mask, time.Now())
	if err := s.buildUnits(selected); err != nil {
		return nil, err
	}
	containers := map[string]engine.Resource{}
	for _, r := range list {
		if r.Kind == engine.KindContainer && r.Labels[label.Project] == sh.project {
			containers[r.Labels[label.Service]+"/"+r.Labels[label.Number]] = r
		}
	}
	var g errgroup.Group
	for _, u := range s.order {
		for _, r := range u.replicas {
			g.Go(func() error { return r.attach(ctx, containers[r.spec.Name+"/"+strconv.Itoa(r.number)]) })
		}
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("%s: %w", sh.project, err)
	}
	s.shared, s.sharedKey = true, sh.keys.key
	return s, nil
}

// attach binds the replica to its running container c, whose ports it
// publishes to this process when the engine needs that (engine.Publisher).
func (r *replica) attach(ctx context.Context, c engine.Resource) error {
	if c.ID == "" {
		return fmt.Errorf("service %q: its container no longer exists (removed outside composegen?)", r.label())
	}
	st, err := r.stack.eng.Inspect(ctx, c.ID)
	if errors.Is(err, engine.ErrNotFound) {
		return fmt.Errorf("service %q: its container no longer exists (removed outside composegen?)", r.label())
	}
	if err != nil {
		return fmt.Errorf("service %q: %w", r.label(), err)
	}
	if p, ok := r.stack.eng.(engine.Publisher); ok && st.Running {
		// The ports of a container that another process created are that
		// process's (port-forwards on Kubernetes): this one opens its own.
		ports, err := p.Publish(ctx, c.ID)
		if err != nil {
			return fmt.Errorf("service %q: publish its ports to this process: %w", r.label(), err)
		}
		st.Ports = ports
	}
	r.mu.Lock()
	r.id, r.name = c.ID, strings.TrimPrefix(c.Name, "/")
	r.base, r.tStarted, r.tCreated = st, st.StartedAt, st.StartedAt
	r.mu.Unlock()
	r.setState(st)
	close(r.startedCh)
	switch {
	case st.Running && !st.Restarting && !st.Paused && st.RestartCount == 0:
	case !st.Running && st.Status == "exited" && st.ExitCode == 0 && r.unit.mayComplete():
		r.mu.Lock()
		r.completed, r.tExited = true, st.FinishedAt
		r.mu.Unlock()
		close(r.readyCh)
		r.exitOnce.Do(func() { close(r.exitedCh) })
		return nil
	default:
		state := diag.State(st, nil)
		if st.Paused {
			state = "paused"
		} else if st.RestartCount > 0 && st.Running {
			state = fmt.Sprintf("running, but restarted %d time(s) since the stack was ready (last exit code %d)", st.RestartCount, st.ExitCode)
		}
		return &stoppedError{what: fmt.Sprintf("service %q: its container is %s", r.label(), state), tail: r.logTail()}
	}
	if err := r.readFiles(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	r.tReady = time.Now()
	r.mu.Unlock()
	close(r.readyCh)
	go r.watchExit(r.stack.life, r.exitedCh, &r.exitOnce)
	return nil
}

// sharedHealth reports a container of the shared stack that stopped since
// this process attached to it or started it. The start waited for the
// one-shots, but an unclassified service that it took as long-running may
// still be a slow one-shot: its exit with code 0 is its completion, and an
// exit with another code is reported as its failure.
func (s *Stack) sharedHealth() error {
	for _, u := range s.order {
		for _, r := range u.replicas {
			if r.isCompleted() || !closed(r.exitedCh) {
				continue
			}
			if u.mayComplete() {
				code := r.exit()
				if code == 0 {
					continue
				}
				return &startError{msg: s.mask.String(fmt.Sprintf("shared stack %s: one-shot service %q exited with code %d after the stack was ready; the tests of this run cannot rely on what it should have done%s",
					s.project, r.label(), code, r.logTail()))}
			}
			return &startError{msg: s.mask.String(fmt.Sprintf("shared stack %s: service %q stopped (exit code %d) after the stack was ready: a test stopped or killed it, or it crashed; the tests of this run cannot use it any more%s",
				s.project, r.label(), r.exit(), r.logTail()))}
		}
	}
	return nil
}

// remove removes every resource that carries labels (and the managed
// label), with the local files of the projects it held.
func (sh *sharedStart) remove(ctx context.Context, labels map[string]string) error {
	l := map[string]string{label.Managed: "true"}
	for k, v := range labels {
		l[k] = v
	}
	removed, err := reap.Remove(ctx, sh.eng, l, nil, nil)
	for _, r := range removed {
		lock.RemoveProjectDir(r.Labels[label.Project])
		removeKeptDir(r.Labels[label.Project])
	}
	return err
}

// removeDrifted removes the kept stacks of the same origin whose key is
// not this one: earlier versions of this stack.
func (sh *sharedStart) removeDrifted(ctx context.Context) {
	list, err := sh.eng.List(ctx, map[string]string{label.Managed: "true", label.SharedOrigin: sh.keys.origin})
	if err != nil {
		return
	}
	old := map[string]bool{}
	for _, r := range list {
		if k := r.Labels[label.Shared]; k != "" && k != sh.keys.key {
			old[k] = true
		}
	}
	keys := make([]string, 0, len(old))
	for k := range old {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		project := sharedProjectName(sh.plan.Name, k)
		// A process of another run still uses it: its tests keep it, and
		// this run gets a new stack beside it; the next run that finds it
		// unused (or prune) removes it.
		release, ok := lock.ClaimForRemoval(project)
		if !ok {
			sh.notice("composegen: kept shared stack %s changed (what it was started from) but a running process uses it: starting a new one beside it; the next run that finds it unused removes it", project)
			continue
		}
		err := sh.remove(ctx, map[string]string{label.Shared: k})
		release(err == nil)
		if err != nil {
			sh.logf("composegen: %v", err)
			continue
		}
		sh.replaced = append(sh.replaced, replaced{project, "what it was started from changed"})
	}
}

// start starts the shared stack: with a watcher that removes it when the
// run ends, or, for reuse, marked as kept once ready. With resume, it
// completes the start that another process of the run left half-way (see
// sharedpart.go), whose watcher removes it.
//
// A service that fails does not stop the others (a test may wait only for
// them); the start's error is that of the first failure. The stack then
// stays for the tests that can use it, until the run ends (for reuse, until
// the next run), unless nothing of it is ready.
func (sh *sharedStart) start(ctx context.Context, resume map[string][]engine.Resource) (*Stack, error) {
	cfg := sh.cfg
	cfg.projectName = sh.project
	cfg.keepOnFailure = false
	cfg.labels = map[string]string{
		label.Shared:       sh.keys.key,
		label.SharedOrigin: sh.keys.origin,
		label.SharedPlan:   normalizeProjectName(sh.plan.Name),
		label.SharedRun:    sh.run.scope,
	}
	if resume != nil {
		cfg.resume = resume
	} else {
		sh.resetReady()
		if !cfg.reuse {
			w, err := sh.spawnWatcher(cfg)
			if err != nil {
				return nil, &startError{msg: sh.mask.String(fmt.Sprintf("shared stack of %s: cannot start the watcher that removes it when the run ends: %v", sh.plan.Name, err)), err: err}
			}
			cfg.owner = &w
		}
	}
	cfg.keepGoing = true
	cfg.onReady = sh.markReady
	cfg.onStack = func(s *Stack) {
		sh.entry.mu.Lock()
		sh.entry.st = s
		sh.entry.mu.Unlock()
	}
	s, err := up(ctx, sh.plan, cfg, sh.base)
	if err != nil {
		var failed []string
		usable := false
		if s != nil {
			for _, u := range s.order {
				if closed(u.failed) {
					failed = append(failed, u.spec.Name)
				} else if closed(u.healthy) {
					usable = true
				}
			}
		}
		if s != nil && (!usable || cfg.reuse && !sh.entry.partUsed()) {
			_ = s.Down(context.Background())
			failed = nil
			for _, u := range s.order {
				failed = append(failed, u.spec.Name)
			}
		}
		if s != nil {
			unregister(s) // what is left serves the run's tests, not this process's
		}
		sh.writeFailure(failed, err.Error())
		return nil, err
	}
	labels := map[string]string{label.Ready: "true"}
	if cfg.reuse {
		labels[label.Keep] = "reuse"
	}
	mctx, cancel := context.WithTimeout(context.Background(), diagnosticsTimeout)
	defer cancel()
	err = s.eng.CreateVolume(mctx, engine.VolumeSpec{Name: s.project + "_composegen-shared", Project: s.project, Labels: s.labels(labels)})
	if err != nil {
		_ = s.Down(context.Background())
		return nil, &startError{msg: s.mask.String(fmt.Sprintf("start %s: mark the shared stack ready: %v", sh.plan.Name, err)), err: err}
	}
	// From now on no test, signal or watcher of this process removes it.
	unregister(s)
	s.shared, s.sharedKey = true, sh.keys.key
	_ = os.Remove(sh.failureFile())
	return s, nil
}

// spawnWatcher starts the shared stack's watcher, which removes the stack
// (and its lock files) when the run ends, and returns its identity.
func (sh *sharedStart) spawnWatcher(cfg config) (owner.ID, error) {
	spec := reap.Spec{
		Engine: cfg.engine,
		Labels: map[string]string{label.Managed: "true", label.Shared: sh.keys.key},
		Paths:  []string{sh.failureFile(), sh.lockFile(), lock.ProjectDir(sh.project)},
	}
	byPipe := !sh.run.viaGo
	if sh.run.viaGo {
		spec.Pid, spec.Start = sh.run.id.Pid, sh.run.id.Start
	}
	pid, err := reap.Spawn(spec, byPipe)
	if err != nil {
		return owner.ID{}, err
	}
	id, ok := owner.Process(pid)
	if !ok {
		return owner.ID{}, fmt.Errorf("watcher (pid %d) exited at once", pid)
	}
	return id, nil
}

// runInfo is the go test run this process belongs to.
type runInfo struct {
	// id is the process whose end ends the run: the go command, or this
	// test binary.
	id    owner.ID
	viaGo bool
	// scope is a hash of id, for labels and file contents.
	scope string
}

var (
	runOnce sync.Once
	thisRun runInfo
)

// currentRun returns the run of this process: its parent when that is the
// go command (go test runs each package's test binary as its child), else
// this process.
func currentRun() runInfo {
	runOnce.Do(func() {
		thisRun = runInfo{id: owner.Self()}
		if ppid := os.Getppid(); ppid > 1 && owner.Command(ppid) == "go" {
			if id, ok := owner.Process(ppid); ok {
				thisRun = runInfo{id: id, viaGo: true}
			}
		}
		h := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%s|%d|%s", thisRun.id.Host, thisRun.id.Boot, thisRun.id.PidNS, thisRun.id.Pid, thisRun.id.Start)))
		thisRun.scope = hex.EncodeToString(h[:8])
	})
	return thisRun
}

// Settle waits until the stack's one-shot services have completed, and
// returns an error naming one that failed (exited with another code than
// 0) or that still runs when ctx ends.
//
// Start, Up and Shared already wait for the one-shots (migrations, seeds:
// the services the generator or a service_completed_successfully dependent
// names as such, and the unclassified services that exit within their
// grace; see composeplan.UnclassifiedGrace), so on a stack they returned
// Settle returns at once. It remains for what happens later: a one-shot
// started again (Service.Start) from another goroutine, and an
// unclassified service that the start took as long-running, whose exit
// with another code than 0 it reports (it does not wait for those: they
// may run for ever). The FreshDSN accessors call it before they copy a
// database.
func (s *Stack) Settle(ctx context.Context) error {
	for _, u := range s.order {
		for _, r := range u.replicas {
			if u.life == lifeOneShot {
				select {
				case <-r.exitedCh:
				case <-ctx.Done():
					return fmt.Errorf("one-shot service %q has not completed: it still runs: %w", r.label(), ctx.Err())
				}
			} else if !u.mayComplete() || !closed(r.exitedCh) {
				continue
			}
			if code := r.exit(); code != 0 {
				return errors.New(s.mask.String(fmt.Sprintf("service %q: one-shot exited with code %d%s", r.label(), code, r.logTail())))
			}
		}
	}
	return nil
}

// Settle waits until the one-shot services of the service's stack have
// completed (see Stack.Settle).
func (s *replica) Settle(ctx context.Context) error { return s.stack.Settle(ctx) }
