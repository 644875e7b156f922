package runtime

import (
	"testing"

	"github.com/composegen/composegen/runtime/runtimetest"
)

// requireDocker skips the test without a container engine (and under
// -short), except under CI=true, where a missing engine is a failure.
func requireDocker(t testing.TB) { t.Helper(); runtimetest.RequireEngine(t) }
