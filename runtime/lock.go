package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Locks and leases coordinate the processes that use one stack instance
// (the test binaries of a go test run that share a stack, or the parallel
// tests of one binary): a lock has one holder at a time, a lease hands out
// one of n slots. Both are file locks (flock) on files of a 0700 directory
// of this user under os.TempDir, one directory per stack instance: the
// kernel releases them when their holder ends, however it ends, so a killed
// test never leaves a lock held. They work between the processes of one
// machine, which is where the test binaries of a go test run are.

// lockRoot is the directory of the lock files of this user.
func lockRoot() string {
	return filepath.Join(os.TempDir(), "composegen-locks-"+strconv.Itoa(os.Getuid()))
}

// projectLockDir is the directory of a stack instance's locks; it goes with
// the stack.
func projectLockDir(project string) string {
	return filepath.Join(lockRoot(), "p-"+project)
}

// ensurePrivateDir creates dir (and its parents) with mode 0700 and checks
// that it is a directory of this user that nobody else can write to, so
// that another user cannot plant files in it.
func ensurePrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || (ok && int(st.Uid) != os.Getuid()) || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is not a private directory of this user", dir)
	}
	return nil
}

// lockFileName turns a lock name into a file name: the name itself when it
// is short and plain, else a hash of it.
func lockFileName(name string) string {
	plain := len(name) > 0 && len(name) <= 64
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			plain = false
			break
		}
	}
	if plain && name[0] != '.' {
		return name
	}
	h := sha256.Sum256([]byte(name))
	return "h-" + hex.EncodeToString(h[:12])
}

// tryLock takes an exclusive flock on path without waiting. It returns the
// open file that holds the lock, or nil when another holder has it.
//
// Lock files go when nobody holds them (teardown, the run's watcher,
// Prune): a file locked after it was removed or replaced is not the lock
// any more, so tryLock checks that path is still the file it locked and
// tries again otherwise.
func tryLock(path string) (*os.File, error) {
	for range 10 {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if errors.Is(err, fs.ErrNotExist) {
			// Its directory was removed (Prune): make it again.
			if err := ensurePrivateDir(filepath.Dir(path)); err != nil {
				return nil, err
			}
			f, err = os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		}
		if err != nil {
			return nil, err
		}
		st, err := lockOpened(f, path)
		switch {
		case err != nil:
			return nil, err
		case st == lockBusy:
			return nil, nil
		case st == lockHeld:
			return f, nil
		}
	}
	return nil, fmt.Errorf("lock %s: the file was removed or replaced each time it was locked", path)
}

// lockState is what lockOpened got.
type lockState int

const (
	lockHeld  lockState = iota // the caller holds the lock
	lockBusy                   // another holder has it
	lockStale                  // the file locked is no longer the one at path
)

// lockOpened takes an exclusive flock on f, opened from path, without
// waiting. Unless it returns lockHeld, f is closed.
func lockOpened(f *os.File, path string) (lockState, error) {
	var err error
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return lockBusy, nil
		}
		return 0, fmt.Errorf("lock %s: %w", path, err)
	}
	fi, ferr := f.Stat()
	pi, perr := os.Stat(path)
	if ferr == nil && (perr != nil || !os.SameFile(fi, pi)) {
		unlockFile(f)
		return lockStale, nil
	}
	return lockHeld, nil
}

// unlockFile releases a lock taken by tryLock.
func unlockFile(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	_ = f.Close()
}

// Polling bounds of a contended lock or lease: waiters retry quickly at
// first (a FreshDSN waiting for the template behind another test), then
// every pollMax.
var (
	pollFirst = 2 * time.Millisecond
	pollMax   = 25 * time.Millisecond
)

// poll calls try until it succeeds, fails or ctx ends.
func poll(ctx context.Context, try func() (bool, error)) error {
	d := pollFirst
	for {
		ok, err := try()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		d = min(d*2, pollMax)
	}
}

// lockPath waits until it holds the lock file path and returns its unlock
// function.
func lockPath(ctx context.Context, path string) (unlock func(), err error) {
	var f *os.File
	err = poll(ctx, func() (bool, error) {
		var err error
		f, err = tryLock(path)
		return f != nil, err
	})
	if err != nil {
		return nil, err
	}
	return func() { unlockFile(f) }, nil
}

// Lock takes the lock called name of this stack instance, waiting until
// its holder releases it or ctx ends. One holder at a time across every
// process of this machine that uses the stack (each test binary of a go
// test run that shares it, each goroutine). The lock is released by unlock,
// or by the kernel when the holding process ends, however it ends. With a
// ctx that has already ended, Lock tries once without waiting: it takes a
// free lock and fails at once on a held one (how a process tells whether
// the holder of a lock it knows by name still runs).
//
// It is the building block of "once per stack" work across processes, such
// as taking a template of a database once every one-shot service completed:
// take the lock, check whether the work is done (in the service itself),
// do it if not, unlock.
func (s *Stack) Lock(ctx context.Context, name string) (unlock func(), err error) {
	dir := projectLockDir(s.project)
	if err := ensurePrivateDir(dir); err != nil {
		return nil, fmt.Errorf("lock %q of stack %s: %w", name, s.project, err)
	}
	unlock, err = lockPath(ctx, filepath.Join(dir, "lock-"+lockFileName(name)))
	if err != nil {
		return nil, fmt.Errorf("lock %q of stack %s: %w", name, s.project, err)
	}
	return unlock, nil
}

