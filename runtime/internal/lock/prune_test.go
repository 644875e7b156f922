package lock

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// useLocks leaves the files of a lock and a lease of project behind.
func useLocks(t *testing.T, project string) {
	t.Helper()
	unlock, err := Named(context.Background(), project, "once")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	_, release, err := Lease(context.Background(), project, "db", 1)
	if err != nil {
		t.Fatal(err)
	}
	release()
}

func touch(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func exists(p string) bool { _, err := os.Lstat(p); return err == nil }

// Prune removes the files of the projects and shared keys that are not
// live, never a file that a process holds.
func TestPrune(t *testing.T) {
	privateTemp(t)
	for _, p := range []string{"live", "dead", "held"} {
		useLocks(t, p)
	}
	unlockHeld, err := Named(context.Background(), "held", "once")
	if err != nil {
		t.Fatal(err)
	}
	defer unlockHeld()
	liveKey, deadKey, heldKey := strings.Repeat("12", 32), strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	live, dead, held := SharedBase(liveKey), SharedBase(deadKey), SharedBase(heldKey)
	touch(t, live+".lock", live+".err", dead+".lock", dead+".err", held+".err")
	unlockShared, err := File(context.Background(), held+".lock")
	if err != nil {
		t.Fatal(err)
	}
	defer unlockShared()

	removed := Prune(map[string]bool{"live": true}, []string{liveKey}, "")
	gone := []string{ProjectDir("dead"), filepath.Join(ProjectDir("dead"), "lock-once"), filepath.Join(ProjectDir("held"), "lease-db.0"),
		dead + ".lock", dead + ".err"}
	for _, p := range gone {
		if exists(p) {
			t.Errorf("%s is left", p)
		}
		if !slices.Contains(removed, p) {
			t.Errorf("%s is not in what Prune says it removed: %q", p, removed)
		}
	}
	for _, p := range []string{ProjectDir("live"), filepath.Join(ProjectDir("live"), "lock-once"), filepath.Join(ProjectDir("held"), "lock-once"),
		live + ".lock", live + ".err", held + ".lock", held + ".err"} {
		if !exists(p) {
			t.Errorf("%s was removed", p)
		}
		if slices.Contains(removed, p) {
			t.Errorf("Prune says it removed %s", p)
		}
	}
	// The held lock still excludes, and a lock whose file Prune removed
	// works again.
	done, stop := context.WithCancel(context.Background())
	stop()
	if _, err := Named(done, "held", "once"); err == nil {
		t.Error("a held lock was taken again after Prune")
	}
	useLocks(t, "dead")
}

// Prune of one project removes its files and those of its shared key
// only, live or not.
func TestPruneOneProject(t *testing.T) {
	privateTemp(t)
	key, otherKey := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	project := "app-s" + key[:12] // runtime's name of the shared stack of key
	useLocks(t, project)
	useLocks(t, "other")
	mine, other := SharedBase(key), SharedBase(otherKey)
	touch(t, mine+".lock", mine+".err", other+".lock", other+".err")

	Prune(nil, nil, project)
	for _, p := range []string{ProjectDir(project), mine + ".lock", mine + ".err"} {
		if exists(p) {
			t.Errorf("%s is left", p)
		}
	}
	for _, p := range []string{ProjectDir("other"), other + ".lock", other + ".err"} {
		if !exists(p) {
			t.Errorf("%s was removed", p)
		}
	}
	for _, p := range []string{"app-s" + strings.Repeat("ef", 6), "app-s" + otherKey[:11], "app-s" + otherKey[:13]} {
		if removed := Prune(nil, nil, p); len(removed) != 0 {
			t.Errorf("Prune of %s, not the shared stack of a key here, removed %q", p, removed)
		}
	}
}

func TestPruneWithoutRoot(t *testing.T) {
	privateTemp(t)
	if removed := Prune(nil, nil, ""); removed != nil {
		t.Errorf("Prune of no lock root removed %q", removed)
	}
}
