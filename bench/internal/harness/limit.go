package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	docker "github.com/ory/dockertest/v3/docker"
)

// LimitService is one service of the limit reference.
type LimitService struct {
	Name, Image string
	Env, Cmd    []string
	Entrypoint  []string
	Port        int    // published container port, 0 for none
	Probe       *Check // readiness through the published port (its Query is not used)
	OneShot     bool   // ready when it exited 0
	Deps        []string
}

// DefaultProbeEvery is the limit's probe cadence: a tight loop. With many
// stacks at once, a loop this tight costs the servers CPU (every attempt is
// a connection through docker-proxy): benchscale probes every 20 ms.
const DefaultProbeEvery = 5 * time.Millisecond

// BenchLabel marks every container and network the limit creates; its
// value is the stack's name.
const BenchLabel = "io.composegen.bench"

var (
	clientOnce sync.Once
	client     *docker.Client
	clientErr  error
)

// LimitHostEnv names the engine address the limit (and the bench's own
// look-ups) use instead of DOCKER_HOST: dockertest's client cannot dial
// ssh://, so over ssh the limit reaches the same daemon through a socket
// that one ssh connection forwards (ssh -L), the transport with the least
// per-connection cost.
const LimitHostEnv = "BENCH_LIMIT_DOCKER_HOST"

func dockerClient() (*docker.Client, error) {
	clientOnce.Do(func() {
		if h := os.Getenv(LimitHostEnv); h != "" {
			client, clientErr = docker.NewClient(h)
			return
		}
		client, clientErr = docker.NewClientFromEnv()
	})
	return client, clientErr
}

func listByLabel(ctx context.Context, c *docker.Client, label string) ([]docker.APIContainers, error) {
	return c.ListContainers(docker.ListContainersOptions{All: true, Filters: map[string][]string{"label": {label}}, Context: ctx})
}

// upLimit is the reference for what the slowest dependency chain really
// needs: one network, every container created at once (creation depends on
// nothing but the network), each started the moment its dependencies are
// ready, readiness probed from the host with the real client every 5 ms
// (every), a
// one-shot's exit noticed by the engine's wait. No healthcheck runs.
func upLimit(ctx context.Context, st *Stack, project string, every time.Duration) (*Running, error) {
	c, err := dockerClient()
	if err != nil {
		return nil, err
	}
	labels := map[string]string{BenchLabel: st.Name, BenchLabel + ".project": project}
	// The timeline starts before the network, as composegen's does.
	tl := &timeline{t0: time.Now()}
	netw, err := c.CreateNetwork(docker.CreateNetworkOptions{Name: project + "_default", Driver: "bridge", Labels: labels, Context: ctx})
	if err != nil {
		return nil, fmt.Errorf("create network: %w", err)
	}
	type state struct {
		id    string
		addr  string
		ready chan struct{}
	}
	states := map[string]*state{}
	for _, s := range st.Limit {
		states[s.Name] = &state{ready: make(chan struct{})}
	}
	var mu sync.Mutex
	tl.nets = time.Since(tl.t0)
	run := &Running{Timeline: func() string { return tl.String(project) }}
	run.Down = func(ctx context.Context) error {
		var wg sync.WaitGroup
		var errs []error
		mu.Lock()
		for _, s := range states {
			if s.id == "" {
				continue
			}
			wg.Add(1)
			go func(id string) {
				defer wg.Done()
				if err := c.RemoveContainer(docker.RemoveContainerOptions{ID: id, Force: true, RemoveVolumes: true, Context: ctx}); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}(s.id)
		}
		mu.Unlock()
		wg.Wait()
		if err := c.RemoveNetwork(netw.ID); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(st.Limit))
	for _, s := range st.Limit {
		wg.Add(1)
		go func(s LimitService) {
			defer wg.Done()
			err := runLimit(ctx, c, project, netw.Name, labels, s, every, tl, states[s.Name].ready,
				func(id string) {
					mu.Lock()
					states[s.Name].id = id
					mu.Unlock()
				},
				func(addr string) {
					mu.Lock()
					states[s.Name].addr = addr
					mu.Unlock()
				},
				func(dep string) chan struct{} { return states[dep].ready })
			if err != nil {
				errc <- fmt.Errorf("%s: %w", s.Name, err)
				cancel()
			}
		}(s)
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return run, err
	}
	run.Targets = map[string]string{}
	for _, chk := range st.Checks {
		if a := states[chk.Service].addr; a != "" {
			run.Targets[chk.Service] = chk.Target(a)
		}
	}
	return run, nil
}

