package docker

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine/enginetest"
	"github.com/composegen/composegen/runtime/internal/discover"
	dt "github.com/ory/dockertest/v3/docker"
)

// openOrSkip connects to the engine that Open finds; without one the test
// is skipped, except under CI=true, where it fails.
func openOrSkip(t testing.TB) *Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := OpenEnv(ctx, discover.OS())
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no engine answers: %v", err)
		}
		t.Skipf("no engine: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestConformance(t *testing.T) {
	e := openOrSkip(t)
	t.Logf("engine: %+v", e.Info())
	enginetest.Run(t, e, enginetest.WithImageRemover(e.removeImage))
}

// removeImage removes an image the suite built.
func (e *Engine) removeImage(ctx context.Context, ref string) error {
	return e.c.RemoveImageExtended(ref, dt.RemoveImageOptions{Force: true, Context: ctx})
}
