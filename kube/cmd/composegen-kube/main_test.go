package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/composegen/composegen/runtime"
	"github.com/composegen/composegen/runtime/composeplan"
)

// orphanEnv makes the test binary a helper that starts a stack on the
// cluster, prints its project and waits to be killed (it never removes
// the stack, as a test process that crashed would not).
const orphanEnv = "COMPOSEGEN_KUBE_TEST_ORPHAN"

func TestMain(m *testing.M) {
	if mode := os.Getenv(orphanEnv); mode != "" {
		orphanStack(mode)
	}
	os.Exit(m.Run())
}

func orphanStack(mode string) {
	plan := &composeplan.Plan{Name: "prunekube", Services: []composeplan.ServiceSpec{{
		Name: "sleeper", Image: "busybox:latest", Command: []string{"sleep", "600"},
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := runtime.Up(ctx, plan, runtime.WithEngine("kubernetes"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(s.ProjectName())
	time.Sleep(10 * time.Minute)
	os.Exit(0) // no Down: the stack is left behind
}

// clientset returns a client of the test cluster: the tests skip without
// one, except under CI=true, where they fail.
func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	fail := t.Skipf
	if os.Getenv("CI") == "true" {
		fail = t.Fatalf
	}
	if os.Getenv("KUBECONFIG") == "" {
		if _, err := os.Stat(os.ExpandEnv("$HOME/.kube/config")); err != nil {
			fail("no Kubernetes cluster: KUBECONFIG is not set and ~/.kube/config does not exist")
		}
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), nil).ClientConfig()
	if err != nil {
		fail("no Kubernetes cluster: %v", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cs.Discovery().ServerVersion(); err != nil || ctx.Err() != nil {
		fail("no Kubernetes cluster: %v", err)
	}
	return cs
}

// namespaces lists the namespaces of a stack (by its compose project
// label), with their phase.
func namespaces(t *testing.T, cs *kubernetes.Clientset, project string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: "com.docker.compose.project=" + project})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ns := range list.Items {
		out = append(out, ns.Name+" ("+string(ns.Status.Phase)+")")
	}
	return out
}

// waitNoNamespace waits until the stack's namespace is gone.
func waitNoNamespace(t *testing.T, cs *kubernetes.Clientset, project string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		left := namespaces(t, cs, project)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace of %s still there %s later: %v", project, limit, left)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// startHelper runs the helper and returns the project it printed; the
// helper runs until it is killed (at the latest at the end of the test).
func startHelper(t *testing.T, mode string) (project string, cmd *exec.Cmd) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), orphanEnv+"="+mode, "COMPOSEGEN_NO_WATCHER=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line := make([]byte, 0, 64)
	buf := make([]byte, 1)
	for {
		n, err := out.Read(buf)
		if n == 0 || err != nil || buf[0] == '\n' {
			break
		}
		line = append(line, buf[0])
	}
	project = strings.TrimSpace(string(line))
	if project == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the helper (%s) did not start its stack:\n%s", mode, stderr.String())
	}
	return project, cmd
}

func prune(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	code = run(ctx, append([]string{"prune"}, args...), &o, &e)
	return code, o.String(), e.String()
}

// A stack left on the cluster by a process that died without cleanup
// (SIGKILL, no watcher) is removed by composegen-kube prune, which names
// it; a second prune has nothing to do. The stack of a process that runs
// is never pruned. (The helpers are killed right before prune: any other
// process's first start reaps the stacks of dead owners too.)
func TestPruneOnKubernetes(t *testing.T) {
	cs := clientset(t)
	t.Setenv("COMPOSEGEN_ENGINE", "")
	live, holder := startHelper(t, "hold")
	dead, victim := startHelper(t, "hold")
	for _, p := range []string{live, dead} {
		if left := namespaces(t, cs, p); len(left) != 1 || !strings.Contains(left[0], "(Active)") {
			t.Fatalf("namespaces of %s: %v, want 1 active", p, left)
		}
	}
	if code, out, errOut := prune(t, "-project", dead); code != 0 || strings.TrimSpace(out) != "nothing to prune" {
		t.Errorf("prune of a live process's stack: exit %d, output %q %q, want 0 and \"nothing to prune\"", code, out, errOut)
	}

	_ = victim.Process.Signal(syscall.SIGKILL)
	_ = victim.Wait()
	code, out, errOut := prune(t, "-v", "-project", dead)
	if code != 0 {
		t.Fatalf("prune exited %d:\n%s%s", code, out, errOut)
	}
	// On Kubernetes the stack is its namespace: removing it removes all.
	if !strings.Contains(out, "removed "+dead+": its owner process is gone") || !strings.Contains(out, "\tproject "+dead+"\n") {
		t.Errorf("prune output does not name the stack and its namespace:\n%s", out)
	}
	waitNoNamespace(t, cs, dead, 2*time.Minute)
	if code, out, errOut := prune(t, "-project", dead); code != 0 || strings.TrimSpace(out) != "nothing to prune" {
		t.Errorf("second prune: exit %d, output %q %q, want 0 and \"nothing to prune\"", code, out, errOut)
	}
	if left := namespaces(t, cs, live); len(left) != 1 || !strings.Contains(left[0], "(Active)") {
		t.Errorf("namespaces of the live process's stack after prune: %v, want 1 active", left)
	}

	_ = holder.Process.Signal(syscall.SIGKILL)
	_ = holder.Wait()
	if code, out, errOut := prune(t, "-project", live); code != 0 || !strings.Contains(out, "removed "+live+": ") {
		t.Errorf("prune after the holder was killed: exit %d, output %q %q", code, out, errOut)
	}
	waitNoNamespace(t, cs, live, 2*time.Minute)

	if code, _, errOut := prune(t, "extra"); code != 2 || !strings.Contains(errOut, "-project") {
		t.Errorf("prune extra: exit %d, stderr %q, want 2 and a hint", code, errOut)
	}
}

// doctor on the cluster: the engine is Kubernetes, the round trip goes
// through a pod and a port-forward.
func TestDoctorOnKubernetes(t *testing.T) {
	clientset(t)
	t.Setenv("COMPOSEGEN_ENGINE", "")
	var o, e bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if code := run(ctx, []string{"doctor"}, &o, &e); code != 0 {
		t.Fatalf("doctor exited %d:\n%s%s", code, o.String(), e.String())
	}
	for _, want := range []string{"ok       engine: kubernetes ", "ok       round trip: created a container, published a port and got its answer"} {
		if !strings.Contains(o.String(), want) {
			t.Errorf("no %q in:\n%s", want, o.String())
		}
	}
	o.Reset()
	e.Reset()
	if code := run(ctx, []string{"doctor", "-f", "compose.yaml"}, &o, &e); code != 2 || !strings.Contains(e.String(), "composegen doctor -f compose.yaml") {
		t.Errorf("doctor -f: exit %d, stderr %q; want 2 and what to run instead", code, e.String())
	}
}
