package fresh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/composegen/composegen/templates/internal/wire"
)

func TestFreshName(t *testing.T) {
	valid := regexp.MustCompile(`^t_[a-z0-9_]*[a-f0-9]{16}$`)
	me := freshOwner{tag: spaceTag(), slot: 0xa7}
	for _, name := range []string{"TestOrders", "TestOrders/create_one", "Test/ÜnIcode & spaces/#01", strings.Repeat("TestLong", 30), "", "Test_deadbeef_0123"} {
		got := me.name(name)
		if !valid.MatchString(got) || len(got) > 63 || strings.Contains(got, "__") {
			t.Errorf("name(%q) = %q", name, got)
		}
		if o, ok := parseFreshName(got); !ok || o != me {
			t.Errorf("parseFreshName(%q) = %+v, %v; want %+v", got, o, ok, me)
		}
	}
	if a, b := me.name("TestX"), me.name("TestX"); a == b {
		t.Error("two databases of one test got the same name")
	}
	if got := me.name("TestOrders/create"); !strings.HasPrefix(got, "t_testorders_create_") {
		t.Errorf("the name does not show the test: %q", got)
	}
	// Names FreshDSN did not make (a user's, an older version's) have no
	// owner.
	for _, n := range []string{"t_orders", "t_testx_0123456789", "t_testx_0123456789abcdef0", "app", "composegen_pool_0011_aa"} {
		if o, ok := parseFreshName(n); ok {
			t.Errorf("parseFreshName(%q) = %+v", n, o)
		}
	}
}

func TestTemplateName(t *testing.T) {
	if got := templateName("app"); got != "composegen_tmpl_app" {
		t.Errorf("templateName(app) = %q", got)
	}
	long := strings.Repeat("d", 60)
	got := templateName(long)
	if len(got) > 63 || got == templateName(long+"x") {
		t.Errorf("templateName of long names: %q", got)
	}
}

func TestOnce(t *testing.T) {
	var o once[string]
	var runs atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := o.do(context.Background(), "k", func() (string, error) {
				runs.Add(1)
				time.Sleep(10 * time.Millisecond)
				return "v", nil
			})
			if v != "v" || err != nil {
				t.Errorf("do = %q, %v", v, err)
			}
		}()
	}
	wg.Wait()
	if runs.Load() != 1 {
		t.Errorf("work ran %d times", runs.Load())
	}
	if v, err := o.do(context.Background(), "k", func() (string, error) { return "again", nil }); v != "v" || err != nil {
		t.Errorf("a success is not remembered: %q, %v", v, err)
	}
	// A failure is returned to the callers that waited for it, and never
	// remembered: the next caller tries again.
	fail := errors.New("boom")
	release := make(chan struct{})
	started := make(chan struct{})
	var waiterErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, err := o.do(context.Background(), "f", func() (string, error) { close(started); <-release; return "", fail })
		if err != fail {
			t.Errorf("the failing caller got %v", err)
		}
	}()
	<-started
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, waiterErr = o.do(context.Background(), "f", func() (string, error) { return "waiter ran", nil })
	}()
	time.Sleep(20 * time.Millisecond) // the waiter waits
	close(release)
	wg.Wait()
	if waiterErr != fail {
		t.Errorf("the waiter got %v, want the failure it waited for", waiterErr)
	}
	if v, err := o.do(context.Background(), "f", func() (string, error) { return "ok", nil }); v != "ok" || err != nil {
		t.Errorf("the failure was remembered: %q %v", v, err)
	}
	// When the worker's own deadline ends its work, a waiter with more
	// time tries again at once.
	started = make(chan struct{})
	go o.do(context.Background(), "d", func() (string, error) {
		close(started)
		time.Sleep(20 * time.Millisecond)
		return "", fmt.Errorf("take the template: %w", context.DeadlineExceeded)
	})
	<-started
	if v, err := o.do(context.Background(), "d", func() (string, error) { return "mine", nil }); v != "mine" || err != nil {
		t.Errorf("a waiter after the worker's deadline: %q %v", v, err)
	}
	// A waiter stops waiting when its own context ends.
	started = make(chan struct{})
	go o.do(context.Background(), "slow", func() (string, error) { close(started); time.Sleep(time.Second); return "", nil })
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := o.do(ctx, "slow", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter past its deadline: %v", err)
	}
}

