package lock

import (
	"context"
	"os"
	"testing"
	"time"
)

// A process never claims what it uses itself, and a claim in progress
// makes a new user wait, then hold the new file, not the removed one.
func TestInUseClaims(t *testing.T) {
	privateTemp(t)
	ctx := context.Background()

	if release, ok := ClaimForRemoval("never-used"); !ok {
		t.Fatal("a stack nobody marked cannot be claimed")
	} else {
		release(true)
	}

	if err := HoldInUse(ctx, "mine"); err != nil {
		t.Fatal(err)
	}
	if err := HoldInUse(ctx, "mine"); err != nil {
		t.Fatalf("a second mark: %v", err)
	}
	if !inUse("mine") {
		t.Fatal("this process uses it, yet it is not in use")
	}
	ReleaseInUse("mine")
	if inUse("mine") {
		t.Fatal("released, yet still in use")
	}

	release, ok := ClaimForRemoval("mine")
	if !ok {
		t.Fatal("cannot claim an unused stack")
	}
	defer func(w time.Duration) { RemovalWait = w }(RemovalWait)
	RemovalWait = 300 * time.Millisecond
	t0 := time.Now()
	if _, ok := ClaimForRemoval("mine"); ok {
		t.Fatal("a stack claimed for removal was claimed again")
	}
	if waited := time.Since(t0); waited < RemovalWait {
		t.Errorf("a second claim gave up after %s, before the removal's bound %s", waited, RemovalWait)
	}
	held := make(chan error, 1)
	go func() { held <- HoldInUse(ctx, "mine") }()
	select {
	case err := <-held:
		t.Fatalf("HoldInUse returned during a removal: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	release(true) // the stack is gone, and its in-use file with it
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if !inUse("mine") {
		t.Fatal("the new user's mark is not on the file at the path")
	}
	ReleaseInUse("mine")

	// Prune of a stack this process names: its own mark does not keep
	// it; the mark comes back when the stack stays.
	if err := HoldInUse(ctx, "own"); err != nil {
		t.Fatal(err)
	}
	release, ok = ClaimOwnForRemoval(ctx, "own")
	if !ok {
		t.Fatal("this process's own mark kept its Prune from claiming the stack")
	}
	release(false)
	if !inUse("own") {
		t.Fatal("the stack stayed, yet this process's mark is gone")
	}
	release, ok = ClaimOwnForRemoval(ctx, "own")
	if !ok {
		t.Fatal("cannot claim again")
	}
	release(true)
	if inUse("own") {
		t.Fatal("removed, yet still marked")
	}
	if _, err := os.Stat(inUseFile("own")); !os.IsNotExist(err) {
		t.Errorf("the in-use file of a removed stack stays: %v", err)
	}
}

// Any number of processes use a stack at once, and each one's mark keeps
// it from removal until that process ends, however it ends.
func TestInUseAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	privateTemp(t)
	for _, how := range []string{"ends", "is killed"} {
		endFirst, _ := startChild(t, "in-use", "theirs")
		end, kill := startChild(t, "in-use", "theirs")
		endFirst()
		if !inUse("theirs") {
			t.Fatal("another process's mark is not seen")
		}
		if _, ok := ClaimForRemoval("theirs"); ok {
			t.Fatal("claimed a stack another process uses")
		}
		if how == "ends" {
			end()
		} else {
			kill()
		}
		release, ok := ClaimForRemoval("theirs")
		if !ok {
			t.Fatalf("the user %s, yet its stack cannot be claimed", how)
		}
		release(false)
	}
}

// Another process's mark keeps a stack from a Prune that names it, even
// one from a process that uses it too.
func TestInUseOwnClaimSeesOthers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	privateTemp(t)
	ctx := context.Background()
	if err := HoldInUse(ctx, "both"); err != nil {
		t.Fatal(err)
	}
	defer ReleaseInUse("both")
	startChild(t, "in-use", "both")
	if _, ok := ClaimOwnForRemoval(ctx, "both"); ok {
		t.Fatal("claimed a stack another process uses")
	}
	ReleaseInUse("both")
	if !inUse("both") {
		t.Fatal("the child's mark is gone")
	}
}

// A claim held by another remover is no use of the stack: a second claim
// waits for it, and finds the stack removed (or unused) then; a user's mark
// refuses at once.
func TestClaimWaitsForAnotherRemoval(t *testing.T) {
	privateTemp(t)
	ctx := context.Background()
	for _, gone := range []bool{true, false} {
		if err := HoldInUse(ctx, "busy"); err != nil { // the stack's in-use file
			t.Fatal(err)
		}
		ReleaseInUse("busy")
		release, ok := ClaimForRemoval("busy")
		if !ok {
			t.Fatal("cannot claim an unused stack")
		}
		go func() {
			time.Sleep(300 * time.Millisecond)
			release(gone)
		}()
		t0 := time.Now()
		again, ok := ClaimForRemoval("busy")
		waited := time.Since(t0)
		if !ok {
			t.Fatalf("gone=%v: the second claim failed although no process uses the stack (it waited %s)", gone, waited)
		}
		if waited < 250*time.Millisecond {
			t.Errorf("gone=%v: the second claim did not wait for the first (%s)", gone, waited)
		}
		again(true)
	}

	if err := HoldInUse(ctx, "used"); err != nil {
		t.Fatal(err)
	}
	defer ReleaseInUse("used")
	t0 := time.Now()
	if _, ok := ClaimForRemoval("used"); ok {
		t.Fatal("a stack this process uses was claimed")
	}
	// At once, not after RemovalWait (45 s): 5 s leaves room for a loaded
	// machine under -race.
	if waited := time.Since(t0); waited > 5*time.Second {
		t.Errorf("a claim on a stack in use waited %s; it must refuse at once", waited)
	}
}
