// Package countengine registers the engine "bench-docker": composegen's
// own Docker engine, wrapped to count and time the calls the runtime makes
// (execs, inspects, creates, starts...). The benchmarks start composegen's
// stacks on it (runtime.WithEngine(countengine.Name)) so that every run
// reports how many healthcheck execs and state reads it cost.
//
// This package imports nothing of the runtime but its engine seam, so that
// it is initialised before the runtime package: the runtime's detached
// watcher (the binary re-executed, see runtime/watcher.go) opens the engine
// by name from the runtime's init function, and the name must be registered
// by then. Go initialises packages in import-path order among those whose
// imports are ready, and ".../bench/internal/countengine" sorts before
// ".../runtime".
package countengine

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/composegen/composegen/runtime/engine"
)

// Name is the engine name to pass to runtime.WithEngine.
const Name = "bench-docker"

func init() {
	engine.Register(Name, func(ctx context.Context) (engine.Engine, error) {
		open, ok := engine.Lookup("docker")
		if !ok {
			return nil, fmt.Errorf("countengine: the docker engine is not registered")
		}
		e, err := open(ctx)
		if err != nil {
			return nil, err
		}
		c := &counting{Engine: e}
		if et, ok := e.(engine.ExecTimeouter); ok {
			// Keep what the runtime asks of the engine: without it, a
			// healthcheck's timeout would count the exec's set-up.
			return &countingTimeouter{c, et}, nil
		}
		return c, nil
	})
}

// Op counts the calls of one engine method.
type Op struct {
	Calls  int64
	Failed int64 // returned an error (for Exec: or a non-zero exit code)
	Total  time.Duration
	Max    time.Duration
}

// Mean is the mean duration of a call.
func (o Op) Mean() time.Duration {
	if o.Calls == 0 {
		return 0
	}
	return o.Total / time.Duration(o.Calls)
}

// Counts is a snapshot of the calls made through the engine.
type Counts struct {
	Ops map[string]Op
	// MaxExecsInFlight is the largest number of execs running at once.
	MaxExecsInFlight int64
}

// Sub returns c - before, per operation (Max is the largest since the
// last ResetMax).
func (c Counts) Sub(before Counts) Counts {
	out := Counts{Ops: map[string]Op{}, MaxExecsInFlight: c.MaxExecsInFlight}
	for k, v := range c.Ops {
		b := before.Ops[k]
		out.Ops[k] = Op{Calls: v.Calls - b.Calls, Failed: v.Failed - b.Failed, Total: v.Total - b.Total, Max: v.Max}
	}
	return out
}

// Short formats the counts that matter for readiness: execs and inspects.
func (c Counts) Short() string {
	e, i := c.Ops["exec"], c.Ops["inspect"]
	return fmt.Sprintf("exec %d (failed %d, mean %s, max %s, ≤%d at once), inspect %d (mean %s, max %s)",
		e.Calls, e.Failed, ms(e.Mean()), ms(e.Max), c.MaxExecsInFlight, i.Calls, ms(i.Mean()), ms(i.Max))
}

// String formats every operation.
func (c Counts) String() string {
	var names []string
	for k := range c.Ops {
		names = append(names, k)
	}
	sort.Strings(names)
	var parts []string
	for _, k := range names {
		o := c.Ops[k]
		if o.Calls == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d (mean %s, max %s)", k, o.Calls, ms(o.Mean()), ms(o.Max)))
	}
	return strings.Join(parts, ", ")
}

func ms(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }

var (
	mu       sync.Mutex
	ops      = map[string]*Op{}
	inFlight atomic.Int64
	maxIn    atomic.Int64
)

// Snapshot returns the counts so far.
func Snapshot() Counts {
	mu.Lock()
	defer mu.Unlock()
	c := Counts{Ops: map[string]Op{}, MaxExecsInFlight: maxIn.Load()}
	for k, v := range ops {
		c.Ops[k] = *v
	}
	return c
}

// ResetMax restarts the measures of maxima: the longest call of each
// operation and the most execs at once.
func ResetMax() {
	mu.Lock()
	defer mu.Unlock()
	for _, o := range ops {
		o.Max = 0
	}
	maxIn.Store(inFlight.Load())
}

func record(name string, t0 time.Time, failed bool) {
	d := time.Since(t0)
	mu.Lock()
	defer mu.Unlock()
	o := ops[name]
	if o == nil {
		o = &Op{}
		ops[name] = o
	}
	o.Calls++
	if failed {
		o.Failed++
	}
	o.Total += d
	if d > o.Max {
		o.Max = d
	}
}

type counting struct {
	engine.Engine
}

func (c *counting) Create(ctx context.Context, spec engine.ContainerSpec) (string, error) {
	t0 := time.Now()
	id, err := c.Engine.Create(ctx, spec)
	record("create", t0, err != nil)
	return id, err
}

func (c *counting) Start(ctx context.Context, id string) error {
	t0 := time.Now()
	err := c.Engine.Start(ctx, id)
	record("start", t0, err != nil)
	return err
}

func (c *counting) Inspect(ctx context.Context, id string) (engine.State, error) {
	t0 := time.Now()
	st, err := c.Engine.Inspect(ctx, id)
	record("inspect", t0, err != nil)
	return st, err
}

func (c *counting) Wait(ctx context.Context, id string) (int, error) {
	t0 := time.Now()
	code, err := c.Engine.Wait(ctx, id)
	record("wait", t0, err != nil)
	return code, err
}

func (c *counting) Exec(ctx context.Context, id string, cmd []string, stdout, stderr io.Writer) (int, error) {
	return countExec(func() (int, error) { return c.Engine.Exec(ctx, id, cmd, stdout, stderr) })
}

// countingTimeouter counts an engine that implements
// engine.ExecTimeouter, and implements it too.
type countingTimeouter struct {
	*counting
	et engine.ExecTimeouter
}

func (c *countingTimeouter) ExecTimeout(ctx context.Context, id string, cmd []string, timeout time.Duration, stdout, stderr io.Writer) (int, error) {
	return countExec(func() (int, error) { return c.et.ExecTimeout(ctx, id, cmd, timeout, stdout, stderr) })
}

func countExec(exec func() (int, error)) (int, error) {
	n := inFlight.Add(1)
	for {
		m := maxIn.Load()
		if n <= m || maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	t0 := time.Now()
	code, err := exec()
	inFlight.Add(-1)
	record("exec", t0, err != nil || code != 0)
	return code, err
}

func (c *counting) List(ctx context.Context, labels map[string]string) ([]engine.Resource, error) {
	t0 := time.Now()
	rs, err := c.Engine.List(ctx, labels)
	record("list", t0, err != nil)
	return rs, err
}

func (c *counting) Remove(ctx context.Context, r engine.Resource) error {
	t0 := time.Now()
	err := c.Engine.Remove(ctx, r)
	record("remove", t0, err != nil)
	return err
}

func (c *counting) Logs(ctx context.Context, id string, opts engine.LogOptions, stdout, stderr io.Writer) error {
	t0 := time.Now()
	err := c.Engine.Logs(ctx, id, opts, stdout, stderr)
	record("logs", t0, err != nil)
	return err
}
