package docker

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

// Start starts a created or stopped container; a running one is left as
// it is.
func (e *Engine) Start(ctx context.Context, id string) error {
	err := e.call(ctx, "POST", "/containers/"+url.PathEscape(id)+"/start", nil, nil, nil)
	if err != nil && status(err) != http.StatusNotModified {
		return fmt.Errorf("start container %s: %w", id, err)
	}
	return nil
}

// inspectJSON is the part of a container's inspection that State needs.
type inspectJSON struct {
	State struct {
		Status                                 string
		Running, Paused, Restarting, OOMKilled bool
		ExitCode, Pid                          int
		Error                                  string
		StartedAt, FinishedAt                  time.Time
	}
	RestartCount int
	HostConfig   struct {
		RestartPolicy struct{ Name string }
	}
	NetworkSettings struct {
		Ports map[string][]struct{ HostIP, HostPort string }
	}
}

func (e *Engine) inspect(ctx context.Context, id string) (*inspectJSON, error) {
	var c inspectJSON
	if err := e.call(ctx, "GET", "/containers/"+url.PathEscape(id)+"/json", nil, nil, &c); err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", id, err)
	}
	return &c, nil
}

// Inspect returns the container's current state, with Docker's meaning
// of Running (true while paused or restarting, as Docker reports it;
// Podman's answers are mapped to it).
func (e *Engine) Inspect(ctx context.Context, id string) (engine.State, error) {
	c, err := e.inspect(ctx, id)
	if err != nil {
		return engine.State{}, err
	}
	s := c.State
	st := engine.State{
		Status: normalStatus(s.Status), Running: s.Running || s.Paused || s.Restarting, Paused: s.Paused, Restarting: s.Restarting,
		ExitCode: s.ExitCode, RestartCount: c.RestartCount, OOMKilled: s.OOMKilled, Error: s.Error,
		StartedAt: s.StartedAt, FinishedAt: s.FinishedAt, Pid: s.Pid, Ports: ports(c.NetworkSettings.Ports),
	}
	if !st.Running {
		st.Pid = 0
	}
	return st, nil
}

// normalStatus maps Podman's states to Docker's.
func normalStatus(s string) string {
	switch s {
	case "configured", "initialized":
		return "created"
	case "stopped", "stopping":
		return "exited"
	}
	return s
}

// ports reads the published ports, preferring an IPv4 binding.
func ports(m map[string][]struct{ HostIP, HostPort string }) map[engine.PortKey]engine.HostPort {
	out := map[engine.PortKey]engine.HostPort{}
	for k, bindings := range m {
		num, proto, _ := strings.Cut(k, "/")
		n, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		key := engine.PortKey{Port: n, Protocol: proto}
		for _, b := range bindings {
			hp, err := strconv.Atoi(b.HostPort)
			if err != nil || hp == 0 {
				continue
			}
			prev, seen := out[key]
			if !seen || isIPv6(prev.IP) && !isIPv6(b.HostIP) {
				out[key] = engine.HostPort{IP: b.HostIP, Port: hp}
			}
		}
	}
	return out
}

func isIPv6(ip string) bool {
	p := net.ParseIP(ip)
	return p != nil && p.To4() == nil
}

// Stop sends the stop signal and kills the container after timeout
// (rounded up to whole seconds).
func (e *Engine) Stop(ctx context.Context, id string, timeout time.Duration) error {
	q := url.Values{"t": {strconv.Itoa(seconds(timeout))}}
	err := e.call(ctx, "POST", "/containers/"+url.PathEscape(id)+"/stop", q, nil, nil)
	if err != nil && status(err) != http.StatusNotModified {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	return nil
}

// Kill sends signal ("" for SIGKILL) to the container's main process.
func (e *Engine) Kill(ctx context.Context, id, signal string) error {
	q := url.Values{}
	if signal != "" {
		q.Set("signal", signal)
	}
	if err := e.call(ctx, "POST", "/containers/"+url.PathEscape(id)+"/kill", q, nil, nil); err != nil {
		return fmt.Errorf("kill container %s: %w", id, err)
	}
	return nil
}

// Pause freezes the container's processes. A freeze that runc gives up
// on is tried again: with cgroup v1, runc's freezer fails ("OCI runtime
// pause failed: unable to freeze") when the container's processes fork
// while it freezes them and the host is loaded, and runc thaws the
// container back before it reports that, so another try is safe (seen
// in 1 of 50 runs of the conformance suite's PauseUnpause over ssh://,
// at a load average of 15 on 2 cores).
func (e *Engine) Pause(ctx context.Context, id string) error {
	delay := 50 * time.Millisecond
	for try := 1; ; try++ {
		err := e.call(ctx, "POST", "/containers/"+url.PathEscape(id)+"/pause", nil, nil, nil)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "unable to freeze") || try == pauseTries {
			return fmt.Errorf("pause container %s: %w", id, err)
		}
		if err := sleep(ctx, delay); err != nil {
			return fmt.Errorf("pause container %s: %w", id, err)
		}
		delay *= 2
	}
	return e.settlePaused(ctx, id, true)
}

// pauseTries bounds the tries of a pause that runc could not freeze.
const pauseTries = 5

// settlePaused waits (up to 5 s) until the engine's record of the container
// says paused, or not: Docker answers pause and unpause before its state
// does, and an Inspect right after must not see the old state.
func (e *Engine) settlePaused(ctx context.Context, id string, paused bool) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := e.Inspect(ctx, id)
		if err != nil || st.Paused == paused || time.Now().After(deadline) {
			return nil // the operation succeeded; Inspect's own errors surface to its callers
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Unpause resumes a paused container.
func (e *Engine) Unpause(ctx context.Context, id string) error {
	if err := e.call(ctx, "POST", "/containers/"+url.PathEscape(id)+"/unpause", nil, nil, nil); err != nil {
		return fmt.Errorf("unpause container %s: %w", id, err)
	}
	return e.settlePaused(ctx, id, false)
}
