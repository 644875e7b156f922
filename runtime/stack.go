package runtime

import (
	"context"
	"errors"
	"sync"
)

// Stack is a running stack instance.
type Stack struct {
	plan     *Plan
	cfg      config
	project  string
	host     string
	mu       sync.Mutex
	services map[string]*Service
}

// Up starts the plan's services (the active profiles, or those named with
// WithServices and their dependencies) and waits until each is ready.
func Up(ctx context.Context, plan *Plan, opts ...Option) (*Stack, error) {
	return nil, errors.New("not implemented")
}

// Start is Up for tests: it registers teardown with tb.Cleanup and fails the
// test with diagnostics when the stack cannot start.
func Start(tb TB, plan *Plan, opts ...Option) *Stack {
	tb.Helper()
	s, err := Up(context.Background(), plan, opts...)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	return s
}

// Down stops and removes the stack's containers, networks and volumes.
func (s *Stack) Down(ctx context.Context) error { return nil }

// Service returns the running service named name, nil if it is not part of
// this stack instance (not selected, or excluded by profiles).
func (s *Stack) Service(name string) *Service { return s.services[name] }

// ProjectName returns the unique project name of this stack instance.
func (s *Stack) ProjectName() string { return s.project }
