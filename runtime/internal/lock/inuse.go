package lock

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// A stack in use is never removed by another process. Every process that
// starts or attaches to a shared stack (Shared, kept or not) holds a shared
// flock on the stack's in-use file for the rest of its life (HoldInUse);
// the kernel releases it when the process ends, however it ends. A process
// that would remove such a stack without being its user (the reaper of
// another start, Prune, a reuse run that finds the stack drifted) first
// takes that lock exclusively, without waiting, and holds it during the
// removal (ClaimForRemoval): when it cannot, a live process uses the stack
// and it is skipped. So a dead owner (the run's watcher killed) never makes
// a stack in use reapable, and no test loses its stack to another package
// or run.

// inUseFile is the in-use file of a stack instance, in its lock directory.
func inUseFile(project string) string {
	return filepath.Join(ProjectDir(project), "in-use")
}

// inUseHeld holds the in-use files of the stacks this process uses, open
// (and so locked) until it ends.
var inUseHeld struct {
	sync.Mutex
	m map[string]*os.File
}

// HoldInUse marks project as used by this process until it ends (or
// ReleaseInUse). It waits (within ctx) while another process removes the
// stack, and never holds a file that was removed or replaced since it was
// opened. A second mark of the same project is the first.
func HoldInUse(ctx context.Context, project string) error {
	inUseHeld.Lock()
	defer inUseHeld.Unlock()
	if inUseHeld.m[project] != nil {
		return nil
	}
	path := inUseFile(project)
	var held *os.File
	err := poll(ctx, func() (bool, error) {
		f, err := openInUse(path)
		if err != nil {
			return false, err
		}
		if err := flock(f, syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return false, nil // being removed: wait for it
			}
			return false, fmt.Errorf("lock %s: %w", path, err)
		}
		if !sameFile(f, path) {
			f.Close() // removed with its stack meanwhile: lock the new one
			return false, nil
		}
		held = f
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("mark stack %s as in use: %w", project, err)
	}
	if inUseHeld.m == nil {
		inUseHeld.m = map[string]*os.File{}
	}
	inUseHeld.m[project] = held
	return nil
}

// ReleaseInUse drops this process's mark on project (after its own Down).
func ReleaseInUse(project string) {
	inUseHeld.Lock()
	defer inUseHeld.Unlock()
	if f := inUseHeld.m[project]; f != nil {
		f.Close()
		delete(inUseHeld.m, project)
	}
}

// ClaimForRemoval takes project's in-use file exclusively. It returns
// ok=false when a live process (this one included) uses the stack.
// Otherwise release ends the claim: call it after the removal, with gone
// set when the stack was removed (its in-use file then goes too).
//
// It never waits for the stack's users. When another process holds the
// claim (a reaper judging the stack, a prune or a drifted run removing it),
// that is no use of the stack: it waits for that claim to end (at most
// RemovalWait) and tries again, so that the stack is then found removed, or
// unused, rather than reported in use.
func ClaimForRemoval(project string) (release func(gone bool), ok bool) {
	path := inUseFile(project)
	deadline := time.Now().Add(RemovalWait)
	d := pollFirst
	for {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if errors.Is(err, fs.ErrNotExist) {
			// Nobody ever marked it from this machine (a stack of an
			// earlier version, or of another machine), or it was
			// removed with its stack.
			return func(bool) {}, true
		}
		if err != nil {
			return nil, false
		}
		err = flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if !sameFile(f, path) {
				f.Close() // removed with its stack meanwhile: look again
				continue
			}
			return func(gone bool) {
				if gone {
					_ = os.Remove(path)
				}
				f.Close()
			}, true
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, false
		}
		// Users hold it shared, a remover exclusively: a shared lock
		// succeeds in the first case only.
		shared := flock(f, syscall.LOCK_SH|syscall.LOCK_NB)
		f.Close()
		if shared == nil || !errors.Is(shared, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			return nil, false
		}
		time.Sleep(d)
		d = min(d*2, pollMax*4)
	}
}

// RemovalWait bounds how long ClaimForRemoval waits for another process's
// claim (a removal of the stack) to end: a stack's removal takes seconds,
// and waits at most 30 s for containers that share its namespaces.
var RemovalWait = 45 * time.Second

// ClaimOwnForRemoval is ClaimForRemoval for a removal this process asked
// for by name (Prune): its own mark does not keep the stack, another
// process's does. The mark is dropped for the claim and taken again when
// the stack stays.
func ClaimOwnForRemoval(ctx context.Context, project string) (release func(gone bool), ok bool) {
	inUseHeld.Lock()
	f := inUseHeld.m[project]
	delete(inUseHeld.m, project)
	inUseHeld.Unlock()
	if f == nil {
		return ClaimForRemoval(project)
	}
	f.Close()
	rehold := func() { _ = HoldInUse(context.WithoutCancel(ctx), project) }
	claimed, ok := ClaimForRemoval(project)
	if !ok {
		rehold()
		return nil, false
	}
	return func(gone bool) {
		claimed(gone)
		if !gone {
			rehold()
		}
	}, true
}

// inUse reports whether a live process (this one included) uses project.
func inUse(project string) bool {
	release, ok := ClaimForRemoval(project)
	if ok {
		release(false)
	}
	return !ok
}

func openInUse(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if err := EnsurePrivateDir(filepath.Dir(path)); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	}
	return f, err
}

// sameFile reports whether f is still the file at path.
func sameFile(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Stat(path)
	return err == nil && os.SameFile(fi, pi)
}
