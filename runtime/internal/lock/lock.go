// Package lock holds the cross-process file locks by which the processes
// that use one stack instance coordinate: the test binaries of a go test
// run that share a stack, or the parallel tests of one binary. A named
// lock has one holder at a time, a lease hands out one of n slots, and an
// in-use mark keeps a stack from any other process's removal while this
// process lives. All are flocks on files of a 0700 directory of this user
// under os.TempDir (Root), one directory per stack instance (ProjectDir):
// the kernel releases them when their holder ends, however it ends, so a
// killed test never leaves a lock held; Prune removes the files of stacks
// that are gone, never one a process holds. They work between the
// processes of one machine, which is where a go test run's binaries are.
// It is not a lock service between machines, and it knows nothing of
// engines: the caller says which projects and shared keys are live.
package lock

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
	"syscall"
	"time"
)

// Root is the directory of the lock files of this user.
func Root() string {
	return filepath.Join(os.TempDir(), "composegen-locks-"+strconv.Itoa(os.Getuid()))
}

// ProjectDir is the directory of a stack instance's locks; it goes with
// the stack (RemoveProjectDir).
func ProjectDir(project string) string {
	return filepath.Join(Root(), "p-"+project)
}

// SharedBase is the path, without its extension, of the files of the
// shared stack whose key is key (at least 32 characters): its start lock
// (".lock"), its failure file (".err"), its ready file (".ready"). Prune
// knows these by their key.
func SharedBase(key string) string {
	return filepath.Join(Root(), "shared-"+key[:32])
}

// EnsurePrivateDir creates dir (and its parents) with mode 0700 and checks
// that it is a directory of this user that nobody else can write to, so
// that another user cannot plant files in it.
func EnsurePrivateDir(dir string) error {
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

// FileName turns a lock name into a file name: the name itself when it is
// short and plain, else a hash of it.
func FileName(name string) string {
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
			if err := EnsurePrivateDir(filepath.Dir(path)); err != nil {
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
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
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

// flock is syscall.Flock, retried when a signal interrupts it.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			return err
		}
	}
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

// File waits until it holds the lock file path, or ctx ends, and returns
// its unlock function. With a ctx that has already ended it tries once.
// The file's directory is made (EnsurePrivateDir) when it is missing.
func File(ctx context.Context, path string) (unlock func(), err error) {
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

// Named takes the lock called name of the stack instance project (see
// runtime's Stack.Lock), waiting until its holder releases it or ctx ends.
// With a ctx that has already ended it tries once without waiting: it
// takes a free lock and fails at once on a held one.
func Named(ctx context.Context, project, name string) (unlock func(), err error) {
	dir := ProjectDir(project)
	if err := EnsurePrivateDir(dir); err != nil {
		return nil, fmt.Errorf("lock %q of stack %s: %w", name, project, err)
	}
	unlock, err = File(ctx, filepath.Join(dir, "lock-"+FileName(name)))
	if err != nil {
		return nil, fmt.Errorf("lock %q of stack %s: %w", name, project, err)
	}
	return unlock, nil
}

// Lease leases one of n slots called name of the stack instance project
// (see runtime's Stack.Lease): the slot (0 ≤ slot < n) is the caller's
// alone until release, or until the process ends. When all n are leased
// it waits for one, until ctx ends (the error then says that all n were
// leased).
//
// Slots are tried from a random one on, so that a slot released by a
// killed process is not always the next one handed out.
func Lease(ctx context.Context, project, name string, n int) (slot int, release func(), err error) {
	if n < 1 {
		return 0, nil, fmt.Errorf("lease %q of stack %s: no slots (n = %d)", name, project, n)
	}
	dir := ProjectDir(project)
	if err := EnsurePrivateDir(dir); err != nil {
		return 0, nil, fmt.Errorf("lease %q of stack %s: %w", name, project, err)
	}
	base := filepath.Join(dir, "lease-"+FileName(name)+".")
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
			return 0, nil, fmt.Errorf("lease %q of stack %s: all %d slots stayed leased for %s: %w", name, project, n, time.Since(start).Round(time.Millisecond), err)
		}
		return 0, nil, fmt.Errorf("lease %q of stack %s: %w", name, project, err)
	}
	return slot, func() { unlockFile(held) }, nil
}
