// Package runtimetest helps tests that need a container engine.
package runtimetest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/engines"
)

// RequireEngine skips tb when no container engine answers (the one
// COMPOSEGEN_ENGINE names, Docker by default), and under go test -short.
// Under CI=true a missing engine fails tb instead: CI must not go green by
// skipping. It returns the engine.
func RequireEngine(tb testing.TB) engine.Engine {
	tb.Helper()
	if testing.Short() {
		tb.Skip("needs a container engine; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	eng, err := engines.Open(ctx, "")
	if err != nil {
		if !errors.Is(err, engines.ErrUnavailable) {
			tb.Fatal(err)
		}
		if os.Getenv("CI") == "true" {
			tb.Fatalf("CI=true and no container engine is available: %v", err)
		}
		tb.Skipf("no container engine is available (set CI=true to fail instead): %v", err)
	}
	return eng
}
