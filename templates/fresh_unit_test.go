package templates

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/composegen/composegen/templates/internal/wire"
)

func TestFreshName(t *testing.T) {
	valid := regexp.MustCompile(`^t_[a-z0-9_]*[a-f0-9]{10}$`)
	for _, name := range []string{"TestOrders", "TestOrders/create_one", "Test/ÜnIcode & spaces/#01", strings.Repeat("TestLong", 30), ""} {
		got := freshName(name)
		if !valid.MatchString(got) || len(got) > 63 || strings.Contains(got, "__") {
			t.Errorf("freshName(%q) = %q", name, got)
		}
	}
	if a, b := freshName("TestX"), freshName("TestX"); a == b {
		t.Error("two databases of one test got the same name")
	}
	if got := freshName("TestOrders/create"); !strings.HasPrefix(got, "t_testorders_create_") {
		t.Errorf("freshName does not show the test: %q", got)
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
	// A failure is remembered too, until forgotten.
	fail := errors.New("boom")
	if _, err := o.do(context.Background(), "f", func() (string, error) { return "", fail }); err != fail {
		t.Fatal(err)
	}
	if _, err := o.do(context.Background(), "f", func() (string, error) { return "ok", nil }); err != fail {
		t.Errorf("the failure was not remembered: %v", err)
	}
	o.forget("f")
	if v, err := o.do(context.Background(), "f", func() (string, error) { return "ok", nil }); v != "ok" || err != nil {
		t.Errorf("after forget: %q %v", v, err)
	}
	// A waiter stops waiting when its own context ends.
	started := make(chan struct{})
	go o.do(context.Background(), "slow", func() (string, error) { close(started); time.Sleep(time.Second); return "", nil })
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := o.do(ctx, "slow", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiter past its deadline: %v", err)
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
