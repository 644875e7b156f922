package fresh

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// The administration sessions of FreshDSN, and what it leaves behind.
//
// Connection budget. FreshDSN's own sessions (taking the template, making
// and claiming copies, refilling the pool, dropping databases) stay within
// a small budget, so that the server's max_connections is left to the
// tests: at most adminSessions sessions at work on a service at a time,
// across every test binary that shares its stack (a lease of the stack,
// see Service.Lease), plus at most one idle session per test binary,
// kept for the next call. With PostgreSQL's default max_connections of 100
// and go test's -p 4, that is at most 8 of the 100.
//
// Transient failures (too many connections, a server that restarts, a copy
// that races a session of the template) are retried with backoff within
// the test's deadline, for at most adminRetryBound; a failure is never
// remembered for the next test.
//
// Leftovers. A test's database is named after the test, the process that
// made it and its machine ("t_<test>_<tag><owner><random>"): each process
// that calls FreshDSN on a stack holds one of ownerSlots owner locks of
// the stack for as long as it runs (the kernel releases it however the
// process ends), and its databases carry the slot. The first FreshDSN of a
// process on a stack drops the databases whose owner slot no process holds
// any more (a test binary that panicked, was killed, or failed to drop),
// and the pool's copies beyond its size.

// adminSessions is how many administration sessions FreshDSN has at work
// on one service at a time, across every test binary of the stack.
const adminSessions = 4

// adminRetryBound bounds the retries of transient failures (the test's
// deadline bounds them too).
const adminRetryBound = 90 * time.Second

// adminAppName is the application_name of FreshDSN's PostgreSQL sessions.
const adminAppName = "composegen FreshDSN"

// gate hands out the administration sessions of one service: a slot of
// this process (so that its goroutines wait on a channel, not by polling
// lock files), then one of the stack's adminSessions leases.
type gate struct {
	s   Service
	sem chan struct{}
}

var gates sync.Map // container ID → *gate

func gateOf(s Service) *gate {
	g, _ := gates.LoadOrStore(s.ContainerID(), &gate{s: s, sem: make(chan struct{}, adminSessions)})
	return g.(*gate)
}

func (g *gate) acquire(ctx context.Context) (release func(), err error) {
	select {
	case g.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for one of FreshDSN's %d administration sessions: %w", adminSessions, ctx.Err())
	}
	_, rel, err := g.s.Lease(ctx, "fresh-admin", adminSessions)
	if err != nil {
		<-g.sem
		return nil, err
	}
	return func() { rel(); <-g.sem }, nil
}

// session is a connection of one of the wire clients.
type session interface{ Close() error }

// sessionKind is how adminDo handles the sessions of one server kind.
type sessionKind[K comparable, C session] struct {
	dial func(context.Context, K) (C, error)
	// reusable says whether a session whose last use returned err can
	// serve again.
	reusable func(err error) bool

	mu   sync.Mutex
	idle map[K]C // at most one per server and user
}

func (k *sessionKind[K, C]) get(key K) (C, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := k.idle[key]
	if ok {
		delete(k.idle, key)
	}
	return c, ok
}

func (k *sessionKind[K, C]) put(key K, c C) {
	k.mu.Lock()
	if _, full := k.idle[key]; !full {
		if k.idle == nil {
			k.idle = map[K]C{}
		}
		k.idle[key] = c
		k.mu.Unlock()
		return
	}
	k.mu.Unlock()
	c.Close()
}

