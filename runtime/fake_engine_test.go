package runtime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/engines"
)

// fakeEngine is an in-memory engine for unit tests of the runtime's logic.
// Its containers follow a script (a behaviour per image) on a real clock,
// and their published ports are real loopback listeners: before the script
// says the server listens, they accept and close at once, as docker-proxy
// does; after, they speak the behaviour's protocol.
type fakeEngine struct {
	t       testing.TB
	mu      sync.Mutex
	nextID  int
	byID    map[string]*fakeContainer
	other   map[string]engine.Resource // networks, volumes, projects by id
	scripts map[string]behaviour       // by image
	// removeDelay makes Remove hang (teardown bounds).
	removeDelay time.Duration
	// cpus is the Info's CPUs (0: unknown, no bound on starts).
	cpus int
	// waitBreaks makes that many Wait calls on a running container fail at
	// once, as a Podman /events stream that ends early.
	waitBreaks int
	// localPid makes the engine local, its containers' main process this
	// one: the runtime reads their listening sockets from this process's
	// /proc/PID/net/tcp.
	localPid int
}

// behaviour scripts a fake container. Durations count from each start.
type behaviour struct {
	listenAfter time.Duration // the server answers from then on (0: never listens)
	protocol    string        // "redis", "postgres" or "tcp"
	exitAfter   time.Duration // the main process exits then (0: runs until stopped)
	exitCode    int
	// exec answers an exec; nil: exit 0 when the server listens, else 1.
	exec func(cmd []string, since time.Duration) int
	// breakIfExecBefore kills the container (exit 1) when an exec arrives
	// earlier than this: RabbitMQ's CLI creating the Erlang cookie first.
	breakIfExecBefore time.Duration
	// output is the container's log, in the order it was written; nil:
	// one line naming the service and the run.
	output []fakeLine
}

// fakeLine is a line of a fake container's output.
type fakeLine struct {
	stderr bool
	text   string
}

type fakeContainer struct {
	id, name string
	spec     engine.ContainerSpec
	script   behaviour
	state    engine.State
	started  time.Time
	run      int           // incremented at each start
	stopped  chan struct{} // closed when the current run ends
	execs    []time.Duration
	listen   map[engine.PortKey]*fakeListener
}

func newFakeEngine(t testing.TB, scripts map[string]behaviour) *fakeEngine {
	f := &fakeEngine{t: t, byID: map[string]*fakeContainer{}, other: map[string]engine.Resource{}, scripts: scripts}
	t.Cleanup(f.close)
	return f
}

func (f *fakeEngine) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.byID {
		for _, l := range c.listen {
			l.Close()
		}
	}
}

func (f *fakeEngine) Info() engine.Info {
	return engine.Info{Name: "fake", Endpoint: "fake://" + f.t.Name(), DialHost: "127.0.0.1", PublishIP: "127.0.0.1", CPUs: f.cpus, Local: f.localPid != 0}
}
func (f *fakeEngine) Close() error { return nil }

func (f *fakeEngine) CreateProject(ctx context.Context, project string, labels map[string]string) error {
	return nil
}

func (f *fakeEngine) add(kind, name string, labels map[string]string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	id := fmt.Sprintf("%s%d", kind[:1], f.nextID)
	f.other[id] = engine.Resource{Kind: kind, ID: id, Name: name, Labels: labels}
	return id
}

func (f *fakeEngine) CreateNetwork(ctx context.Context, spec engine.NetworkSpec) (string, error) {
	f.add(engine.KindNetwork, spec.Name, spec.Labels)
	return spec.Name, nil
}

func (f *fakeEngine) CreateVolume(ctx context.Context, spec engine.VolumeSpec) error {
	f.add(engine.KindVolume, spec.Name, spec.Labels)
	return nil
}

