package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Readiness cadence: probe at once, then back off quickly to a short cap,
// so a service counts as ready within ~cap of becoming ready instead of at
// the engine's next healthcheck interval.
//
// Host-side probes (a protocol greeting through the published port) cost
// next to nothing and run on a tight cadence. A healthcheck runs through
// exec, which costs the engine a process spawn each time (on 2 cores that
// competes with the very server that is starting), so when the service's
// kind speaks a known protocol on a published port the healthcheck waits
// behind that cheap probe, the gate: it runs as soon as the gate passes,
// and at least every gateFallback otherwise, so a gate that never passes
// (TLS-only server, say) delays readiness by at most that much.
var (
	probeFirstDelay = 10 * time.Millisecond
	probeMaxDelay   = 100 * time.Millisecond
	hostProbeMax    = 20 * time.Millisecond
	gateFallback    = 250 * time.Millisecond
)

const (
	defaultInterval = 30 * time.Second
	defaultTimeout  = 30 * time.Second
	defaultRetries  = 3
)

// hasHealthcheck reports whether the compose healthcheck is to be run.
func (s *Service) hasHealthcheck() bool {
	hc := s.spec.Healthcheck
	return hc != nil && !hc.Disable && len(hc.Test) > 0 && hc.Test[0] != "NONE"
}

