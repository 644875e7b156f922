package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	docker "github.com/ory/dockertest/v3/docker"
	"github.com/redis/go-redis/v9"
)

// limitService is one service of the limit reference.
type limitService struct {
	name, image string
	env, cmd    []string
	entrypoint  []string
	port        int                                          // published container port, 0 for none
	probe       func(ctx context.Context, addr string) error // readiness through the published port
	oneShot     bool                                         // ready when it exited 0
	deps        []string                                     // ready (or completed) before start
}

// probeEvery is the limit's probe cadence: a tight loop.
const probeEvery = 5 * time.Millisecond

var (
	limitClientOnce sync.Once
	limitClient     *docker.Client
	limitClientErr  error
)

func dockerClient() (*docker.Client, error) {
	limitClientOnce.Do(func() { limitClient, limitClientErr = docker.NewClientFromEnv() })
	return limitClient, limitClientErr
}

// upLimit is the reference for what the slowest dependency chain really
// needs: one network, every container created at once (creation depends on
// nothing but the network), each started the moment its dependencies are
// ready, readiness probed from the host with the real client every 5ms, a
// one-shot's exit noticed by WaitContainer. No healthcheck runs.
func upLimit(ctx context.Context, st *stackDef, run int) (func(context.Context) error, error) {
	c, err := dockerClient()
	if err != nil {
		return nil, err
	}
	project := projectName(st, "limit", run)
	labels := map[string]string{"io.composegen.bench": st.name}
	netw, err := c.CreateNetwork(docker.CreateNetworkOptions{Name: project + "_default", Driver: "bridge", Labels: labels, Context: ctx})
	if err != nil {
		return nil, fmt.Errorf("create network: %w", err)
	}
	type state struct {
		id    string
		ready chan struct{}
		err   error
	}
	states := map[string]*state{}
	for _, s := range st.limit {
		states[s.name] = &state{ready: make(chan struct{})}
	}
	var mu sync.Mutex
	t0 := time.Now()
	tl := &timeline{t0: t0}
	if limitVerbose {
		defer func() { fmt.Print(tl.String(project)) }()
	}
	down := func(ctx context.Context) error {
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
	errc := make(chan error, len(st.limit))
	for _, s := range st.limit {
		wg.Add(1)
		go func(s limitService) {
			defer wg.Done()
			if err := runLimit(ctx, c, project, netw.Name, labels, s, tl, states[s.name].ready, func(id string) {
				mu.Lock()
				states[s.name].id = id
				mu.Unlock()
			}, func(dep string) chan struct{} { return states[dep].ready }); err != nil {
				errc <- fmt.Errorf("%s: %w", s.name, err)
				cancel()
			}
		}(s)
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return down, err
	}
	return down, nil
}

func runLimit(ctx context.Context, c *docker.Client, project, network string, labels map[string]string, s limitService, tl *timeline,
	ready chan struct{}, setID func(string), depReady func(string) chan struct{}) error {
	cfg := &docker.Config{Image: s.image, Env: s.env, Cmd: s.cmd, Entrypoint: s.entrypoint, Labels: labels}
	hc := &docker.HostConfig{NetworkMode: network}
	if s.port != 0 {
		p := docker.Port(strconv.Itoa(s.port) + "/tcp")
		cfg.ExposedPorts = map[docker.Port]struct{}{p: {}}
		hc.PortBindings = map[docker.Port][]docker.PortBinding{p: {{HostIP: "127.0.0.1"}}}
	}
	ct, err := c.CreateContainer(docker.CreateContainerOptions{
		Name: project + "-" + s.name + "-1", Config: cfg, HostConfig: hc, Context: ctx,
		NetworkingConfig: &docker.NetworkingConfig{EndpointsConfig: map[string]*docker.EndpointConfig{network: {Aliases: []string{s.name}}}},
	})
	if err != nil {
		return err
	}
	setID(ct.ID)
	tl.mark(s.name, "created")
	for _, d := range s.deps {
		select {
		case <-depReady(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := c.StartContainerWithContext(ct.ID, nil, ctx); err != nil {
		return err
	}
	tl.mark(s.name, "started")
	if s.oneShot {
		// After start the container runs or has exited; the engine's wait
		// (condition not-running) returns at its exit. Before start it would
		// return at once.
		code, err := c.WaitContainerWithContext(ct.ID, ctx)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("exited %d", code)
		}
		tl.mark(s.name, "ready")
		close(ready)
		return nil
	}
	if s.port == 0 || s.probe == nil {
		tl.mark(s.name, "ready")
		close(ready)
		return nil
	}
	info, err := c.InspectContainerWithContext(ct.ID, ctx)
	if err != nil {
		return err
	}
	b := info.NetworkSettings.Ports[docker.Port(strconv.Itoa(s.port)+"/tcp")]
	if len(b) == 0 {
		return fmt.Errorf("port %d not published", s.port)
	}
	addr := "127.0.0.1:" + b[0].HostPort
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		err := s.probe(pctx, addr)
		pcancel()
		if err == nil {
			tl.mark(s.name, "ready")
			close(ready)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last probe: %v)", ctx.Err(), err)
		case <-time.After(probeEvery):
		}
	}
}

func probePostgres(user, password, db string) func(ctx context.Context, addr string) error {
	return func(ctx context.Context, addr string) error {
		conn, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", user, password, addr, db))
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		return conn.Ping(ctx)
	}
}

func probeRedis(ctx context.Context, addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	return c.Ping(ctx).Err()
}

var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

func probeHTTP(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/", nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		return fmt.Errorf("GET /: %s", resp.Status)
	}
	return nil
}

// limitVerbose prints the limit's per-service timeline.
var limitVerbose bool

type timeline struct {
	t0     time.Time
	mu     sync.Mutex
	events []string
}

func (t *timeline) mark(svc, what string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, fmt.Sprintf("%-10s %-8s %5dms", svc, what, time.Since(t.t0).Milliseconds()))
}

func (t *timeline) String(project string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := "limit " + project + " timeline:\n"
	for _, e := range t.events {
		out += "  " + e + "\n"
	}
	return out
}