func matches(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func (f *fakeEngine) List(ctx context.Context, labels map[string]string) ([]engine.Resource, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []engine.Resource
	for _, c := range f.byID {
		if matches(c.spec.Labels, labels) {
			out = append(out, engine.Resource{Kind: engine.KindContainer, ID: c.id, Name: c.name, Labels: c.spec.Labels})
		}
	}
	for _, r := range f.other {
		if matches(r.Labels, labels) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeEngine) Remove(ctx context.Context, r engine.Resource) error {
	if f.removeDelay > 0 {
		select {
		case <-time.After(f.removeDelay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.byID[r.ID]; c != nil && r.Kind == engine.KindContainer {
		f.stopLocked(c, 137)
		for _, l := range c.listen {
			l.Close()
		}
		delete(f.byID, r.ID)
		return nil
	}
	delete(f.other, r.ID)
	return nil
}

// resources counts what the engine holds with labels.
func (f *fakeEngine) resources(labels map[string]string) int {
	l, _ := f.List(context.Background(), labels)
	return len(l)
}

func (f *fakeEngine) Image(ctx context.Context, ref string) (engine.ImageInfo, error) {
	if _, ok := f.scripts[ref]; !ok {
		return engine.ImageInfo{}, fmt.Errorf("image %s: %w", ref, engine.ErrNotFound)
	}
	return engine.ImageInfo{ID: ref, OS: "linux", Architecture: "amd64"}, nil
}

func (f *fakeEngine) Pull(ctx context.Context, ref, platform string, out io.Writer) error {
	return fmt.Errorf("pull %s: registry unreachable", ref)
}

func (f *fakeEngine) Build(ctx context.Context, spec engine.BuildSpec, out io.Writer) error {
	return fmt.Errorf("build: not supported by the fake engine")
}

func (f *fakeEngine) Create(ctx context.Context, spec engine.ContainerSpec) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	id := fmt.Sprintf("c%d", f.nextID)
	c := &fakeContainer{id: id, name: spec.Name, spec: spec, script: f.scripts[spec.Image],
		state: engine.State{Status: "created"}, listen: map[engine.PortKey]*fakeListener{}}
	for _, p := range spec.Ports {
		l, err := newFakeListener(f, c)
		if err != nil {
			return "", err
		}
		c.listen[engine.PortKey{Port: p.Port, Protocol: p.Protocol}] = l
	}
	f.byID[id] = c
	return id, nil
}

func (f *fakeEngine) get(id string) (*fakeContainer, error) {
	c := f.byID[id]
	if c == nil {
		return nil, fmt.Errorf("container %s: %w", id, engine.ErrNotFound)
	}
	return c, nil
}

func (f *fakeEngine) Start(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(id)
	if err != nil {
		return err
	}
	f.startLocked(c)
	return nil
}

// startLocked starts a run of c and schedules its exit.
func (f *fakeEngine) startLocked(c *fakeContainer) {
	if c.state.Running {
		return
	}
	c.run++
	c.started = time.Now()
	c.stopped = make(chan struct{})
	c.state.Status, c.state.Running, c.state.Restarting = "running", true, false
	c.state.StartedAt = c.started
	c.state.Pid = 1000 + c.run
	if f.localPid != 0 {
		c.state.Pid = f.localPid
	}
	if c.script.exitAfter > 0 {
		run := c.run
		time.AfterFunc(c.script.exitAfter, func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if c.run == run && c.state.Running {
				f.exitLocked(c, c.script.exitCode)
			}
		})
	}
}

// exitLocked ends the current run with code and applies the restart policy.
func (f *fakeEngine) exitLocked(c *fakeContainer, code int) {
	f.stopLocked(c, code)
	pol := c.spec.Restart.Name
	if pol == "always" || pol == "unless-stopped" || (pol == "on-failure" && code != 0) {
		c.state.Restarting, c.state.Status = true, "restarting"
		time.AfterFunc(20*time.Millisecond, func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if _, ok := f.byID[c.id]; ok && c.state.Restarting {
				c.state.RestartCount++
				f.startLocked(c)
			}
		})
	}
}

func (f *fakeEngine) stopLocked(c *fakeContainer, code int) {
	if !c.state.Running {
		return
	}
	c.state.Running, c.state.Status, c.state.ExitCode = false, "exited", code
	c.state.FinishedAt, c.state.Pid = time.Now(), 0
	close(c.stopped)
}

// listening reports whether c's server answers now.
func (f *fakeEngine) listening(c *fakeContainer) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return c.state.Running && c.script.listenAfter > 0 && time.Since(c.started) >= c.script.listenAfter
}

func (f *fakeEngine) Inspect(ctx context.Context, id string) (engine.State, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(id)
	if err != nil {
		return engine.State{}, err
	}
	st := c.state
	st.Ports = map[engine.PortKey]engine.HostPort{}
	for k, l := range c.listen {
		st.Ports[k] = engine.HostPort{IP: "127.0.0.1", Port: l.port()}
	}
	return st, nil
}

func (f *fakeEngine) Wait(ctx context.Context, id string) (int, error) {
	f.mu.Lock()
	c, err := f.get(id)
	if err != nil {
		f.mu.Unlock()
		return 0, err
	}
	if !c.state.Running {
		code := c.state.ExitCode
		f.mu.Unlock()
		return code, nil
	}
	if f.waitBreaks > 0 {
		f.waitBreaks--
		f.mu.Unlock()
		return -1, errors.New("events: unexpected EOF")
	}
	ch := c.stopped
	f.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return c.state.ExitCode, nil
}

func (f *fakeEngine) Stop(ctx context.Context, id string, timeout time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(id)
	if err != nil {
		return err
	}
	c.state.Restarting = false
	f.stopLocked(c, 0)
	return nil
}

func (f *fakeEngine) Kill(ctx context.Context, id, signal string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(id)
	if err != nil {
		return err
	}
	f.exitLocked(c, 137)
	return nil
}

func (f *fakeEngine) Pause(ctx context.Context, id string) error   { return nil }
func (f *fakeEngine) Unpause(ctx context.Context, id string) error { return nil }

func (f *fakeEngine) Exec(ctx context.Context, id string, cmd []string, stdout, stderr io.Writer) (int, error) {
	f.mu.Lock()
	c, err := f.get(id)
	if err != nil {
		f.mu.Unlock()
		return 0, err
	}
	if !c.state.Running {
		f.mu.Unlock()
		return 0, fmt.Errorf("container %s is not running", id)
	}
	since := time.Since(c.started)
	c.execs = append(c.execs, since)
	if c.script.breakIfExecBefore > 0 && since < c.script.breakIfExecBefore {
		f.exitLocked(c, 1)
		f.mu.Unlock()
		return 0, fmt.Errorf("container %s stopped during exec", id)
	}
	script := c.script
	f.mu.Unlock()
	if script.exec != nil {
		return script.exec(cmd, since), nil
	}
	if f.listening(c) {
		return 0, nil
	}
	fmt.Fprintln(stderr, "not ready")
	return 1, nil
}

// execTimes returns when (after its start) each exec of the container of
// service ran.
// startedOf lists the start times of the containers of image.
func (f *fakeEngine) startedOf(image string) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Time
	for _, c := range f.byID {
		if c.spec.Image == image && !c.started.IsZero() {
			out = append(out, c.started)
		}
	}
	return out
}