// awaitReady waits until the service is ready: its healthcheck passes (run
// by us through exec), or its kind's probe answers, or, with neither, it
// runs. A container that exits 0 first counts as completed; one that exits
// non-zero fails at once.
func (s *Service) awaitReady(ctx context.Context) error {
	var check func(ctx context.Context) error
	var budget time.Duration
	switch {
	case s.hasHealthcheck():
		hc := s.spec.Healthcheck
		interval, retries := hc.Interval, hc.Retries
		if interval <= 0 {
			interval = defaultInterval
		}
		if retries <= 0 {
			retries = defaultRetries
		}
		budget = hc.StartPeriod + time.Duration(retries)*interval
		timeout := hc.Timeout
		if timeout <= 0 {
			timeout = defaultTimeout
		}
		cmd, err := s.healthCmd()
		if err != nil {
			return fmt.Errorf("service %q: healthcheck: %w", s.spec.Name, err)
		}
		check = func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			res, err := s.Exec(ctx, cmd...)
			if err != nil {
				if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
					return fmt.Errorf("%s timed out after %s", shortCmd(hc.Test), timeout)
				}
				return err
			}
			if res.ExitCode != 0 {
				out := strings.TrimSpace(res.Stdout + res.Stderr)
				return fmt.Errorf("%s exited %d: %s", shortCmd(hc.Test), res.ExitCode, lastLines(out, 3))
			}
			return nil
		}
	case s.spec.Probe != nil:
		p := s.spec.Probe
		port, ok := s.LookupPort(p.Port, "tcp")
		if !ok {
			return s.awaitRunning(ctx)
		}
		check = func(ctx context.Context) error {
			if err := probeAddr(ctx, p, port.Addr()); err != nil {
				return fmt.Errorf("%s probe of port %d: %w", p.Protocol, p.Port, err)
			}
			return nil
		}
	default:
		return s.awaitRunning(ctx)
	}

	// A container that exits ends the wait at once, even mid-probe: exit 0
	// is completion (a one-shot), non-zero a failure.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.exitedCh:
			cancel()
		case <-cctx.Done():
		}
	}()
	var gate func(ctx context.Context) error
	if s.hasHealthcheck() {
		gate = s.gate()
	}
	start := time.Now()
	delay := probeFirstDelay
	maxDelay := probeMaxDelay
	if !s.hasHealthcheck() {
		maxDelay = hostProbeMax
	}
	var lastCheck time.Time
	var err error
	// Without a healthcheck, a probe that waits in vain is explained from
	// the container's own sockets; for the generic tcp probe (a port of an
	// image composegen does not know) a container that listens only on
	// other ports fails the start once that has lasted elsewhereSettle.
	var watch *listenWatch
	if p := s.spec.Probe; p != nil && !s.hasHealthcheck() {
		watch = &listenWatch{s: s, port: p.Port}
	}
	for {
		select {
		case <-s.exitedCh:
			return s.exitError()
		default:
		}
		run := true
		if gate != nil {
			if gerr := gate(cctx); gerr != nil && time.Since(lastCheck) < gateFallback {
				run = false
				if err == nil {
					err = gerr
				}
			}
		}
		if run {
			lastCheck = time.Now()
			if err = check(cctx); err == nil {
				return nil
			}
		}
		select {
		case <-s.exitedCh:
			return s.exitError()
		default:
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if run {
			if watch != nil {
				if note, fatal := watch.check(); note != "" {
					if fatal && s.spec.Probe.Protocol == "tcp" {
						return fmt.Errorf("service %q: not ready after %s: %s: fix its ports or expose in the compose file, or give it a healthcheck%s", s.spec.Name, time.Since(start).Round(time.Second), note, s.logTail())
					}
					err = fmt.Errorf("%v (%s)", err, note)
				}
			}
			s.recordProbe(err.Error())
		}
		if budget > 0 && time.Since(start) > budget {
			return fmt.Errorf("service %q: unhealthy after %s: %v%s", s.spec.Name, budget, err, s.logTail())
		}
		wait := delay
		if !run {
			wait = gateDelay
		}
		select {
		case <-s.exitedCh:
			return s.exitError()
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		if run {
			if delay *= 2; delay > maxDelay {
				delay = maxDelay
			}
		}
	}
}

// gateDelay is the cadence of the gate while it fails.
var gateDelay = 5 * time.Millisecond

// gate returns the cheap host-side probe that the service's healthcheck
// waits behind: the kind's probe (ServiceSpec.Probe) on its published port,
// nil when the kind has none or the port is not published.
func (s *Service) gate() func(ctx context.Context) error {
	p := s.spec.Probe
	if p == nil {
		return nil
	}
	port, ok := s.LookupPort(p.Port, "tcp")
	if !ok {
		return nil
	}
	addr := port.Addr()
	return func(ctx context.Context) error {
		if err := probeAddr(ctx, p, addr); err != nil {
			return fmt.Errorf("%s probe of port %d: %w", p.Protocol, p.Port, err)
		}
		return nil
	}
}

// awaitRunning is readiness for a service without healthcheck or probe: it
// was started; only an immediate non-zero exit is an error, and that is
// reported by the exit watcher.
func (s *Service) awaitRunning(ctx context.Context) error {
	select {
	case <-s.exitedCh:
		return s.exitError()
	default:
		return nil
	}
}

// exitError is the error for a container that exited before it was ready:
// nil for a one-shot service that exited 0.
func (s *Service) exitError() error {
	s.mu.Lock()
	code := s.exitCode
	s.mu.Unlock()
	if code == 0 {
		return nil
	}
	return fmt.Errorf("service %q: exited with code %d%s", s.spec.Name, code, s.logTail())
}

func (s *Service) healthCmd() ([]string, error) {
	t := s.spec.Healthcheck.Test
	switch t[0] {
	case "CMD":
		if len(t) < 2 {
			return nil, errors.New("CMD without a command")
		}
		return s.stack.res.expandAll("healthcheck.test", t[1:])
	case "CMD-SHELL":
		cmd, err := s.stack.res.expand("healthcheck.test", strings.Join(t[1:], " "))
		if err != nil {
			return nil, err
		}
		return []string{"/bin/sh", "-c", cmd}, nil
	default:
		cmd, err := s.stack.res.expand("healthcheck.test", strings.Join(t, " "))
		if err != nil {
			return nil, err
		}
		return []string{"/bin/sh", "-c", cmd}, nil
	}
}

func shortCmd(test []string) string {
	if len(test) > 1 && (test[0] == "CMD" || test[0] == "CMD-SHELL") {
		test = test[1:]
	}
	s := strings.Join(test, " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func (s *Service) recordProbe(out string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.probes = append(s.probes, out)
	if len(s.probes) > 5 {
		s.probes = s.probes[len(s.probes)-5:]
	}
}
