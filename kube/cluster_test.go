package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/composegen/composegen/runtime/engine"
)

// Tests that need a cluster take it from KUBECONFIG (or ~/.kube/config);
// without one they skip, except under CI=true, where they fail. The
// cluster needs the images busybox:latest, postgres:16, redis:7-alpine and
// redis:7 (../shared/k8senv/ensure --images "...").

// testLabel marks every resource of this package's tests; its value is
// unique to each test.
const testLabel = "io.composegen.kube.test"

var (
	sharedOnce sync.Once
	shared     *Engine
	sharedErr  error
)

// testEngine returns the engine of the test cluster.
func testEngine(t testing.TB) *Engine {
	t.Helper()
	sharedOnce.Do(func() {
		if _, err := os.Stat(os.ExpandEnv("$HOME/.kube/config")); os.Getenv("KUBECONFIG") == "" && err != nil {
			sharedErr = errors.New("KUBECONFIG is not set and ~/.kube/config does not exist")
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shared, sharedErr = Open(ctx)
	})
	if sharedErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and no Kubernetes cluster: %v", sharedErr)
		}
		t.Skipf("no Kubernetes cluster: %v", sharedErr)
	}
	return shared
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// project is one test's stack instance: a namespace removed at the end of
// the test, which checks that nothing of it is left.
type project struct {
	t      testing.TB
	eng    *Engine
	name   string
	labels map[string]string
}

func newProject(t testing.TB) *project {
	t.Helper()
	eng := testEngine(t)
	p := &project{t: t, eng: eng, name: "kt-" + randomHex(4)}
	p.labels = map[string]string{testLabel: p.name, labelComposeProject: p.name, "io.composegen.managed": "true"}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := eng.CreateProject(ctx, p.name, p.labels); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	t.Cleanup(p.remove)
	return p
}

// remove removes the project as the runtime does and checks that nothing
// is left: no resource with its label, no namespace.
func (p *project) remove() {
	t := p.t
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs, err := p.eng.List(ctx, map[string]string{testLabel: p.name})
	if err != nil {
		t.Errorf("cleanup: List: %v", err)
	}
	for _, kind := range []string{engine.KindContainer, engine.KindVolume, engine.KindNetwork, engine.KindProject} {
		for _, r := range rs {
			if r.Kind == kind {
				if err := p.eng.Remove(ctx, r); err != nil {
					t.Errorf("cleanup: Remove %s %s: %v", r.Kind, r.Name, err)
				}
			}
		}
	}
	if left, err := p.eng.List(ctx, map[string]string{testLabel: p.name}); err != nil || len(left) > 0 {
		t.Errorf("cleanup: left %v, %v", left, err)
	}
	if _, err := p.eng.cs.CoreV1().Namespaces().Get(ctx, namespaceOf(p.name), metav1.GetOptions{}); err == nil {
		t.Errorf("cleanup: namespace %s is still there", namespaceOf(p.name))
	}
}

// spec returns a busybox container of the project running cmd.
func (p *project) spec(service string, cmd ...string) engine.ContainerSpec {
	return engine.ContainerSpec{
		Name: p.name + "-" + service + "-1", Project: p.name, Service: service, Number: 1,
		Image: "busybox:latest", Cmd: cmd, Labels: p.labels,
		Networks: []engine.Attachment{{Network: p.name + "_default", Aliases: []string{service}}},
	}
}

func (p *project) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	p.t.Cleanup(cancel)
	return ctx
}

// create creates a container (removed with the project).
func (p *project) create(spec engine.ContainerSpec) string {
	p.t.Helper()
	id, err := p.eng.Create(p.ctx(), spec)
	if err != nil {
		p.t.Fatalf("Create %s: %v", spec.Name, err)
	}
	return id
}

// run creates and starts a container.
func (p *project) run(spec engine.ContainerSpec) string {
	p.t.Helper()
	id := p.create(spec)
	if err := p.eng.Start(p.ctx(), id); err != nil {
		p.t.Fatalf("Start %s: %v", spec.Name, err)
	}
	return id
}

// exec runs cmd and fails the test when it cannot.
func (p *project) exec(id string, cmd ...string) (int, string, string) {
	p.t.Helper()
	var out, errb strings.Builder
	code, err := p.eng.Exec(p.ctx(), id, cmd, &out, &errb)
	if err != nil {
		p.t.Fatalf("Exec %q: %v", cmd, err)
	}
	return code, out.String(), errb.String()
}

func (p *project) inspect(id string) engine.State {
	p.t.Helper()
	st, err := p.eng.Inspect(p.ctx(), id)
	if err != nil {
		p.t.Fatalf("Inspect: %v", err)
	}
	return st
}

func (p *project) logs(id string, opts engine.LogOptions) string {
	p.t.Helper()
	var out ringBuf
	if err := p.eng.Logs(p.ctx(), id, opts, &out, &out); err != nil {
		p.t.Fatalf("Logs: %v", err)
	}
	return out.String()
}

// eventually polls cond every 100ms until it holds or d passes.
func eventually(d time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if cond() {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return cond()
}

func listPod(pod string) metav1.ListOptions {
	return metav1.ListOptions{LabelSelector: labelPod + "=" + pod + "," + labelKind + "=" + kindMount}
}

var errorsIs = errors.Is
