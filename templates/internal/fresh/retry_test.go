package fresh_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/composegen/composegen/runtime"
	"github.com/composegen/composegen/runtime/runtimeimpl"
	"github.com/composegen/composegen/runtime/runtimetest"
	"github.com/composegen/composegen/templates"
	"github.com/composegen/composegen/templates/internal/fresh"
)

// deadlineTB is a TB with a deadline of its own.
type deadlineTB struct {
	*fatalTB
	deadline time.Time
}

func (d deadlineTB) Deadline() (time.Time, bool) { return d.deadline, true }

// occupy opens connections to addr's "postgres" database until the server
// refuses with too many clients, and returns how to close them.
func occupy(t *testing.T, addr string) (release func()) {
	t.Helper()
	var conns []*pgx.Conn
	release = func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
		conns = nil
	}
	for i := 0; ; i++ {
		c, err := pgx.Connect(context.Background(), "postgres://app:fresh-secret@"+addr+"/postgres?sslmode=disable&application_name=occupier")
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "53300" {
			return release
		}
		if err != nil || i > 100 {
			release()
			t.Fatalf("occupying the server: %d connections, then %v", i, err)
		}
		conns = append(conns, c)
	}
}

// A server with no connection left: FreshDSN retries until its deadline
// and fails saying why; that failure of the template step is not
// remembered, so the next FreshDSN, once connections are free, takes the
// template and succeeds. A FreshDSN that starts while the server is full
// waits for a connection and succeeds once one is free.
func TestPostgresFreshDSNTooManyClients(t *testing.T) {
	runtimetest.RequireEngine(t)
	defer fresh.SetPoolSize(0)() // no refill in the background holding a session
	plan := freshPlan("tpl-fresh-full")
	plan.Services[0].Command = []string{"postgres", "-c", "max_connections=8", "-c", "superuser_reserved_connections=0"}
	stack := runtime.Start(t, plan)
	pg := runtimeimpl.Of(stack.Service("postgres"))
	addr := pg.Addr(5432)

	release := occupy(t, addr)
	msg := fatalOf(t, func(tb templates.TB) {
		templates.PostgresFreshDSN(deadlineTB{tb.(*fatalTB), time.Now().Add(3 * time.Second)}, pg)
	})
	release()
	t.Logf("FreshDSN on a full server failed with:\n%s", msg)
	if !strings.Contains(msg, "too many clients") || !strings.Contains(msg, "retrying after") || !strings.Contains(msg, "raise max_connections") {
		t.Errorf("the failure does not say that it retried too many clients: %s", msg)
	}
	if strings.Contains(msg, "fresh-secret") {
		t.Error("the failure shows the password")
	}
	checkIsolation(t, pg, runtimeimpl.Of(stack.Service("redis")), 1) // takes the template now

	fresh.CloseIdle()
	release = occupy(t, addr)
	var released atomic.Bool
	go func() {
		time.Sleep(time.Second)
		released.Store(true)
		release()
	}()
	dsn := templates.PostgresFreshDSN(t, pg)
	if !released.Load() {
		t.Fatal("FreshDSN got a connection on a full server")
	}
	db, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var n int
	if err := db.QueryRow(context.Background(), "SELECT count(*) FROM items").Scan(&n); err != nil || n != 1 {
		t.Errorf("the fresh database holds %d rows (%v), want the seed's", n, err)
	}
}
