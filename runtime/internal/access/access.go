// Package access lets package runtimeimpl reach the parts of a running
// service that package runtime keeps out of its public API: package runtime
// sets Plumbing when it is initialised, and runtimeimpl (which imports
// runtime, so runtime is initialised first) calls it. Nothing else should
// use it.
package access

import "context"

// Replica is what generated code and package templates use of a service's
// replica beyond runtime.Service's methods.
type Replica interface {
	// Render executes a user-defined accessor template.
	Render(name, tmpl string) string
	// File returns a file of the container read when it became ready.
	File(path string) (string, bool)
	// Advertised returns the host addresses of the advertised ports.
	Advertised() []string
	// Lock takes a lock of the replica's stack instance, across processes.
	Lock(ctx context.Context, name string) (unlock func(), err error)
	// Lease leases one of n slots of the replica's stack instance.
	Lease(ctx context.Context, name string, n int) (slot int, release func(), err error)
	// Settle waits until the stack's one-shot services have completed.
	Settle(ctx context.Context) error
}

// Plumbing returns the Replica behind a *runtime.Service (its argument,
// typed any to avoid an import cycle). Package runtime sets it.
var Plumbing func(service any) Replica