// adminDo runs fn on an administration session of the server key, within
// the budget of g. Errors that retry accepts are retried with backoff
// until ctx ends or adminRetryBound has passed; fn may therefore run more
// than once and must be safe to repeat.
func adminDo[K comparable, C session](ctx context.Context, g *gate, kind *sessionKind[K, C], key K, retry func(error) bool, fn func(context.Context, C) error) error {
	var first time.Time
	delay := 20 * time.Millisecond
	var last error
	redialed := false
	for {
		release, err := g.acquire(ctx)
		if err != nil {
			return gaveUp(err, last)
		}
		c, pooled := kind.get(key)
		if !pooled {
			c, err = kind.dial(ctx, key)
		}
		if err == nil {
			err = fn(ctx, c)
			if kind.reusable(err) {
				kind.put(key, c)
			} else {
				c.Close()
			}
		}
		release()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return gaveUp(err, last)
		case pooled && !kind.reusable(err) && !redialed:
			redialed = true
			continue // the idle session may have been gone (a restart): a new one, at once
		case !retry(err):
			return err
		}
		last = err
		if first.IsZero() {
			first = time.Now()
		} else if time.Since(first) > adminRetryBound {
			return fmt.Errorf("%w (still failing after %s of retries)", err, adminRetryBound)
		}
		// Jitter, so that the test binaries that got the same refusal
		// do not come back at the same instant.
		d := delay/2 + mrand.N(delay)
		select {
		case <-ctx.Done():
			return gaveUp(ctx.Err(), last)
		case <-time.After(d):
		}
		delay = min(delay*2, time.Second)
	}
}

// gaveUp is the error of a call whose time ran out while it retried last.
func gaveUp(err, last error) error {
	if last == nil {
		return err
	}
	return fmt.Errorf("gave up at the deadline (%w), retrying after: %w", err, last)
}

// tooManyHint says what to do when the server's connections are used up.
func tooManyHint(setting string) string {
	return fmt.Sprintf("the server's connections (%s) are taken by other sessions: FreshDSN itself has at most %d at work on a stack and one idle per test binary, so look for the tests' own connections (close them when a test ends, make their pools smaller, run fewer tests at once) or raise %s", setting, adminSessions, setting)
}

// isCtxErr reports whether err is the end of a context.
func isCtxErr(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// ownerSlots is how many processes can use FreshDSN on one service at
// once: each holds one of as many locks of the stack.
const ownerSlots = 256

// freshOwner is this process's identity in the names of the databases it
// makes on one service: the tag of its machine and lock space, and its
// owner slot.
type freshOwner struct {
	tag  string // 6 hex digits
	slot int
}

// held keeps the owner locks of this process referenced (an unreferenced
// lock file would be closed, releasing it, by its finalizer).
var held struct {
	sync.Mutex
	unlocks []func()
}

var owners once[freshOwner]

// ownerOf takes this process's owner slot on s's service, once.
func ownerOf(ctx context.Context, s Service) (freshOwner, error) {
	return owners.do(ctx, s.ContainerID(), func() (freshOwner, error) {
		start := mrand.IntN(ownerSlots)
		for i := 0; i < ownerSlots; i++ {
			k := (start + i) % ownerSlots
			if unlock, ok := tryLock(s, ownerLock(k)); ok {
				held.Lock()
				held.unlocks = append(held.unlocks, unlock)
				held.Unlock()
				return freshOwner{tag: spaceTag(), slot: k}, nil
			}
		}
		return freshOwner{}, fmt.Errorf("all %d owner slots of the stack are held: more test binaries than that use FreshDSN on it at once", ownerSlots)
	})
}

func ownerLock(slot int) string { return fmt.Sprintf("fresh-owner-%02x", slot) }

// tryLock takes lock name of s's stack if it is free, without waiting (a
// Lock whose context has ended tries once).
func tryLock(s Service, name string) (unlock func(), ok bool) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	unlock, err := s.Lock(ctx, name)
	return unlock, err == nil
}

// ownerGone reports whether no process holds owner slot k of s's stack any
// more: whoever made databases with it has ended.
func ownerGone(s Service, k int) bool {
	unlock, ok := tryLock(s, ownerLock(k))
	if ok {
		unlock()
	}
	return ok
}

// spaceTag identifies the processes that see the same lock files: the
// machine (its boot), the mount namespace, the temporary directory and the
// user. A database of another space is never judged by its owner slot
// here: its owner's lock is not among ours.
var spaceTag = sync.OnceValue(func() string {
	host, _ := os.Hostname()
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	mnt, _ := os.Readlink("/proc/self/ns/mnt")
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%s\x00%d", host, strings.TrimSpace(string(boot)), mnt, os.TempDir(), os.Getuid()))
	return hex.EncodeToString(h[:3])
})

