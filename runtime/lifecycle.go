package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	docker "github.com/ory/dockertest/v3/docker"
)

func sortStrings(s []string) { sort.Strings(s) }

func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var (
	hostOnce sync.Once
	hostName string
)

func ownerHost() string {
	hostOnce.Do(func() { hostName, _ = os.Hostname() })
	return hostName
}

// ownerStart identifies this process beyond its pid, which the system may
// reuse: the process start time in clock ticks since boot on Linux.
func ownerStart() string { return processStart(os.Getpid()) }

func processStart(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// The command may contain spaces and parentheses: fields start after
	// the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return ""
	}
	return f[19] // field 22: starttime
}

// ownerAlive reports whether the process that labelled a resource still
// runs.
func ownerAlive(pid int, start string) bool {
	if pid <= 0 {
		return true // not ours to judge
	}
	if err := syscall.Kill(pid, 0); err != nil && errors.Is(err, syscall.ESRCH) {
		return false
	}
	if start != "" {
		if cur := processStart(pid); cur != "" && cur != start {
			return false // pid reused by another process
		}
	}
	return true
}

// Live stacks of this process, torn down on SIGINT/SIGTERM.
var live struct {
	sync.Mutex
	stacks  map[*Stack]bool
	handler bool
	tmp     map[*Stack][]string
	// starting holds, for each stack whose Up is in progress, a channel
	// closed when that Up returns: Down waits for it, so that nothing a
	// start creates after Down listed the stack's resources survives.
	starting map[*Stack]chan struct{}
	// closing is set once a signal is being handled: starts still to
	// come are cancelled at once.
	closing bool
}

// beginStart binds a start to the stack's life: the returned context is
// cancelled when Down begins (or a signal is being handled), and end must be
// called when the start returns.
func (s *Stack) beginStart(ctx context.Context) (_ context.Context, end func()) {
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.life, cancel)
	done := make(chan struct{})
	live.Lock()
	if live.starting == nil {
		live.starting = map[*Stack]chan struct{}{}
	}
	live.starting[s] = done
	if live.closing {
		cancel()
	}
	live.Unlock()
	return ctx, func() {
		stop()
		cancel()
		live.Lock()
		delete(live.starting, s)
		live.Unlock()
		close(done)
	}
}

// awaitStart waits until an Up of s in progress has returned, or ctx ends.
func (s *Stack) awaitStart(ctx context.Context) {
	live.Lock()
	done := live.starting[s]
	live.Unlock()
	if done == nil {
		return
	}
	t := time.NewTimer(30 * time.Second) // the start was cancelled: a bound only
	defer t.Stop()
	select {
	case <-done:
	case <-ctx.Done():
	case <-t.C:
	}
}

func register(s *Stack) {
	live.Lock()
	defer live.Unlock()
	if live.stacks == nil {
		live.stacks = map[*Stack]bool{}
	}
	live.stacks[s] = true
	if !live.handler && os.Getenv("COMPOSEGEN_NO_SIGNAL_HANDLER") == "" {
		live.handler = true
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		go onSignal(ch)
	}
}

func unregister(s *Stack) {
	live.Lock()
	defer live.Unlock()
	delete(live.stacks, s)
}

// onSignal tears down every live stack, then lets the signal do what it
// would have done without us.
func onSignal(ch chan os.Signal) {
	sig := <-ch
	live.Lock()
	live.closing = true
	var stacks []*Stack
	for s := range live.stacks {
		stacks = append(stacks, s)
	}
	live.Unlock()
	fmt.Fprintf(os.Stderr, "composegen: %v: removing %d stack(s)\n", sig, len(stacks))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	var wg sync.WaitGroup
	for _, s := range stacks {
		wg.Add(1)
		go func(s *Stack) { defer wg.Done(); _ = s.Down(ctx) }(s)
	}
	wg.Wait()
	cancel()
	signal.Reset(os.Interrupt, syscall.SIGTERM)
	p, _ := os.FindProcess(os.Getpid())
	_ = p.Signal(sig)
	time.Sleep(time.Second)
	os.Exit(1)
}

func (s *Stack) addTempFile(name string) {
	live.Lock()
	defer live.Unlock()
	if live.tmp == nil {
		live.tmp = map[*Stack][]string{}
	}
	live.tmp[s] = append(live.tmp[s], name)
}

