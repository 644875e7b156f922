package docker

import (
	"context"
	"encoding/json"
	"errors"
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

// errNoExitCode is a "die" event without the exit code: no new stream
// would give it.
var errNoExitCode = errors.New("the engine's die event has no exit code")

// waitReconnects is how many times waitEvents opens the event stream
// again after it ended or failed before it gives up.
const waitReconnects = 5

// waitRetryDelay and waitRetryMaxDelay are the backoff between two event
// streams. (Variables for the unit tests.)
var waitRetryDelay, waitRetryMaxDelay = 50 * time.Millisecond, time.Second

// waitEvents waits for the first "die" event of the container after the
// start that its inspection shows.
//
// Podman's event stream can end or fail while the container runs. Each
// new stream asks again for the events since that start, so the engine
// replays a "die" that came while no stream was open, even when the
// restart policy has started the container again since: the exit is
// reported, not skipped for the next one.
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
	var lastErr error
	for i, delay := 0, waitRetryDelay; i <= waitReconnects; i, delay = i+1, backoff(delay, waitRetryMaxDelay) {
		if i > 0 {
			if err := sleep(ctx, delay); err != nil {
				return -1, err
			}
		}
		code, err := e.dieSince(ctx, id, start)
		if err == nil || ctx.Err() != nil || errors.Is(err, errNoExitCode) {
			return code, err
		}
		lastErr = err
	}
	return -1, fmt.Errorf("wait for container %s: events: %w (the stream ended %d times)", id, lastErr, waitReconnects+1)
}

// dieSince reads the engine's events for the container from start's
// second on, and returns the exit code of the first "die" at or after
// start.
func (e *Engine) dieSince(ctx context.Context, id string, start time.Time) (int, error) {
	filters, _ := json.Marshal(map[string][]string{"container": {id}})
	// since is in whole seconds: older events of that second are skipped below.
	q := url.Values{"since": {strconv.FormatInt(start.Unix(), 10)}, "filters": {string(filters)}}
	resp, err := e.request(ctx, "GET", "/events", q, nil)
	if err != nil {
		return -1, err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var ev event
		if err := dec.Decode(&ev); err != nil {
			if ctx.Err() != nil {
				return -1, ctx.Err()
			}
			return -1, err
		}
		if ev.Action != "die" || ev.TimeNano < start.UnixNano() {
			continue
		}
		code, err := strconv.Atoi(ev.Actor.Attributes["exitCode"])
		if err != nil {
			return -1, fmt.Errorf("wait for container %s: %w", id, errNoExitCode)
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
