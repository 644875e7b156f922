package kube

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/composegen/composegen/internal/admin"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The runtime's shared-stack suite (runtime/internal/sharedsuite) run on
// the cluster: packages a, b and c, three parallel tests each, every test
// calls Shared and uses FreshDSN (PostgreSQL) and FreshURL (Redis). It is
// built with -tags sharedsuite, in a workspace of both modules, with an
// overlay that links this engine into each package (as `composegen -engine
// kubernetes` does into generated fixtures), and run with
// COMPOSEGEN_ENGINE=kubernetes. With -p 2 the third package's test binary
// starts once one of the first two has ended: it attaches after the
// process that started the stack may be gone.

// sharedPlanLabel is the label of a shared stack's plan name (runtime).
const sharedPlanLabel = "io.composegen.shared.plan"

// sharedSuite is one configuration of the suite; its plan name is unique.
type sharedSuite struct {
	t      *testing.T
	name   string
	report string
	dir    string // the main module's root
	env    []string
	cmd    []string // go test and its flags, packages excluded
	built  bool     // the test binaries were built (build)
}

// suiteRun is what one go test of the suite left.
type suiteRun struct {
	out        string
	lines      []string
	namespaces []string // the plan's namespaces seen during the run
	exited     time.Time
}

func newSharedSuite(t *testing.T) *sharedSuite {
	t.Helper()
	testEngine(t)
	if testing.Short() {
		t.Skip("builds and runs test binaries on the cluster (-short)")
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
	replace := map[string]string{}
	for _, pkg := range []string{"a", "b", "c"} {
		link := filepath.Join(dir, "engine_kubernetes_"+pkg+".go")
		src := "//go:build sharedsuite\n\npackage " + pkg + "\n\nimport _ \"github.com/composegen/composegen/kube\"\n"
		if err := os.WriteFile(link, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		replace[filepath.Join(root, "runtime", "internal", "sharedsuite", pkg, "engine_kubernetes.go")] = link
	}
	overlay, _ := json.Marshal(map[string]map[string]string{"Replace": replace})
	overlayFile := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayFile, overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	s := &sharedSuite{t: t, name: "kgsuite" + randomHex(4), report: filepath.Join(dir, "report")}
	s.env = []string{"GOWORK=" + work, "GOFLAGS=", "COMPOSEGEN_ENGINE=kubernetes",
		"COMPOSEGEN_SUITE_NAME=" + s.name, "COMPOSEGEN_SUITE_MODE=share", "COMPOSEGEN_SUITE_REPORT=" + s.report}
	s.dir = root
	s.cmd = []string{"go", "test", "-tags", "sharedsuite", "-overlay", overlayFile, "-count=1", "-p", "2", "-parallel", "3"}
	return s
}

// namespaces lists the namespaces of the suite's plan; those being deleted
// only with terminating.
func (s *sharedSuite) namespaces(terminating bool) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := testEngine(s.t).cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: sharedPlanLabel + "=" + s.name})
	if err != nil {
		s.t.Errorf("list the suite's namespaces: %v", err)
		return nil
	}
	var out []string
	for _, ns := range list.Items {
		if terminating || ns.Status.Phase != corev1.NamespaceTerminating {
			out = append(out, ns.Name)
		}
	}
	return out
}

// removeLeft removes what a failed run left of the plan's stacks.
func (s *sharedSuite) removeLeft() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := testEngine(s.t).cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{LabelSelector: sharedPlanLabel + "=" + s.name})
	if err != nil {
		s.t.Errorf("list the suite's namespaces: %v", err)
		return
	}
	for _, ns := range list.Items {
		if ns.Status.Phase != corev1.NamespaceTerminating {
			removeStack(s.t, ns.Labels[labelComposeProject])
		}
	}
}

// build compiles the suite's test binaries once, without running a test,
// so that the timed runs do not include the build: with cold Go caches (a
// new machine) the build of client-go alone took over 5 minutes.
func (s *sharedSuite) build(pkgs []string) {
	if s.built {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	args := append(append([]string(nil), s.cmd[1:]...), "-run", "^$")
	cmd := exec.CommandContext(ctx, s.cmd[0], append(args, pkgs...)...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), s.env...)
	t0 := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("build the shared suite: %v\n%s", err, out)
	}
	s.t.Logf("built the shared suite in %s", time.Since(t0).Round(time.Millisecond))
	s.built = true
}