// down removes everything labelled with the stack's project: what was
// recorded and whatever a cancelled request may have created anyway.
func (s *Stack) down(ctx context.Context) error {
	s.cancel()
	defer unregister(s)
	// A start in progress (Down from a signal handler, or from another
	// goroutine) is cancelled above; let it return before listing.
	s.awaitStart(ctx)
	if s.cfg.logDir != "" {
		s.writeLogs(ctx)
	}
	c := s.eng.c
	filter := map[string][]string{"label": {labelProject + "=" + s.project, labelManaged + "=true"}}
	var errs []error
	var mu sync.Mutex
	addErr := func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	}
	// Containers first (networks and volumes in use cannot go), all in
	// parallel: the recorded ones at once, and, while they go, whatever the
	// project label finds besides (a creation a cancelled start did not
	// record). The networks and volumes are listed meanwhile too.
	var (
		wg      sync.WaitGroup
		idMu    sync.Mutex
		removed = map[string]bool{}
	)
	removeContainer := func(id string) {
		idMu.Lock()
		if removed[id] {
			idMu.Unlock()
			return
		}
		removed[id] = true
		idMu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.RemoveContainer(docker.RemoveContainerOptions{ID: id, Force: true, RemoveVolumes: true, Context: ctx})
			var nsc *docker.NoSuchContainer
			if err != nil && !errors.As(err, &nsc) {
				addErr(fmt.Errorf("remove container %s: %w", id[:12], err))
			}
		}()
	}
	for _, svc := range s.order {
		if id := svc.ContainerID(); id != "" {
			removeContainer(id)
		}
	}
	var (
		lists sync.WaitGroup
		nets  []docker.Network
		vols  []docker.Volume
	)
	lists.Add(3)
	go func() {
		defer lists.Done()
		if list, err := c.ListContainers(docker.ListContainersOptions{All: true, Filters: filter, Context: ctx}); err == nil {
			for _, ct := range list {
				removeContainer(ct.ID)
			}
		}
	}()
	go func() {
		defer lists.Done()
		nets, _ = c.FilteredListNetworks(docker.NetworkFilterOpts{"label": {labelProject + "=" + s.project: true, labelManaged + "=true": true}})
	}()
	go func() {
		defer lists.Done()
		vols, _ = c.ListVolumes(docker.ListVolumesOptions{Filters: filter, Context: ctx})
	}()
	lists.Wait()
	wg.Wait()
	for _, n := range nets {
		wg.Add(1)
		go func(id, name string) {
			defer wg.Done()
			var nsn *docker.NoSuchNetwork
			if err := c.RemoveNetwork(id); err != nil && !errors.As(err, &nsn) {
				addErr(fmt.Errorf("remove network %s: %w", name, err))
			}
		}(n.ID, n.Name)
	}
	for _, v := range vols {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			if err := c.RemoveVolumeWithOptions(docker.RemoveVolumeOptions{Name: name, Force: true, Context: ctx}); err != nil {
				addErr(fmt.Errorf("remove volume %s: %w", name, err))
			}
		}(v.Name)
	}
	wg.Wait()
	live.Lock()
	for _, f := range live.tmp[s] {
		_ = os.Remove(f)
	}
	delete(live.tmp, s)
	live.Unlock()
	// The first start of the process reaps dead owners' leftovers in the
	// background; a short-lived process must not exit half-way through.
	waitReaping(ctx)
	if len(errs) > 0 {
		return fmt.Errorf("down %s: %w", s.project, errors.Join(errs...))
	}
	return nil
}

func (s *Stack) writeLogs(ctx context.Context) {
	dir := filepath.Join(s.cfg.logDir, s.project)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	for _, svc := range s.order {
		if svc.ContainerID() == "" {
			continue
		}
		out, err := svc.Logs(ctx)
		if err == nil {
			_ = os.WriteFile(filepath.Join(dir, svc.spec.Name+".log"), []byte(out), 0o644)
		}
	}
}

var reapOnce sync.Once

