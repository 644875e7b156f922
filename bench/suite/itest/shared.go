package itest

// Hand-written until the generator emits them (issue 11, phase 2): Shared
// and the per-test isolation accessors, as the generated code will call
// them.

import (
	"testing"

	"github.com/composegen/composegen/runtime"
	"github.com/composegen/composegen/templates"
)

// Shared returns the stack that every test of every package of this go
// test run shares (see runtime.Shared).
func Shared(t testing.TB, opts ...runtime.Option) *Stack {
	t.Helper()
	return newComposeStack(runtime.Shared(t, &composePlan, opts...))
}

// FreshDSN returns a DSN to a new database for this test, a copy of the
// service's database after the stack's migrations, dropped when the test
// ends (see templates.PostgresFreshDSN).
func (s *Postgres) FreshDSN(t testing.TB) string {
	t.Helper()
	return templates.PostgresFreshDSN(t, s.svc)
}

// FreshURL returns the URL of a Redis database leased to this test,
// flushed when leased and when the test ends (see templates.RedisFreshURL).
func (s *Redis) FreshURL(t testing.TB) string {
	t.Helper()
	return templates.RedisFreshURL(t, s.svc)
}
