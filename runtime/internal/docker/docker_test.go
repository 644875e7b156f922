package docker

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/engine/enginetest"
	"github.com/composegen/composegen/runtime/internal/discover"
	dt "github.com/ory/dockertest/v3/docker"
)

// openOrSkip connects to the engine that Open finds. Under -short (unit
// tests only) the test is skipped; without an engine too, except under
// CI=true, where it fails.
func openOrSkip(t testing.TB) *Engine {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a container engine; skipped with -short")
	}
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

// On Podman, a container whose network namespace another one shares is
// not removed while that one stays: after the bound, the error names the
// other container and says to remove it first; then the removal works.
// (Docker removes it at once: nothing to check there.)
func TestRemoveWaitsForDependentsBounded(t *testing.T) {
	e := openOrSkip(t)
	if !e.podman {
		t.Skip("Docker removes a container whose namespaces others share")
	}
	defer func(d time.Duration) { dependentsWait = d }(dependentsWait)
	dependentsWait = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := "composegen-test-deps-" + strconv.Itoa(os.Getpid())
	labels := map[string]string{"io.composegen.test": "deps"}
	run := func(suffix, netMode string) string {
		t.Helper()
		id, err := e.Create(ctx, engine.ContainerSpec{Name: name + suffix, Image: "busybox", Cmd: []string{"sleep", "300"}, Labels: labels, NetworkMode: netMode})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = e.Remove(context.Background(), engine.Resource{Kind: engine.KindContainer, ID: id}) })
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	host := run("-host", "")
	guest := run("-guest", "container:"+host)
	t0 := time.Now()
	err := e.Remove(ctx, engine.Resource{Kind: engine.KindContainer, ID: host})
	if err == nil || !strings.Contains(err.Error(), guest) || !strings.Contains(err.Error(), "they were not removed within 2s: remove them first") {
		t.Fatalf("Remove of the host with its guest left = %v; want the refusal naming the guest and the bound", err)
	}
	if took := time.Since(t0); took < 2*time.Second {
		t.Errorf("Remove gave up after %s, before the bound", took)
	}
	if err := e.Remove(ctx, engine.Resource{Kind: engine.KindContainer, ID: guest}); err != nil {
		t.Fatal(err)
	}
	if err := e.Remove(ctx, engine.Resource{Kind: engine.KindContainer, ID: host}); err != nil {
		t.Errorf("Remove of the host once its guest is gone: %v", err)
	}
}
