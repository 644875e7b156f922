package runtime

import (
	"context"

	"github.com/composegen/composegen/runtime/internal/lock"
)

// Lock takes the lock called name of this stack instance, waiting until
// its holder releases it or ctx ends. One holder at a time across every
// process of this machine that uses the stack (each test binary of a go
// test run that shares it, each goroutine). The lock is released by unlock,
// or by the kernel when the holding process ends, however it ends. With a
// ctx that has already ended, Lock tries once without waiting: it takes a
// free lock and fails at once on a held one (how a process tells whether
// the holder of a lock it knows by name still runs).
//
// It is the building block of "once per stack" work across processes, such
// as taking a template of a database once every one-shot service completed:
// take the lock, check whether the work is done (in the service itself),
// do it if not, unlock.
func (s *Stack) Lock(ctx context.Context, name string) (unlock func(), err error) {
	return lock.Named(ctx, s.project, name)
}

// Lease leases one of n slots called name of this stack instance to the
// caller, across every process of this machine that uses the stack: the
// returned slot (0 ≤ slot < n) is the caller's alone until release, or
// until the process ends, however it ends. When all n are leased it waits
// for one to be released, until ctx ends (the error then says that all n
// were leased).
//
// Slots are tried from a random one on, so that a slot released by a
// killed process is not always the next one handed out.
func (s *Stack) Lease(ctx context.Context, name string, n int) (slot int, release func(), err error) {
	return lock.Lease(ctx, s.project, name, n)
}

// Lock takes the lock called name of the service (a lock of its stack
// instance, see Stack.Lock).
func (s *replica) Lock(ctx context.Context, name string) (unlock func(), err error) {
	return s.stack.Lock(ctx, s.spec.Name+"."+name)
}

// Lease leases one of n slots called name of the service (a lease of its
// stack instance, see Stack.Lease).
func (s *replica) Lease(ctx context.Context, name string, n int) (slot int, release func(), err error) {
	return s.stack.Lease(ctx, s.spec.Name+"."+name, n)
}