// fakeStack is the part of a stack that the administration sessions use:
// locks and leases of one process, with the runtime's semantics (a
// context that has ended tries once).
type fakeStack struct {
	Service
	mu    sync.Mutex
	locks map[string]bool
}

func (f *fakeStack) ContainerID() string { return fmt.Sprintf("fake-%p", f) }

func (f *fakeStack) try(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.locks == nil {
		f.locks = map[string]bool{}
	}
	if f.locks[name] {
		return false
	}
	f.locks[name] = true
	return true
}

func (f *fakeStack) unlock(name string) func() {
	return func() { f.mu.Lock(); delete(f.locks, name); f.mu.Unlock() }
}

func (f *fakeStack) Lock(ctx context.Context, name string) (func(), error) {
	for !f.try(name) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return f.unlock(name), nil
}

func (f *fakeStack) Lease(ctx context.Context, name string, n int) (int, func(), error) {
	for {
		for k := 0; k < n; k++ {
			if l := fmt.Sprintf("%s.%d", name, k); f.try(l) {
				return k, f.unlock(l), nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// Only the databases of this lock space whose owner slot nobody holds are
// leftovers; this process's own slot is never judged.
func TestLeftovers(t *testing.T) {
	s := &fakeStack{}
	me, err := ownerOf(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := ownerOf(context.Background(), s); again != me {
		t.Errorf("the owner slot changed: %+v, then %+v", me, again)
	}
	if s.try(ownerLock(me.slot)) {
		t.Fatal("this process's owner slot is not held")
	}
	live := freshOwner{tag: me.tag, slot: (me.slot + 1) % ownerSlots}
	if !s.try(ownerLock(live.slot)) { // another process that runs
		t.Fatal("slot taken")
	}
	dead := freshOwner{tag: me.tag, slot: (me.slot + 2) % ownerSlots}
	elsewhere := freshOwner{tag: "abcdef", slot: dead.slot}
	if elsewhere.tag == me.tag {
		elsewhere.tag = "fedcba"
	}
	mine, theirs, gone, far := me.name("TestA"), live.name("TestB"), dead.name("TestC"), elsewhere.name("TestD")
	// An earlier holder of this process's slot, which ended: the slot
	// was free again, and this process drew it.
	before := fmt.Sprintf("t_testz_%s%02xdeadbeef", me.tag, me.slot)
	got := leftovers(s, me, []string{mine, theirs, gone, far, "t_user_database", before, dead.name("TestE")})
	if len(got) != 3 || got[0] != gone || got[1] != before || !strings.HasPrefix(got[2], "t_teste_") {
		t.Errorf("leftovers = %q, want %q, %q and TestE's", got, gone, before)
	}
	if !s.try(ownerLock(dead.slot)) {
		t.Error("judging a slot left it held")
	}
}

type fakeSession struct {
	open *atomic.Int32
}

func (f *fakeSession) Close() error { f.open.Add(-1); return nil }

// Many concurrent callers: never more than adminSessions sessions at work,
// at most one idle; transient failures are retried, others returned.
func TestAdminDo(t *testing.T) {
	s := &fakeStack{}
	g := gateOf(s)
	var open, busy, maxBusy atomic.Int32
	var refusals atomic.Int32
	refusals.Store(5)
	kind := &sessionKind[string, *fakeSession]{
		dial: func(ctx context.Context, _ string) (*fakeSession, error) {
			if refusals.Add(-1) >= 0 {
				return nil, &wire.PGError{Severity: "FATAL", Code: "53300", Message: "sorry, too many clients already"}
			}
			open.Add(1)
			return &fakeSession{open: &open}, nil
		},
		reusable: func(err error) bool { return err == nil },
	}
	var wg sync.WaitGroup
	for i := 0; i < 60; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := adminDo(context.Background(), g, kind, "k", pgTransient, func(ctx context.Context, c *fakeSession) error {
				n := busy.Add(1)
				for {
					m := maxBusy.Load()
					if n <= m || maxBusy.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(2 * time.Millisecond)
				busy.Add(-1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if m := maxBusy.Load(); m > adminSessions || m < 1 {
		t.Errorf("%d sessions at work at once, want 1 to %d", m, adminSessions)
	}
	if n := open.Load(); n != 1 {
		t.Errorf("%d sessions left open, want the one idle", n)
	}
	// A failure that is not transient is returned at once.
	perm := &wire.PGError{Severity: "ERROR", Code: "42501", Message: "permission denied to create database"}
	calls := 0
	err := adminDo(context.Background(), g, kind, "k", pgTransient, func(ctx context.Context, c *fakeSession) error { calls++; return perm })
	if !errors.Is(err, perm) || calls > 2 {
		t.Errorf("a permanent failure: %v after %d calls", err, calls)
	}
	// A transient one is retried until the deadline, which the error
	// names along with the last failure.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	busyErr := &wire.PGError{Severity: "ERROR", Code: "55006", Message: "source database is being accessed by other users"}
	calls = 0
	err = adminDo(ctx, g, kind, "k", pgTransient, func(ctx context.Context, c *fakeSession) error { calls++; return busyErr })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "being accessed") || calls < 2 {
		t.Errorf("a transient failure: %v after %d calls", err, calls)
	}
	if pgTransientTemplate(busyErr) {
		t.Error("a busy source database is transient when taking the template")
	}
	for _, e := range []error{&wire.MySQLError{Code: 1040, Message: "Too many connections"}, io.EOF} {
		if !mysqlTransient(e) {
			t.Errorf("%v is not transient", e)
		}
	}
	if mysqlTransient(&wire.MySQLError{Code: 1044}) || pgTransient(context.DeadlineExceeded) {
		t.Error("a permanent failure is transient")
	}
}

// Each server refusal becomes a message that says why and what to do, and
// never shows the password.
func TestExplainPG(t *testing.T) {
	c := pgCreds{user: "app", password: "s3cret-pw", db: "orders"}
	for _, tc := range []struct {
		err  error
		want []string
	}{
		{&busyError{err: &wire.PGError{Code: "55006", Message: "source database \"orders\" is being accessed by other users"}, sessions: []string{"user app (api) from 172.18.0.3, idle since 2026-01-01 10:00:00"}},
			[]string{"other sessions are connected", "user app (api) from 172.18.0.3", "runtime.WithServices", "first FreshDSN"}},
		{&wire.PGError{Code: "42501", Message: "permission denied to create database"},
			[]string{`user "app" may not create databases`, `ALTER ROLE "app" CREATEDB`}},
		{&wire.PGError{Code: "42501", Message: `permission denied to copy database "orders"`},
			[]string{`may not copy database "orders"`, `ALTER DATABASE "orders" IS_TEMPLATE true`}},
		{&wire.PGError{Code: "28P01", Message: `password authentication failed for user "app"`},
			[]string{`cannot log in as "app"`}},
		{&wire.PGError{Code: "3D000", Message: `database "postgres" does not exist`},
			[]string{`uses "postgres" for its own sessions`}},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), []string{`as user "app"`, "connection refused"}},
	} {
		got := explainPG(tc.err, c, "template").Error()
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("explain(%v) = %q, missing %q", tc.err, got, w)
			}
		}
		if strings.Contains(got, c.password) {
			t.Errorf("explain(%v) shows the password", tc.err)
		}
	}
}