func runLimit(ctx context.Context, c *docker.Client, project, network string, labels map[string]string, s LimitService, every time.Duration, tl *timeline,
	ready chan struct{}, setID, setAddr func(string), depReady func(string) chan struct{}) error {
	cfg := &docker.Config{Image: s.Image, Env: s.Env, Cmd: s.Cmd, Entrypoint: s.Entrypoint, Labels: labels}
	hc := &docker.HostConfig{NetworkMode: network}
	if s.Port != 0 {
		p := docker.Port(strconv.Itoa(s.Port) + "/tcp")
		cfg.ExposedPorts = map[docker.Port]struct{}{p: {}}
		hc.PortBindings = map[docker.Port][]docker.PortBinding{p: {{HostIP: "127.0.0.1"}}}
	}
	ct, err := c.CreateContainer(docker.CreateContainerOptions{
		Name: project + "-" + s.Name + "-1", Config: cfg, HostConfig: hc, Context: ctx,
		NetworkingConfig: &docker.NetworkingConfig{EndpointsConfig: map[string]*docker.EndpointConfig{network: {Aliases: []string{s.Name}}}},
	})
	if err != nil {
		return err
	}
	setID(ct.ID)
	tl.mark(s.Name, "created")
	for _, d := range s.Deps {
		select {
		case <-depReady(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := c.StartContainerWithContext(ct.ID, nil, ctx); err != nil {
		return err
	}
	tl.mark(s.Name, "started")
	if s.OneShot {
		// After start the container runs or has exited; the engine's wait
		// (condition not-running) returns at its exit.
		code, err := c.WaitContainerWithContext(ct.ID, ctx)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("exited %d", code)
		}
		tl.mark(s.Name, "ready")
		close(ready)
		return nil
	}
	if s.Port == 0 || s.Probe == nil {
		tl.mark(s.Name, "ready")
		close(ready)
		return nil
	}
	info, err := c.InspectContainerWithContext(ct.ID, ctx)
	if err != nil {
		return err
	}
	b := info.NetworkSettings.Ports[docker.Port(strconv.Itoa(s.Port)+"/tcp")]
	if len(b) == 0 {
		return fmt.Errorf("port %d not published", s.Port)
	}
	addr := "127.0.0.1:" + b[0].HostPort
	setAddr(addr)
	probe := *s.Probe
	probe.Query = ""
	target := probe.Target(addr)
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		err := probe.Use(pctx, target)
		pcancel()
		if err == nil {
			tl.mark(s.Name, "ready")
			close(ready)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last probe: %v)", ctx.Err(), err)
		case <-time.After(every):
		}
	}
}

type timeline struct {
	t0     time.Time
	nets   time.Duration // the network exists
	mu     sync.Mutex
	events []tlEvent
}

type tlEvent struct {
	svc, what string
	at        time.Duration
}

func (t *timeline) mark(svc, what string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, tlEvent{svc, what, time.Since(t.t0)})
}

// String formats the timeline like composegen's: one line per service.
func (t *timeline) String(project string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	at := map[string]map[string]time.Duration{}
	var names []string
	for _, e := range t.events {
		if at[e.svc] == nil {
			at[e.svc] = map[string]time.Duration{}
			names = append(names, e.svc)
		}
		at[e.svc][e.what] = e.at
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "limit: stack %s timeline (networks and volumes %dms):", project, t.nets.Milliseconds())
	for _, n := range names {
		f := func(w string) string {
			if d, ok := at[n][w]; ok {
				return fmt.Sprintf("%dms", d.Milliseconds())
			}
			return "-"
		}
		fmt.Fprintf(&b, "\n  %-20s created %-8s started %-8s ready %-8s", n, f("created"), f("started"), f("ready"))
	}
	return b.String()
}