// name makes the name of a test's database: "t_", the test's name in
// lower case letters, digits and underscores (at most 40 bytes), "_", the
// owner's tag and slot, and 8 random hex digits, so that a leftover is easy
// to trace to its test and its owner is known.
func (o freshOwner) name(test string) string {
	var b strings.Builder
	b.WriteString("t_")
	last := byte('_')
	for i := 0; i < len(test) && b.Len() < 42; i++ {
		c := test[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		default:
			c = '_'
		}
		if c == '_' && last == '_' {
			continue
		}
		b.WriteByte(c)
		last = c
	}
	if last != '_' {
		b.WriteByte('_')
	}
	var r [4]byte
	_, _ = rand.Read(r[:])
	fmt.Fprintf(&b, "%s%02x%s", o.tag, o.slot, hex.EncodeToString(r[:]))
	made.Store(b.String(), true)
	return b.String()
}

// made holds the names of the databases this process made (name). A
// database of this process's slot that it did not make is a leftover of an
// earlier holder of the slot, which has ended: a slot is free again when
// its holder ends, and the next test binary may draw the same one.
var made sync.Map

var freshNameRE = regexp.MustCompile(`^t_(?:[a-z0-9_]*_)?([0-9a-f]{6})([0-9a-f]{2})[0-9a-f]{8}$`)

// parseFreshName returns the owner of a test's database; ok is false for
// a name that FreshDSN did not make.
func parseFreshName(name string) (o freshOwner, ok bool) {
	m := freshNameRE.FindStringSubmatch(name)
	if m == nil {
		return freshOwner{}, false
	}
	var slot int
	if _, err := fmt.Sscanf(m[2], "%02x", &slot); err != nil {
		return freshOwner{}, false
	}
	return freshOwner{tag: m[1], slot: slot}, true
}

// leftovers returns, of names, the test databases whose owners have ended:
// of this lock space, and of a slot that no process holds, or of this
// process's slot but not made by it.
func leftovers(s Service, me freshOwner, names []string) []string {
	gone := map[int]bool{}
	var out []string
	for _, n := range names {
		o, ok := parseFreshName(n)
		if !ok || o.tag != me.tag {
			continue
		}
		if o.slot == me.slot {
			// This process holds the slot: the database is its own, or
			// of a holder before it that has ended.
			if _, mine := made.Load(n); !mine {
				out = append(out, n)
			}
			continue
		}
		g, seen := gone[o.slot]
		if !seen {
			g = ownerGone(s, o.slot)
			gone[o.slot] = g
		}
		if g {
			out = append(out, n)
		}
	}
	return out
}

// swept remembers the services whose leftovers this process dropped.
var swept sync.Map

// sweepOnce runs sweep the first time this process calls FreshDSN on
// key's service, and logs what it did.
func sweepOnce(t TB, key string, sweep func() (dropped []string, err error)) {
	if _, done := swept.LoadOrStore(key, true); done {
		return
	}
	dropped, err := sweep()
	if len(dropped) > 0 {
		t.Logf("FreshDSN: dropped %d databases left on this stack by test binaries that ended: %s", len(dropped), strings.Join(dropped, ", "))
	}
	if err != nil {
		t.Logf("FreshDSN: leftovers of ended test binaries: %v (a later test binary tries again)", err)
	}
}

// Drops that failed, per service, retried at the next FreshDSN of this
// process on it.
var failedDrops struct {
	sync.Mutex
	m map[string][]string
}

func dropFailed(key, name string) {
	failedDrops.Lock()
	defer failedDrops.Unlock()
	if failedDrops.m == nil {
		failedDrops.m = map[string][]string{}
	}
	failedDrops.m[key] = append(failedDrops.m[key], name)
}

// retryDrops drops again the databases whose drop failed.
func retryDrops(ctx context.Context, key string, drop func(context.Context, string) error) {
	failedDrops.Lock()
	names := failedDrops.m[key]
	delete(failedDrops.m, key)
	failedDrops.Unlock()
	for _, n := range names {
		if err := drop(ctx, n); err != nil {
			dropFailed(key, n)
		}
	}
}

// dropFailure is what a test logs when its database could not be dropped.
func dropFailure(name string, err error) string {
	return fmt.Sprintf("FreshDSN: could not drop database %q: %v; the next FreshDSN on this stack drops it (in this test binary, or in one that starts after it ends), else it goes with the stack", name, err)
}
