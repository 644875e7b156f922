package runtime

import (
	"context"
	"os"
	"testing"
	"time"
)

// requireDocker skips the test when no engine answers, except under
// CI=true, where a missing engine is a failure.
func requireDocker(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := getEngine(ctx); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and Docker is not available: %v", err)
		}
		t.Skipf("Docker is not available: %v", err)
	}
}