// reapDead removes resources left by composegen processes of this host that
// died without tearing down (killed test binaries). Live processes' stacks,
// other hosts' and anything without our labels are never touched. The
// listing happens now; removal proceeds in the background.
func reapDead(e *engine) {
	if os.Getenv("COMPOSEGEN_NO_REAP") != "" {
		return
	}
	c := e.c
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	filter := map[string][]string{"label": {labelManaged + "=true", labelOwnerHost + "=" + ownerHost()}}
	dead := func(labels map[string]string) bool {
		pid, err := strconv.Atoi(labels[labelOwnerPID])
		if err != nil {
			return false
		}
		return !ownerAlive(pid, labels[labelOwnerStart])
	}
	var containers []string
	if list, err := c.ListContainers(docker.ListContainersOptions{All: true, Filters: filter, Context: ctx}); err == nil {
		for _, ct := range list {
			if dead(ct.Labels) {
				containers = append(containers, ct.ID)
			}
		}
	}
	var networks []string
	if nets, err := c.FilteredListNetworks(docker.NetworkFilterOpts{"label": {labelManaged + "=true": true, labelOwnerHost + "=" + ownerHost(): true}}); err == nil {
		for _, n := range nets {
			if dead(n.Labels) {
				networks = append(networks, n.ID)
			}
		}
	}
	var volumes []string
	if vols, err := c.ListVolumes(docker.ListVolumesOptions{Filters: filter, Context: ctx}); err == nil {
		for _, v := range vols {
			if dead(v.Labels) {
				volumes = append(volumes, v.Name)
			}
		}
	}
	cancel()
	if len(containers)+len(networks)+len(volumes) == 0 {
		return
	}
	reaping.Add(1)
	go func() {
		defer reaping.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		var wg sync.WaitGroup
		for _, id := range containers {
			wg.Add(1)
			go func(id string) {
				defer wg.Done()
				_ = c.RemoveContainer(docker.RemoveContainerOptions{ID: id, Force: true, RemoveVolumes: true, Context: ctx})
			}(id)
		}
		wg.Wait()
		for _, id := range networks {
			_ = c.RemoveNetwork(id)
		}
		for _, v := range volumes {
			_ = c.RemoveVolumeWithOptions(docker.RemoveVolumeOptions{Name: v, Force: true, Context: ctx})
		}
	}()
}

// reaping lets Down and tests wait for the background reaper.
var reaping reaperGroup

// reaperGroup counts background reapers. Unlike a sync.WaitGroup it may be
// waited on while a reaper is added.
type reaperGroup struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while n == 0; nil means idle
}

func (g *reaperGroup) Add(n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n == 0 {
		g.idle = make(chan struct{})
	}
	g.n += n
}

func (g *reaperGroup) Done() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 {
		close(g.idle)
		g.idle = nil
	}
}

// wait returns a channel closed when no reaper runs.
func (g *reaperGroup) wait() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.idle == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return g.idle
}

func (g *reaperGroup) Wait() { <-g.wait() }

// waitReaping waits for the background reaper, at most until ctx ends.
func waitReaping(ctx context.Context) {
	select {
	case <-reaping.wait():
	case <-ctx.Done():
	}
}

// Diagnostics describes every service of the stack: state, exit code, port
// map, last probe outputs and last log lines.
func (s *Stack) Diagnostics(ctx context.Context) string {
	var b strings.Builder
	for i, svc := range s.order {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(svc.describe(ctx))
	}
	return b.String()
}

func (svc *Service) describe(ctx context.Context) string {
	var b strings.Builder
	fmt.Fprintf(&b, "service %q", svc.spec.Name)
	id := svc.ContainerID()
	if id == "" {
		select {
		case <-svc.failedCh:
			svc.mu.Lock()
			fmt.Fprintf(&b, ": not created: %v", svc.err)
			svc.mu.Unlock()
		default:
			b.WriteString(": not created (waiting for its dependencies)")
		}
		return b.String()
	}
	if info, err := svc.stack.eng.c.InspectContainerWithContext(id, ctx); err == nil {
		st := info.State
		fmt.Fprintf(&b, ": %s", st.Status)
		if st.Status == "created" && st.StartedAt.IsZero() {
			// Containers are created ahead of their dependencies.
			b.WriteString(", never started")
			svc.mu.Lock()
			err := svc.err
			svc.mu.Unlock()
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
				fmt.Fprintf(&b, ": %v", err)
			} else {
				b.WriteString(" (waiting for its dependencies)")
			}
		} else if !st.Running {
			fmt.Fprintf(&b, " (exit code %d", st.ExitCode)
			if st.OOMKilled {
				b.WriteString(", OOM-killed")
			}
			if st.Error != "" {
				fmt.Fprintf(&b, ", %s", st.Error)
			}
			b.WriteString(")")
		}
	}
	ports := svc.currentPorts()
	if len(ports) > 0 {
		keys := make([]portKey, 0, len(ports))
		for k := range ports {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].target < keys[j].target })
		b.WriteString("; ports")
		for _, k := range keys {
			fmt.Fprintf(&b, " %d/%s→%s:%d", k.target, k.proto, svc.stack.host, ports[k])
		}
	}
	svc.mu.Lock()
	probes := append([]string(nil), svc.probes...)
	svc.mu.Unlock()
	if len(probes) > 0 {
		b.WriteString("; last probes:")
		for _, p := range probes {
			fmt.Fprintf(&b, "\n\t%s", p)
		}
	}
	b.WriteString(svc.logTail())
	return b.String()
}

// creating returns the context for a request that creates an engine
// resource (container, network, volume): not cancelled with ctx, so that a
// cancelled start never abandons a creation that the engine completes
// anyway, after Down listed what to remove. It is bounded on its own.
func creating(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
}
