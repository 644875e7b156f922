// Package work is the body of every test of the benchmark suite, whatever
// way the suite gets its stack (SUITE_MODE):
//
//	shared    itest.Shared in each test, with FreshDSN and FreshURL
//	          (COMPOSEGEN_REUSE=1 keeps the stack between runs)
//	start     itest.Start in each test: a stack per test
//	testmain  itest.Up in each package's TestMain, shared by its tests
//	tc        testcontainers-go's compose module in each package's TestMain
//	          (build tag tc; see package tcmain)
//
// Each test uses every service at once with its real client: rows in
// PostgreSQL (the migration's table), keys in Redis and a GET of nginx. A
// test that cannot is a failed run, not a fast one. SUITE_REPORT names a
// file that gets the durations of Shared, FreshDSN and FreshURL.
package work

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/composegen/composegen/bench/suite/itest"
)

// Mode returns SUITE_MODE (shared by default).
func Mode() string {
	if m := os.Getenv("SUITE_MODE"); m != "" {
		return m
	}
	return "shared"
}

// Endpoints are a package's services, from its TestMain.
type Endpoints struct {
	DSN, RedisURL, HTTP string
}

var pkg Endpoints

// Main is TestMain for the composegen modes: in testmain mode it starts the
// package's stack with Up around the tests.
func Main(m *testing.M) int {
	if Mode() != "testmain" {
		return m.Run()
	}
	ctx := context.Background()
	s, err := itest.Up(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer s.Down(ctx)
	pkg = Endpoints{DSN: s.Postgres.DSN(), RedisURL: s.Redis.URL(), HTTP: s.Nginx.URL()}
	return m.Run()
}

// SetEndpoints is for TestMains of other tools (tcmain).
func SetEndpoints(e Endpoints) { pkg = e }

// Run is one test of the suite.
func Run(t *testing.T) {
	if testing.Short() {
		t.Skip("the suite needs a container engine; skipped with -short")
	}
	t.Parallel()
	var e Endpoints
	exclusive := false
	switch Mode() {
	case "shared":
		t0 := time.Now()
		s := itest.Shared(t)
		report("SHARED", time.Since(t0))
		reportProject(s.Runtime().ProjectName())
		t0 = time.Now()
		e.DSN = s.Postgres.FreshDSN(t)
		report("FRESHDSN", time.Since(t0))
		t0 = time.Now()
		e.RedisURL = s.Redis.FreshURL(t)
		report("FRESHURL", time.Since(t0))
		e.HTTP = s.Nginx.URL()
		exclusive = true
	case "start":
		s := itest.Start(t)
		e = Endpoints{DSN: s.Postgres.DSN(), RedisURL: s.Redis.URL(), HTTP: s.Nginx.URL()}
		exclusive = true
	case "testmain", "tc":
		e = pkg
	default:
		t.Fatalf("SUITE_MODE %q", Mode())
	}
	exercise(t, e, exclusive)
}

// exercise uses the services: 20 rows and 20 keys of this test's own, read
// back; with exclusive (a database of its own), nothing else but the
// migration's empty table.
func exercise(t *testing.T, e Endpoints, exclusive bool) {
	ctx := context.Background()
	me := t.Name() + "@" + os.Args[0]
	db, err := pgx.Connect(ctx, e.DSN)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer db.Close(ctx)
	for i := 0; i < 20; i++ {
		if _, err := db.Exec(ctx, "INSERT INTO orders (item) VALUES ($1)", me); err != nil {
			t.Fatalf("postgres: %v", err)
		}
	}
	var mine, all int
	if err := db.QueryRow(ctx, "SELECT count(*) FILTER (WHERE item = $1), count(*) FROM orders", me).Scan(&mine, &all); err != nil {
		t.Fatal(err)
	}
	if mine != 20 || (exclusive && all != 20) {
		t.Errorf("postgres: %d rows of this test and %d in all, want 20 (and 20 in a database of its own)", mine, all)
	}
	opt, err := redis.ParseURL(e.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	for i := 0; i < 20; i++ {
		if err := rdb.Set(ctx, fmt.Sprintf("%s/%d", me, i), i, 0).Err(); err != nil {
			t.Fatalf("redis: %v", err)
		}
	}
	if v, err := rdb.Get(ctx, me+"/7").Int(); err != nil || v != 7 {
		t.Errorf("redis: GET = %d, %v", v, err)
	}
	if exclusive {
		if n, err := rdb.DBSize(ctx).Result(); err != nil || n != 20 {
			t.Errorf("redis: %d keys in a database of its own (%v), want 20", n, err)
		}
	}
	resp, err := http.Get(e.HTTP + "/")
	if err != nil {
		t.Fatalf("nginx: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("nginx: %s", resp.Status)
	}
}

var reportMu sync.Mutex

func report(what string, d time.Duration) {
	path := os.Getenv("SUITE_REPORT")
	if path == "" {
		return
	}
	reportMu.Lock()
	defer reportMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	// The pid tells the test binaries apart.
	fmt.Fprintf(f, "%s %d %d\n", what, d.Microseconds(), os.Getpid())
	f.Close()
}

var projectOnce sync.Once

func reportProject(p string) {
	projectOnce.Do(func() {
		path := os.Getenv("SUITE_REPORT")
		if path == "" {
			return
		}
		reportMu.Lock()
		defer reportMu.Unlock()
		if f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			fmt.Fprintf(f, "PROJECT %s\n", p)
			f.Close()
		}
	})
}