func (f *fakeEngine) execTimes(service string) []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.byID {
		if c.spec.Service == service {
			return append([]time.Duration(nil), c.execs...)
		}
	}
	return nil
}

func (f *fakeEngine) Logs(ctx context.Context, id string, opts engine.LogOptions, stdout, stderr io.Writer) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(id)
	if err != nil {
		return err
	}
	if c.script.output == nil {
		fmt.Fprintf(stdout, "%s run %d log line\n", c.spec.Service, c.run)
		return nil
	}
	lines := c.script.output
	if opts.Tail > 0 && len(lines) > opts.Tail {
		lines = lines[len(lines)-opts.Tail:]
	}
	for _, l := range lines {
		w := stdout
		if l.stderr {
			w = stderr
		}
		fmt.Fprintln(w, l.text)
	}
	return nil
}

func (f *fakeEngine) CopyTo(ctx context.Context, id, dir string, tar io.Reader) error { return nil }

func (f *fakeEngine) CopyFrom(ctx context.Context, id, path string) (io.ReadCloser, error) {
	return nil, fmt.Errorf("copy %s: %w", path, engine.ErrNotFound)
}

// fakeListener is a published port: docker-proxy before the server
// listens (accept, close), the protocol after.
type fakeListener struct {
	net.Listener
	f *fakeEngine
	c *fakeContainer
}

func newFakeListener(f *fakeEngine, c *fakeContainer) (*fakeListener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	fl := &fakeListener{Listener: l, f: f, c: c}
	go fl.serve()
	return fl, nil
}

func (l *fakeListener) port() int { return l.Addr().(*net.TCPAddr).Port }

var fakeSeq atomic.Int64

func (l *fakeListener) serve() {
	for {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		go l.handle(conn)
	}
}

func (l *fakeListener) handle(conn net.Conn) {
	defer conn.Close()
	if !l.f.listening(l.c) {
		return // docker-proxy: nothing behind the port yet
	}
	switch l.c.script.protocol {
	case "redis":
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if strings.HasPrefix(line, "PING") {
				_, _ = io.WriteString(conn, "+PONG\r\n")
			}
		}
	case "postgres":
		b := make([]byte, 256)
		_, _ = conn.Read(b)
		_, _ = conn.Write([]byte{'R', 0, 0, 0, 8, 0, 0, 0, 0})
	default:
		time.Sleep(time.Second)
	}
}

// fakePlan is a plan of the given services (image = script name).
func fakePlan(services ...composeplan.ServiceSpec) *composeplan.Plan {
	return &composeplan.Plan{Name: "fake", Services: services}
}

// upFake starts plan on eng with the fake engine registered under a name
// unique to the test.
func upFake(t *testing.T, eng *fakeEngine, plan *composeplan.Plan, opts ...Option) (*Stack, error) {
	t.Helper()
	s, err := Up(context.Background(), plan, append(fakeOpts(t, eng), opts...)...)
	if s != nil {
		t.Cleanup(func() { _ = s.Down(context.Background()) })
	}
	return s, err
}

// fakeOpts are the options that start a stack on eng, registered under a
// name unique to the call.
func fakeOpts(t *testing.T, eng *fakeEngine) []Option {
	name := "fake-" + strconv.Itoa(int(fakeSeq.Add(1)))
	// No process watcher: it could not open a fake engine. Its once for
	// this engine's name is used up here rather than with
	// COMPOSEGEN_NO_WATCHER=1, as t.Setenv would keep the tests on fake
	// engines from running in parallel.
	noWatcher := &sync.Once{}
	noWatcher.Do(func() {})
	watcherOnce.Store(engines.Name(name), noWatcher)
	engine.Register(name, func(ctx context.Context) (engine.Engine, error) { return eng, nil })
	return []Option{WithEngine(name), WithDir(t.TempDir()), WithLogf(t.Logf)}
}
