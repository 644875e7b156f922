package lock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// privateTemp gives the test a lock root of its own.
func privateTemp(t *testing.T) {
	t.Helper()
	t.Setenv("TMPDIR", t.TempDir())
}

func TestFileName(t *testing.T) {
	for in, want := range map[string]string{"postgres.pg-template-app": "postgres.pg-template-app", ".hidden": "", "a/b": "", "": "", strings.Repeat("x", 65): ""} {
		got := FileName(in)
		if want != "" && got != want {
			t.Errorf("FileName(%q) = %q, want %q", in, got, want)
		}
		if want == "" && (!strings.HasPrefix(got, "h-") || strings.ContainsAny(got, "/.")) {
			t.Errorf("FileName(%q) = %q, want a hash", in, got)
		}
	}
	if FileName("a/b") == FileName("a/c") {
		t.Error("two names hash to one file")
	}
}

// A lock directory is this user's and nobody else's: one that others can
// write to, a symlink or a file is refused.
func TestEnsurePrivateDir(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "a", "b")
	if err := EnsurePrivateDir(dir); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("made %v, %v; want a 0700 directory", fi, err)
	}
	if err := EnsurePrivateDir(dir); err != nil {
		t.Fatalf("again: %v", err)
	}
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{open, link, file} {
		if err := EnsurePrivateDir(d); err == nil {
			t.Errorf("%s was taken for a private directory", filepath.Base(d))
		}
	}
}

func TestNamedExcludes(t *testing.T) {
	privateTemp(t)
	const p = "locktest"
	var inside, max atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unlock, err := Named(context.Background(), p, "x")
			if err != nil {
				t.Error(err)
				return
			}
			n := inside.Add(1)
			if n > max.Load() {
				max.Store(n)
			}
			time.Sleep(2 * time.Millisecond)
			inside.Add(-1)
			unlock()
		}()
	}
	wg.Wait()
	if max.Load() != 1 {
		t.Errorf("%d holders of a lock at once", max.Load())
	}
	// Another name, or another project, is another lock.
	u1, err := Named(context.Background(), p, "x")
	if err != nil {
		t.Fatal(err)
	}
	defer u1()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Named(ctx, p, "x"); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `lock "x" of stack locktest`) {
		t.Errorf("a held lock was taken again: %v", err)
	}
	u2, err := Named(context.Background(), p, "y")
	if err != nil {
		t.Fatal(err)
	}
	u2()
	u4, err := Named(context.Background(), "other", "x")
	if err != nil {
		t.Fatal(err)
	}
	u4()
	// A context that has ended tries once: a held lock fails, a free one
	// is taken.
	done, stop := context.WithCancel(context.Background())
	stop()
	if _, err := Named(done, p, "x"); err == nil {
		t.Error("a held lock was taken with an ended context")
	}
	u3, err := Named(done, p, "z")
	if err != nil {
		t.Errorf("a free lock was not taken with an ended context: %v", err)
	} else {
		u3()
	}
	// The files are in the project's directory.
	if _, err := os.Stat(filepath.Join(ProjectDir(p), "lock-x")); err != nil {
		t.Error(err)
	}
}

func TestLeaseHandsOutEachSlotOnce(t *testing.T) {
	privateTemp(t)
	const p, n = "leasetest", 3
	var holders [n]atomic.Int32
	var waited atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 24; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			slot, release, err := Lease(context.Background(), p, "db", n)
			if err != nil {
				t.Error(err)
				return
			}
			if time.Since(t0) > 3*time.Millisecond {
				waited.Add(1)
			}
			if slot < 0 || slot >= n {
				t.Errorf("slot %d out of range", slot)
				release()
				return
			}
			if c := holders[slot].Add(1); c != 1 {
				t.Errorf("slot %d leased %d times at once", slot, c)
			}
			time.Sleep(5 * time.Millisecond)
			holders[slot].Add(-1)
			release()
		}()
	}
	wg.Wait()
	if waited.Load() == 0 {
		t.Error("24 leases of 3 slots, and none waited")
	}
	// All leased: the wait ends with ctx, and says so.
	var releases []func()
	for i := 0; i < n; i++ {
		_, r, err := Lease(context.Background(), p, "db", n)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, _, err := Lease(ctx, p, "db", n)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "all 3 slots stayed leased") {
		t.Errorf("lease of a full pool: %v", err)
	}
	for _, r := range releases {
		r()
	}
	if _, _, err := Lease(context.Background(), p, "db", 0); err == nil {
		t.Error("a lease of 0 slots succeeded")
	}
}

// A lease and a lock held by another process exclude this one, and are
// free at once when that process is killed: the kernel releases them.
func TestLocksOfKilledProcessAreReleased(t *testing.T) {
	privateTemp(t)
	const p = "killtest"
	_, kill := startChild(t, "lease", p)
	done, stop := context.WithCancel(context.Background())
	stop()
	if _, _, err := Lease(done, p, "db", 1); err == nil {
		t.Error("a slot held by another process was leased")
	}
	if _, err := Named(done, p, "once"); err == nil {
		t.Error("a lock held by another process was taken")
	}
	kill()
	_, release, err := Lease(done, p, "db", 1)
	if err != nil {
		t.Fatalf("the killed process's slot was not released: %v", err)
	}
	release()
	unlock, err := Named(done, p, "once")
	if err != nil {
		t.Fatalf("the killed process's lock was not released: %v", err)
	}
	unlock()
}

// A lock file removed or replaced between its opening and its locking is
// not the lock any more: lockOpened says so, and tryLock takes the file
// that is there now.
func TestLockOfRemovedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock-x")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if st, err := lockOpened(f, path); err != nil || st != lockStale {
		t.Fatalf("lock of a removed file: %v, %v; want stale", st, err)
	}
	a, err := tryLock(path)
	if err != nil || a == nil {
		t.Fatalf("tryLock: %v, %v", a, err)
	}
	defer unlockFile(a)
	if b, err := tryLock(path); err != nil || b != nil {
		t.Fatalf("second tryLock: %v, %v; want busy", b, err)
	}
}

// A lock whose directory was removed (Prune, a teardown) makes it again.
func TestFileRemakesItsDirectory(t *testing.T) {
	privateTemp(t)
	unlock, err := Named(context.Background(), "gone", "once")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	RemoveProjectDir("gone")
	if _, err := os.Stat(ProjectDir("gone")); !os.IsNotExist(err) {
		t.Fatalf("RemoveProjectDir left %s: %v", ProjectDir("gone"), err)
	}
	path := filepath.Join(ProjectDir("gone"), "lock-once")
	unlock, err = File(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if fi, err := os.Stat(ProjectDir("gone")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the directory made again: %v, %v; want 0700", fi, err)
	}
	done, stop := context.WithCancel(context.Background())
	stop()
	if _, err := File(done, path); err == nil {
		t.Error("the lock taken in the new directory does not exclude")
	}
}