// run runs go test on packages a, b and c with extra environment, and
// records the namespaces of the plan while it runs.
func (s *sharedSuite) run(extra ...string) *suiteRun {
	t := s.t
	t.Helper()
	_ = os.Remove(s.report)
	r := &suiteRun{}
	seen := map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			for _, ns := range s.namespaces(false) {
				seen[ns] = true
			}
			select {
			case <-stop:
				return
			case <-time.After(250 * time.Millisecond):
			}
		}
	}()
	pkgs := []string{"./runtime/internal/sharedsuite/a", "./runtime/internal/sharedsuite/b", "./runtime/internal/sharedsuite/c"}
	s.build(pkgs)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append(append([]string(nil), s.cmd[1:]...), pkgs...)
	cmd := exec.CommandContext(ctx, s.cmd[0], args...)
	cmd.Dir = s.dir
	cmd.Env = append(append(os.Environ(), s.env...), extra...)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	r.exited = time.Now()
	close(stop)
	wg.Wait()
	for ns := range seen {
		r.namespaces = append(r.namespaces, ns)
	}
	sort.Strings(r.namespaces)
	r.out = string(out)
	b, _ := os.ReadFile(s.report)
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			r.lines = append(r.lines, l)
		}
	}
	t.Logf("go test of the shared suite took %s", r.exited.Sub(t0).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("go test of the shared suite on Kubernetes failed: %v\n%s", err, out)
	}
	return r
}

// check checks that the nine tests attached to one stack, in one
// namespace, and passed the isolation checks; it returns the project.
func (r *suiteRun) check(t *testing.T) string {
	t.Helper()
	var project string
	attached, ok := 0, 0
	for _, l := range r.lines {
		f := strings.Fields(l)
		switch f[0] {
		case "ATTACH":
			attached++
			if project == "" {
				project = f[3]
			}
			if f[3] != project {
				t.Errorf("tests attached to different stacks: %s and %s", project, f[3])
			}
		case "OK":
			ok++
		case "ISOLATION-BROKEN", "FATAL":
			t.Errorf("%s", l)
		}
	}
	if attached != 9 || ok != 9 {
		t.Fatalf("%d tests attached and %d passed the isolation checks, want 9 and 9:\n%s\n%s", attached, ok, strings.Join(r.lines, "\n"), r.out)
	}
	for _, pkg := range []string{"a", "b", "c"} {
		if !strings.Contains(r.out, "ok  \tgithub.com/composegen/composegen/runtime/internal/sharedsuite/"+pkg) {
			t.Errorf("package %s did not pass:\n%s", pkg, r.out)
		}
	}
	if len(r.namespaces) != 1 || r.namespaces[0] != namespaceOf(project) {
		t.Errorf("namespaces of the suite during the run: %v, want only %s", r.namespaces, namespaceOf(project))
	}
	return project
}

// waitGone waits up to limit after the run for the plan's namespaces to be
// gone, terminating ones included.
func (s *sharedSuite) waitGone(r *suiteRun, limit time.Duration) {
	t := s.t
	t.Helper()
	for {
		left := s.namespaces(true)
		if len(left) == 0 {
			t.Logf("the suite's namespace was gone %s after go test ended", time.Since(r.exited).Round(time.Millisecond))
			return
		}
		if time.Since(r.exited) > limit {
			t.Errorf("namespaces %v still there %s after go test ended", left, limit)
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Every test binary of a go test run reaches the one shared stack on the
// cluster, whichever started it and whether that one still runs: each
// publishes the stack's ports to itself (its own port-forwards). The
// stack's namespace is the only one of the run, and it is gone within 60 s
// of go test's end.
func TestSharedStackAcrossTestBinaries(t *testing.T) {
	t.Parallel()
	s := newSharedSuite(t)
	t.Cleanup(s.removeLeft)
	r := s.run()
	r.check(t)
	s.waitGone(r, 60*time.Second)
}

// With reuse (COMPOSEGEN_REUSE=1) the stack stays after the run, and in the
// next run every test binary attaches to it (none starts it, so none holds
// port-forwards from a start): the same namespace, and the tests pass.
func TestSharedKeptStackAcrossRuns(t *testing.T) {
	t.Parallel()
	s := newSharedSuite(t)
	t.Cleanup(s.removeLeft)
	r1 := s.run("COMPOSEGEN_REUSE=1")
	p1 := r1.check(t)
	r2 := s.run("COMPOSEGEN_REUSE=1")
	if p2 := r2.check(t); p2 != p1 {
		t.Fatalf("the second run used %s, want the kept %s", p2, p1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pruned, err := admin.Prune(ctx, admin.PruneOptions{Engine: Name, Project: p1})
	if err != nil {
		t.Fatal(err)
	}
	if len(pruned) != 1 || pruned[0].Project != p1 || pruned[0].Skipped {
		t.Fatalf("Prune = %+v, want the kept stack %s removed", pruned, p1)
	}
	s.waitGone(r2, 2*time.Minute)
}
