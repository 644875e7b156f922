package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/composegen/composegen/internal/adminhook"
	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/internal/lock"
	"github.com/composegen/composegen/runtime/internal/mask"
)

// A kept shared stack that cannot be reused (its container stopped) or
// whose inputs changed is replaced, and the user is told once, in one line
// with the reason and no container logs; a fresh kept stack gets one line
// too.
func TestSharedReplacedNoticeIsOneLine(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // the lock and failure files
	eng := newFakeEngine(t, map[string]behaviour{"redis": {listenAfter: 10 * time.Millisecond, protocol: "redis"}})
	plan := fakePlan(composeplan.ServiceSpec{Name: "cache", Image: "redis", Kind: "redis",
		Ports:       []composeplan.PortSpec{{Target: 6379, Protocol: "tcp"}},
		Probe:       &composeplan.ProbeSpec{Protocol: "redis", Port: 6379},
		Environment: []composeplan.EnvVar{{Name: "VERSION", Value: "${NOTICE_TEST_VERSION:-1}"}}})
	var mu sync.Mutex
	var lines []string
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(format, args...))
	}
	opts := append(fakeOpts(t, eng), WithReuse(), WithLogf(logf))
	// acquire starts or attaches as a test binary of run would.
	acquire := func(run string, extra ...Option) (*Stack, []string) {
		t.Helper()
		mu.Lock()
		n := len(lines)
		mu.Unlock()
		cfg := newConfig(append(append([]Option(nil), opts...), extra...))
		s, err := acquireShared(context.Background(), plan, cfg, eng, cfg.dir, cfg.dir, &mask.Masker{}, runInfo{scope: run}, 0, &sharedEntry{})
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		return s, append([]string(nil), lines[n:]...)
	}
	oneLine := func(what string, got []string, want ...string) {
		t.Helper()
		t.Logf("%s: %q", what, got)
		if len(got) != 1 || strings.Contains(got[0], "\n") {
			t.Fatalf("%s: notices %q, want one line", what, got)
		}
		for _, w := range want {
			if !strings.Contains(got[0], w) {
				t.Errorf("%s: notice %q lacks %q", what, got[0], w)
			}
		}
		if strings.Contains(got[0], "log line") {
			t.Errorf("%s: notice %q holds container logs", what, got[0])
		}
	}

	s1, got := acquire("run1")
	oneLine("first start", got, "shared stack "+s1.project+" is kept for the next run", "composegen prune -project "+s1.project)
	if s2, got := acquire("run2"); s2.project != s1.project || len(got) != 0 {
		t.Fatalf("next run: attached to %s with notices %q, want %s and none", s2.project, got, s1.project)
	}

	// Its container stops between two runs.
	if err := eng.Kill(context.Background(), s1.Service("cache").ContainerID(), ""); err != nil {
		t.Fatal(err)
	}
	s3, got := acquire("run3")
	oneLine("stopped container", got, "kept shared stack "+s1.project+" replaced (service", `service "cache": its container is exited`, "the new one is kept too")
	if s3.Service("cache").ContainerID() == s1.Service("cache").ContainerID() {
		t.Error("the stopped container was reused")
	}

	// What it is started from changes.
	s4, got := acquire("run4", WithEnv("NOTICE_TEST_VERSION", "2"))
	if s4.project == s3.project {
		t.Fatalf("a changed input reused %s", s3.project)
	}
	oneLine("drift", got, "kept shared stack "+s3.project+" replaced by "+s4.project, "what it was started from changed")
}

// Prune removes the lock, lease and failure files of the stacks it removes
// and of stacks that no longer exist, never a file that a process holds nor
// those of a stack that is still on the engine.
func TestPruneRemovesLockFiles(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	eng := newFakeEngine(t, map[string]behaviour{"redis": {listenAfter: 10 * time.Millisecond, protocol: "redis"}})
	plan := fakePlan(composeplan.ServiceSpec{Name: "cache", Image: "redis", Kind: "redis",
		Ports: []composeplan.PortSpec{{Target: 6379, Protocol: "tcp"}},
		Probe: &composeplan.ProbeSpec{Protocol: "redis", Port: 6379}})
	opts := fakeOpts(t, eng)
	cfg := newConfig(append(append([]Option(nil), opts...), WithReuse()))
	// A kept shared stack, with a failure file left by an earlier run, a
	// lock and a lease.
	kept, err := acquireShared(context.Background(), plan, cfg, eng, cfg.dir, cfg.dir, &mask.Masker{}, runInfo{scope: "run1"}, 0, &sharedEntry{})
	if err != nil {
		t.Fatal(err)
	}
	keptShared := lock.SharedBase(kept.sharedKey)
	if err := os.WriteFile(keptShared+".err", []byte("other-run\nfailed"), 0o600); err != nil {
		t.Fatal(err)
	}
	useLocks := func(s *Stack) {
		t.Helper()
		unlock, err := s.Lock(context.Background(), "once")
		if err != nil {
			t.Fatal(err)
		}
		unlock()
		_, release, err := s.Lease(context.Background(), "db", 2)
		if err != nil {
			t.Fatal(err)
		}
		release()
	}
	useLocks(kept)
	lock.ReleaseInUse(kept.project) // the run that kept it ended
	// A stack that runs (this process owns it): its files stay.
	running, err := upFake(t, eng, plan, opts...)
	if err != nil {
		t.Fatal(err)
	}
	useLocks(running)
	// Files of stacks that are gone, one of them held by a process.
	gone, held := &Stack{project: "gone-stack"}, &Stack{project: "held-stack"}
	useLocks(gone)
	unlockHeld, err := held.Lock(context.Background(), "once")
	if err != nil {
		t.Fatal(err)
	}
	defer unlockHeld()
	staleShared := lock.SharedBase(strings.Repeat("ab", 16))
	heldShared := lock.SharedBase(strings.Repeat("cd", 16))
	for _, p := range []string{staleShared + ".lock", staleShared + ".err", heldShared + ".err"} {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	unlockShared, err := lock.File(context.Background(), heldShared+".lock")
	if err != nil {
		t.Fatal(err)
	}
	defer unlockShared()

	pruned, err := prune(context.Background(), adminhook.PruneOptions{Engine: cfg.engine})
	if err != nil {
		t.Fatal(err)
	}
	if len(pruned) != 1 || pruned[0].Project != kept.project {
		t.Fatalf("Prune removed %+v, want the kept stack %s", pruned, kept.project)
	}
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }
	for _, p := range []string{lock.ProjectDir(kept.project), keptShared + ".lock", keptShared + ".err",
		lock.ProjectDir("gone-stack"), staleShared + ".lock", staleShared + ".err"} {
		if exists(p) {
			t.Errorf("%s is left", p)
		}
	}
	for _, p := range []string{lock.ProjectDir(running.project), filepath.Join(lock.ProjectDir("held-stack"), "lock-once"),
		heldShared + ".lock", heldShared + ".err"} {
		if !exists(p) {
			t.Errorf("%s was removed", p)
		}
	}
	// The held lock still excludes, and a lock whose file Prune removed
	// works again.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := held.Lock(ctx, "once"); err == nil {
		t.Error("a held lock was taken again after Prune")
	}
	useLocks(gone)
}
