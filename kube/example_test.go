package kube

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestExampleOnKubernetes runs the example's integration tests, unchanged,
// on the cluster: the generated fixtures of example/itest get the blank
// import that `composegen -engine kubernetes` emits (added by an overlay,
// since the main module must not require this one), and
// COMPOSEGEN_ENGINE=kubernetes selects the engine. The shared stack's
// namespace must be gone within 10 s of go test's end.
func TestExampleOnKubernetes(t *testing.T) {
	t.Parallel()
	testEngine(t)
	if testing.Short() {
		t.Skip("builds and runs the example's tests (-short)")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	work := filepath.Join(dir, "go.work")
	if err := os.WriteFile(work, []byte("go 1.26.0\n\nuse (\n\t"+root+"\n\t"+filepath.Join(root, "kube")+"\n)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "engine_kubernetes.go")
	if err := os.WriteFile(link, []byte("package itest\n\nimport _ \"github.com/composegen/composegen/kube\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	overlay, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(root, "example", "itest", "engine_kubernetes.go"): link}})
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "test", "-count=1", "-v", "-overlay", overlayFile, "./example/...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK="+work, "COMPOSEGEN_ENGINE=kubernetes", "GOFLAGS=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the example's tests failed on Kubernetes: %v\n%s", err, out)
	}
	for _, want := range []string{"--- PASS: TestTestsAreIsolated", "--- PASS: TestOwnStack", "ok  \tgithub.com/composegen/composegen/example/orders"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("no %q in the output:\n%s", want, out)
		}
	}
	// The example's project is "orders": its namespaces start with it.
	// Deletion is asked for within 10 s; the namespace is gone once its
	// pods have terminated.
	for _, c := range []struct {
		within      time.Duration
		terminating bool
	}{{10 * time.Second, true}, {2 * time.Minute, false}} {
		deadline := time.Now().Add(c.within)
		for {
			left := exampleNamespaces(t, c.terminating)
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("namespaces of the example left %s after go test ended: %v", c.within, left)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

// exampleNamespaces lists the namespaces of the example's stacks, with
// those being deleted unless skipTerminating.
func exampleNamespaces(t *testing.T, skipTerminating bool) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := testEngine(t).cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: "io.composegen.managed=true"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ns := range list.Items {
		if !strings.HasPrefix(ns.Labels["com.docker.compose.project"], "orders-") {
			continue
		}
		if skipTerminating && ns.Status.Phase == corev1.NamespaceTerminating {
			continue
		}
		out = append(out, ns.Name+" ("+string(ns.Status.Phase)+")")
	}
	return out
}
