package runtime

import (
	"context"
	"fmt"
	"testing"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/docker"
	"github.com/composegen/composegen/runtime/internal/engines"
	"github.com/composegen/composegen/runtime/internal/label"
	"github.com/composegen/composegen/runtime/internal/reap"
	dt "github.com/ory/dockertest/v3/docker"
)

// testEngine is the engine the tests run on, with its raw Docker client
// for assertions on what the engine holds (nil on other engines).
type testEngine struct {
	eng engine.Engine
	c   *dt.Client
}

func getEngine(ctx context.Context) (*testEngine, error) {
	e, err := engines.Open(ctx, "")
	if err != nil {
		return nil, err
	}
	return &testEngine{eng: e, c: docker.RawClient(e)}, nil
}

// testClient returns the raw Docker client; the test skips on engines
// without one.
func testClient(t *testing.T) *dt.Client {
	t.Helper()
	e, err := getEngine(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if e.c == nil {
		t.Skipf("checks Docker's own view of the container; the %s engine has none", e.eng.Info().Name)
	}
	return e.c
}

// counts are resources carrying a label.
type counts struct{ containers, networks, volumes, projects int }

func (c counts) total() int { return c.containers + c.networks + c.volumes + c.projects }

func (c counts) String() string {
	return fmt.Sprintf("%d containers, %d networks, %d volumes, %d projects", c.containers, c.networks, c.volumes, c.projects)
}

// countLabels counts the resources that carry labels.
func countLabels(t testing.TB, labels map[string]string) counts {
	t.Helper()
	e, err := getEngine(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.eng.List(context.Background(), labels)
	if err != nil {
		t.Fatal(err)
	}
	var c counts
	for _, r := range list {
		switch r.Kind {
		case engine.KindContainer:
			c.containers++
		case engine.KindNetwork:
			c.networks++
		case engine.KindVolume:
			c.volumes++
		case engine.KindProject:
			c.projects++
		}
	}
	return c
}

func projectCount(t testing.TB, project string) counts {
	t.Helper()
	return countLabels(t, map[string]string{label.Project: project})
}

// assertNoneLeft fails t when anything of project remains, and removes it.
func assertNoneLeft(t *testing.T, project string) {
	t.Helper()
	if c := projectCount(t, project); c.total() != 0 {
		t.Errorf("project %s: %v left behind", project, c)
		removeProject(t, project)
	}
}

// removeProject removes whatever carries project's label, for tests that
// keep stacks on purpose.
func removeProject(t testing.TB, project string) {
	t.Helper()
	e, err := getEngine(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reap.Remove(context.Background(), e.eng, map[string]string{label.Project: project}, nil, nil); err != nil {
		t.Errorf("removing %s: %v", project, err)
	}
}

// skipOnPodman skips a test that cannot pass on Podman 4.3 for the reason
// given (a behaviour of the engine, not of composegen); docs/engines.md
// (Podman) lists these tests.
func skipOnPodman(t *testing.T, reason string) {
	t.Helper()
	if onPodman(t) {
		t.Skip("Podman 4.3: " + reason)
	}
}

// onPodman reports whether the tests run on Podman.
func onPodman(t testing.TB) bool {
	t.Helper()
	e, err := getEngine(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return e.eng.Info().Name == "podman"
}