// Lease leases one of n slots called name of this stack instance to the
// caller, across every process of this machine that uses the stack: the
// returned slot (0 ≤ slot < n) is the caller's alone until release, or
// until the process ends, however it ends. When all n are leased it waits
// for one to be released, until ctx ends (the error then says that all n
// were leased).
//
// Slots are tried from a random one on, so that a slot released by a
// killed process is not always the next one handed out.
func (s *Stack) Lease(ctx context.Context, name string, n int) (slot int, release func(), err error) {
	if n < 1 {
		return 0, nil, fmt.Errorf("lease %q of stack %s: no slots (n = %d)", name, s.project, n)
	}
	dir := projectLockDir(s.project)
	if err := ensurePrivateDir(dir); err != nil {
		return 0, nil, fmt.Errorf("lease %q of stack %s: %w", name, s.project, err)
	}
	base := filepath.Join(dir, "lease-"+lockFileName(name)+".")
	var held *os.File
	start := time.Now()
	err = poll(ctx, func() (bool, error) {
		first := rand.IntN(n)
		for i := 0; i < n; i++ {
			k := (first + i) % n
			f, err := tryLock(base + strconv.Itoa(k))
			if err != nil {
				return false, err
			}
			if f != nil {
				slot, held = k, f
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return 0, nil, fmt.Errorf("lease %q of stack %s: all %d slots stayed leased for %s: %w", name, s.project, n, time.Since(start).Round(time.Millisecond), err)
		}
		return 0, nil, fmt.Errorf("lease %q of stack %s: %w", name, s.project, err)
	}
	return slot, func() { unlockFile(held) }, nil
}

// Lock takes the lock called name of the service (a lock of its stack
// instance, see Stack.Lock).
func (s *replica) Lock(ctx context.Context, name string) (unlock func(), err error) {
	return s.stack.Lock(ctx, s.spec.Name+"."+name)
}

// Lease leases one of n slots called name of the service (a lease of its
// stack instance, see Stack.Lease).
func (s *replica) Lease(ctx context.Context, name string, n int) (slot int, release func(), err error) {
	return s.stack.Lease(ctx, s.spec.Name+"."+name, n)
}

// removeLockDir removes the lock directory of a stack instance that is
// gone.
func removeLockDir(project string) {
	if project != "" {
		_ = os.RemoveAll(projectLockDir(project))
	}
}

// pruneLockFiles removes the lock, lease and failure files of the stack
// instances that are not on the engine any more (live lists the projects
// and shared keys it holds), or, with project, of that instance only.
// A file that a process holds (a test that runs) stays: each is removed
// under its own lock, and tryLock never uses a removed file. It returns
// the paths it removed.
func pruneLockFiles(live map[string]bool, liveKeys []string, project string) []string {
	root := lockRoot()
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var removed []string
	// remove removes path when nobody holds it (its lock, or for a
	// failure file, the lock of its shared stack).
	remove := func(path, lockPath string) bool {
		f, err := tryLock(lockPath)
		if err != nil || f == nil {
			return false
		}
		defer unlockFile(f)
		if path != lockPath {
			if os.Remove(path) != nil {
				return false
			}
			removed = append(removed, path)
		}
		if os.Remove(lockPath) == nil {
			removed = append(removed, lockPath)
		}
		return true
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir() && strings.HasPrefix(name, "p-"):
			p := strings.TrimPrefix(name, "p-")
			if live[p] || project != "" && p != project {
				continue
			}
			dir := filepath.Join(root, name)
			files, _ := os.ReadDir(dir)
			for _, f := range files {
				if !f.IsDir() {
					remove(filepath.Join(dir, f.Name()), filepath.Join(dir, f.Name()))
				}
			}
			if os.Remove(dir) == nil {
				removed = append(removed, dir)
			}
		case strings.HasPrefix(name, "shared-") && (strings.HasSuffix(name, ".lock") || strings.HasSuffix(name, ".err")):
			k := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(name, "shared-"), ".lock"), ".err")
			if keyIsLive(k, liveKeys) || project != "" && !sharedProjectOf(project, k) {
				continue
			}
			lock := filepath.Join(root, "shared-"+k+".lock")
			if strings.HasSuffix(name, ".err") {
				remove(filepath.Join(root, name), lock)
			} else if _, err := os.Lstat(lock); err == nil {
				remove(lock, lock)
			}
		}
	}
	return removed
}

// keyIsLive reports whether the key prefix k (of a shared lock file's
// name) is the prefix of a shared stack's key on the engine.
func keyIsLive(k string, keys []string) bool {
	for _, key := range keys {
		if strings.HasPrefix(key, k) {
			return true
		}
	}
	return false
}

// sharedProjectOf reports whether project is the name of the shared stack
// whose key starts with k (see sharedProjectName).
func sharedProjectOf(project, k string) bool {
	i := strings.LastIndex(project, "-s")
	return i >= 0 && len(project)-i-2 == 12 && strings.HasPrefix(k, project[i+2:])
}
