package fresh_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/composegen/composegen/internal/admin"
	"github.com/composegen/composegen/runtime"
	"github.com/composegen/composegen/runtime/runtimetest"
	"github.com/composegen/composegen/templates/internal/fresh"
	"github.com/composegen/composegen/templates/internal/fresh/internal/freshsuite"
)

// These tests run the packages of internal/freshsuite with a real
// `go test -tags freshsuite`, several test binaries at once on one kept
// shared stack (which the parent attaches to first and prunes at the end),
// and watch the server while they run.

// freshSuite is the kept stack of one parent test and how to run the suite
// on it.
type freshSuite struct {
	t      *testing.T
	db     string
	stack  *runtime.Stack
	report string
}

func newFreshSuite(t *testing.T, db string) *freshSuite {
	runtimetest.RequireEngine(t)
	if testing.Short() {
		t.Skip("runs go test on a suite of packages")
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	t.Setenv("FRESHSUITE_NAME", "cgfresh"+hex.EncodeToString(b[:]))
	t.Setenv("FRESHSUITE_DB", db)
	s := &freshSuite{t: t, db: db, report: filepath.Join(t.TempDir(), "report")}
	t.Setenv("FRESHSUITE_REPORT", s.report)
	s.stack = freshsuite.Attach(t, runtime.WithReuse())
	project := s.stack.ProjectName()
	t.Cleanup(func() {
		if _, err := admin.Prune(context.Background(), admin.PruneOptions{Project: project}); err != nil {
			t.Errorf("prune the kept stack: %v", err)
		}
	})
	return s
}

// run runs go test on pkgs with args, COMPOSEGEN_REUSE=1 (the kept stack)
// and env; it returns go test's output and whether it passed.
func (s *freshSuite) run(env []string, args []string, pkgs ...string) (string, bool) {
	s.t.Helper()
	_ = os.Remove(s.report)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	all := append([]string{"test", "-tags", "freshsuite", "-count=1"}, args...)
	for _, p := range pkgs {
		all = append(all, "./internal/freshsuite/"+p)
	}
	cmd := exec.CommandContext(ctx, "go", all...)
	cmd.Env = append(append(os.Environ(), "COMPOSEGEN_REUSE=1"), env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		s.t.Fatalf("go test did not end within 8 minutes:\n%s", out)
	}
	return string(out), err == nil
}

// pg opens an administration connection to the "postgres" database (never
// the service's, which would keep FreshDSN from copying it).
func (s *freshSuite) pg() *pgx.Conn {
	s.t.Helper()
	addr := s.stack.Service(freshsuite.Service).Addr(5432)
	c, err := pgx.Connect(context.Background(), "postgres://app:app-secret@"+addr+"/postgres?sslmode=disable&application_name=freshsuite-watch")
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// mysql opens a connection as root.
func (s *freshSuite) mysql() *sql.DB {
	s.t.Helper()
	db, err := sql.Open("mysql", "root:root-secret@tcp("+s.stack.Service(freshsuite.Service).Addr(3306)+")/")
	if err != nil {
		s.t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	s.t.Cleanup(func() { db.Close() })
	return db
}

// counts returns FreshDSN's sessions on the server, its pooled copies and
// its tests' databases.
func (s *freshSuite) counter() func() (sessions, pool, tests int, err error) {
	if s.db == "mariadb" {
		db := s.mysql()
		return func() (sessions, pool, tests int, err error) {
			// Every root session but this one is FreshDSN's: the tests
			// and the migration log in as app. A session that has quit
			// (its client is gone) may show for a moment as "Quit".
			if err = db.QueryRow("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'root' AND ID <> CONNECTION_ID() AND COMMAND <> 'Quit'").Scan(&sessions); err != nil {
				return
			}
			err = db.QueryRow(`SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 't\_%'`).Scan(&tests)
			return
		}
	}
	c := s.pg()
	prefix := fresh.PoolPrefix(fresh.TemplateName("app"))
	return func() (sessions, pool, tests int, err error) {
		err = c.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM pg_stat_activity WHERE application_name = 'composegen FreshDSN'),
			(SELECT count(*) FROM pg_database WHERE starts_with(datname, $1)),
			(SELECT count(*) FROM pg_database WHERE datname LIKE 't\_%')`, prefix).Scan(&sessions, &pool, &tests)
		return
	}
}

// watch polls count until stop is closed and returns the highest figures.
func watch(t *testing.T, count func() (int, int, int, error), stop <-chan struct{}) (done func() (maxSessions, maxPool, polls int)) {
	var mu sync.Mutex
	var ms, mp, n int
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			s, p, _, err := count()
			if err != nil {
				t.Errorf("watching the server: %v", err)
				return
			}
			mu.Lock()
			ms, mp, n = max(ms, s), max(mp, p), n+1
			mu.Unlock()
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return func() (int, int, int) { wg.Wait(); mu.Lock(); defer mu.Unlock(); return ms, mp, n }
}

var failLine = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)`)

// The attack of issue 24: packages × tests parallel tests calling only
// FreshDSN on one shared server with its default max_connections. None
// fails, FreshDSN never has more sessions open than its budget (at work
// on the whole stack, plus one idle per test binary), and the pool never
// holds more than its size.
func TestFreshDSNConnectionBudget(t *testing.T) {
	for _, tc := range []struct {
		db          string
		pkgs, tests int
	}{
		{"postgres", 4, 40},
		{"mariadb", 2, 20},
	} {
		t.Run(tc.db, func(t *testing.T) {
			s := newFreshSuite(t, tc.db)
			count := s.counter()
			stop := make(chan struct{})
			done := watch(t, count, stop)
			pkgs := []string{"p1", "p2", "p3", "p4"}[:tc.pkgs]
			t0 := time.Now()
			out, ok := s.run([]string{fmt.Sprintf("FRESHSUITE_TESTS=%d", tc.tests), "FRESHSUITE_MODE=load"},
				[]string{"-p", fmt.Sprint(tc.pkgs), "-parallel", fmt.Sprint(tc.tests)}, pkgs...)
			took := time.Since(t0)
			close(stop)
			maxSessions, maxPool, polls := done()
			oks := freshsuite.Count("OK")
			fails := 0
			for _, m := range failLine.FindAllStringSubmatch(out, -1) {
				if strings.Contains(m[1], "/") {
					fails++
				}
			}
			_, pool, left, err := count()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %d×%d tests in %s: %d passed, %d failed; FreshDSN sessions at most %d (%d polls); pool at most %d, %d after; %d test databases left",
				tc.db, tc.pkgs, tc.tests, took.Round(time.Millisecond), oks, fails, maxSessions, polls, maxPool, pool, left)
			if !ok || oks != tc.pkgs*tc.tests {
				t.Fatalf("%d of %d tests passed (%d failed):\n%s", oks, tc.pkgs*tc.tests, fails, out)
			}
			if budget := fresh.AdminSessions + tc.pkgs; maxSessions > budget {
				t.Errorf("%d FreshDSN sessions at once, over the budget of %d (%d at work, 1 idle per test binary)", maxSessions, budget, fresh.AdminSessions)
			}
			if polls < 10 {
				t.Errorf("only %d polls of the server during the run", polls)
			}
			if tc.db == "postgres" && (maxPool > fresh.PoolSize || pool > fresh.PoolSize) {
				t.Errorf("the pool held %d copies (%d after the run), over its size %d", maxPool, pool, fresh.PoolSize)
			}
			if left != 0 {
				t.Errorf("%d test databases left after the run", left)
			}
		})
	}
}

// A test binary whose test panics while 5 siblings hold fresh databases
// leaves them (its cleanups never run): the next test binary that calls
// FreshDSN on the kept stack drops them, and the pool's surplus copies.
func TestFreshDSNLeftovers(t *testing.T) {
	for _, db := range []string{"postgres", "mariadb"} {
		t.Run(db, func(t *testing.T) {
			s := newFreshSuite(t, db)
			count := s.counter()
			out, ok := s.run([]string{"FRESHSUITE_TESTS=6", "FRESHSUITE_MODE=panic"}, []string{"-p", "1", "-parallel", "6"}, "p1")
			if ok || !strings.Contains(out, "deliberate panic") {
				t.Fatalf("the panicking run passed, or did not panic:\n%s", out)
			}
			if n := freshsuite.Count("HOLD"); n != 5 {
				t.Fatalf("%d tests held databases, want 5:\n%s", n, out)
			}
			_, _, before, err := count()
			if err != nil {
				t.Fatal(err)
			}
			if before != 5 {
				t.Fatalf("%d test databases after the panic, want the 5 the siblings held", before)
			}
			poolBefore := 0
			if db == "postgres" {
				// Surplus pool copies, as test binaries that refilled
				// it at once left them before the pool had a lock.
				c := s.pg()
				prefix := fresh.PoolPrefix(fresh.TemplateName("app"))
				for i := 0; i < fresh.PoolSize+2; i++ {
					if _, err := c.Exec(context.Background(), fmt.Sprintf(`CREATE DATABASE %q TEMPLATE %q`, fmt.Sprintf("%ssurplus%d", prefix, i), fresh.TemplateName("app"))); err != nil {
						t.Fatal(err)
					}
				}
				_, poolBefore, _, _ = count()
			}
			out, ok = s.run([]string{"FRESHSUITE_TESTS=3", "FRESHSUITE_MODE=load"}, []string{"-v", "-p", "1", "-parallel", "3"}, "p2")
			if !ok {
				t.Fatalf("the next run failed:\n%s", out)
			}
			_, pool, after, err := count()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: test databases %d after the panicking run, %d after the next; pool %d before, %d after", db, before, after, poolBefore, pool)
			if after != 0 {
				t.Errorf("%d test databases left after the next run, want 0", after)
			}
			if !strings.Contains(out, "dropped ") || !strings.Contains(out, "left on this stack by test binaries that ended") {
				t.Errorf("the next run does not say what it dropped:\n%s", out)
			}
			if db == "postgres" && pool > fresh.PoolSize {
				t.Errorf("%d pool copies after the next run, over its size %d", pool, fresh.PoolSize)
			}
		})
	}
}
