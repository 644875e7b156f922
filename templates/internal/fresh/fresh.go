// Package fresh is the per-test provisioning behind the FreshDSN and
// FreshURL accessors of package templates (which hands each call here in one
// line, with the credentials its pure accessors derive): it owns the
// per-test databases (PostgreSQL copies made with CREATE DATABASE …
// TEMPLATE, MySQL and MariaDB copies made from a template database, Redis
// logical databases leased across test binaries), the pool of ready
// PostgreSQL copies that background goroutines refill, the budget of
// administration connections of each server, the sweep of what ended test
// binaries left, and the cross-process locks and leases of the stack
// (Service.Lock, Service.Lease) that all of it coordinates through. It
// talks to the servers with the wire clients of package wire.
//
// Per-test isolation on a shared stack. A stack that many tests share (see
// runtime.Shared) stays fast only if no test sees another's data, so each
// data store kind offers an accessor that gives the calling test a store of
// its own inside the running service:
//
//   - PostgreSQL (Postgres): a new database, a copy (CREATE DATABASE …
//     TEMPLATE) of the service's database as its init scripts and the
//     stack's one-shot services (migrations, seeds) left it, dropped when the
//     test ends. The copy is made from a template that the first call of the
//     stack takes, once, across every test binary that uses the stack.
//   - MySQL and MariaDB (MySQL): a new database with the same tables and
//     rows, dropped when the test ends.
//   - Redis (Redis): a logical database (redis://…/N) leased to the test
//     across every test binary, flushed when leased and when released.
//
// They work on a stack from Start, Up or Shared, and take a few
// milliseconds: what a test should reach for instead of a stack of its own.
//
// FreshDSN's own sessions stay within a budget that leaves the server's
// connections to the tests: at most 4 at work per service across every
// test binary of the stack, plus one idle per test binary (see admin.go).
// Refusals that pass (too many connections, a restart) are retried within
// the test's deadline, and a failure is never remembered for the next
// test. Databases whose drop could not run (a sibling test panicked, the
// binary was killed) are dropped by the next FreshDSN on the stack.
package fresh

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// TB is the part of testing.TB that provisioning uses (templates.TB).
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Name() string
}

// Service is what provisioning reads of a running service
// (templates.StackService, which a runtimeimpl.Service implements): its
// published ports, the identity of its container, and the locks and leases
// that its stack instance's users (every test binary of a go test run that
// shares it) coordinate through.
type Service interface {
	// Addr returns host:port where container port port (tcp) is published.
	Addr(port int) string
	// ContainerID returns the id of the service's container.
	ContainerID() string
	// Lock takes the lock called name of the service's stack instance,
	// across processes, waiting until ctx ends.
	Lock(ctx context.Context, name string) (unlock func(), err error)
	// Lease leases one of n slots called name of the service's stack
	// instance, across processes, waiting until ctx ends.
	Lease(ctx context.Context, name string, n int) (slot int, release func(), err error)
	// Settle waits until the stack's one-shot services (migrations,
	// seeds) have completed.
	Settle(ctx context.Context) error
}

// Login is an account of a database server.
type Login struct{ User, Password string }

// freshTimeout bounds each accessor's work when the test has no deadline;
// with one, they stop a little before it (see testContext).
const freshTimeout = 2 * time.Minute

// testContext returns a context that ends before t's deadline (leaving a
// twentieth of the time left, at least 100ms and at most 5s, for the test
// to report), or after freshTimeout.
func testContext(t TB) (context.Context, context.CancelFunc) {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if dl, ok := d.Deadline(); ok {
			margin := min(max(time.Until(dl)/20, 100*time.Millisecond), 5*time.Second)
			return context.WithDeadline(context.Background(), dl.Add(-margin))
		}
	}
	return context.WithTimeout(context.Background(), freshTimeout)
}

// cleanupContext bounds the work done at t.Cleanup (dropping a database).
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// templateName is the name of the template copy of database db: at most 63
// bytes (PostgreSQL's and MySQL's identifier limits are 63 and 64).
func templateName(db string) string {
	name := "composegen_tmpl_" + db
	if len(name) <= 63 {
		return name
	}
	h := sha256.Sum256([]byte(db))
	return name[:50] + "_" + hex.EncodeToString(h[:6])
}

// once runs work once per key in this process, as long as it succeeds:
// callers that come while it runs wait for it (each until its own ctx
// ends) and share its result; a failure is returned to the callers that
// waited for it and never remembered, so that the next caller tries again
// (and when the failure is the end of the worker's own deadline, the
// waiters try again at once, within theirs).
type once[T any] struct {
	mu sync.Mutex
	m  map[string]*onceCall[T]
}

type onceCall[T any] struct {
	done chan struct{}
	val  T
	err  error
}

func (o *once[T]) do(ctx context.Context, key string, work func() (T, error)) (T, error) {
	for {
		o.mu.Lock()
		if o.m == nil {
			o.m = map[string]*onceCall[T]{}
		}
		c := o.m[key]
		if c == nil {
			c = &onceCall[T]{done: make(chan struct{})}
			o.m[key] = c
			o.mu.Unlock()
			c.val, c.err = work()
			if c.err != nil {
				o.mu.Lock()
				delete(o.m, key)
				o.mu.Unlock()
			}
			close(c.done)
			return c.val, c.err
		}
		o.mu.Unlock()
		select {
		case <-c.done:
			if c.err == nil || !isCtxErr(c.err) || ctx.Err() != nil {
				return c.val, c.err
			}
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("waiting for another test of this process to prepare it: %w", ctx.Err())
		}
	}
}
