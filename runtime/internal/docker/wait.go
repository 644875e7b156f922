package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Wait blocks until the container is not running and returns its exit
// code; it returns at once for a container that is not running.
//
// Docker's wait (condition "not-running") does exactly that. Podman 4.3's
// compatible wait polls the container's state, so it misses the exit of a
// container that its restart policy restarts at once and then waits for
// ever; on Podman, Wait follows the engine's "die" events instead.
func (e *Engine) Wait(ctx context.Context, id string) (int, error) {
	if e.podman {
		return e.waitEvents(ctx, id)
	}
	// Docker's wait reads the exit code after it woke up, and by then the
	// restart policy may have started the container again, which resets
	// the code: a crash-looping container's wait answered 0 instead of its
	// exit code 3 on a loaded host. The "die" event carries the code.
	c, err := e.inspect(ctx, id)
	if err != nil {
		return -1, fmt.Errorf("wait for container %s: %w", id, err)
	}
	if p := c.HostConfig.RestartPolicy.Name; p != "" && p != "no" {
		return e.waitEvents(ctx, id)
	}
	var r struct {
		StatusCode int
		Error      *struct{ Message string }
	}
	q := url.Values{"condition": {"not-running"}}
	if err := e.call(ctx, "POST", "/containers/"+url.PathEscape(id)+"/wait", q, nil, &r); err != nil {
		return -1, fmt.Errorf("wait for container %s: %w", id, err)
	}
	if r.Error != nil && r.Error.Message != "" {
		return -1, fmt.Errorf("wait for container %s: %s", id, r.Error.Message)
	}
	return r.StatusCode, nil
}

// event is an engine event, as much as waitEvents reads of it.
type event struct {
	Action   string
	TimeNano int64 `json:"timeNano"`
	Actor    struct{ Attributes map[string]string }
}

// waitEvents waits for the first "die" event of the container after the
// start that its inspection shows.
func (e *Engine) waitEvents(ctx context.Context, id string) (int, error) {
	c, err := e.inspect(ctx, id)
	if err != nil {
		return -1, err
	}
	s := c.State
	if !s.Running && !s.Paused && !s.Restarting {
		return s.ExitCode, nil
	}
	start := s.StartedAt
	filters, _ := json.Marshal(map[string][]string{"container": {id}})
	// since is in whole seconds: older events of that second are skipped below.
	q := url.Values{"since": {strconv.FormatInt(start.Unix(), 10)}, "filters": {string(filters)}}
	resp, err := e.request(ctx, "GET", "/events", q, nil)
	if err != nil {
		return -1, fmt.Errorf("wait for container %s: events: %w", id, err)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var ev event
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil {
				return -1, ctx.Err()
			}
			return -1, fmt.Errorf("wait for container %s: events: %w", id, err)
		}
		if ev.Action != "die" || ev.TimeNano < start.UnixNano() {
			continue
		}
		code, err := strconv.Atoi(ev.Actor.Attributes["exitCode"])
		if err != nil {
			return -1, fmt.Errorf("wait for container %s: the engine's die event has no exit code", id)
		}
		return code, nil
	}
}

// backoff returns the next polling delay, doubling up to max.
func backoff(d, max time.Duration) time.Duration {
	if d *= 2; d > max {
		return max
	}
	return d
}
