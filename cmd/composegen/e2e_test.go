package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ory/dockertest/v3"
)

// requireDocker skips under -short (unit tests only) and when no Docker
// engine answers, except under CI=true, where that is a failure.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Docker; skipped with -short")
	}
	pool, err := dockertest.NewPool("")
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = pool.Client.PingWithContext(ctx)
		cancel()
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and Docker is not available: %v", err)
		}
		t.Skipf("Docker is not available: %v", err)
	}
}

const e2eCompose = `services:
  postgres:
    image: postgres:16
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: ${APP_DB_PASSWORD:?set APP_DB_PASSWORD in .env}
      POSTGRES_DB: appdb
    ports: ["5432:5432"]
  redis:
    image: redis:7-alpine
    ports: ["6379"]
  order-db:
    image: mariadb:11
    environment:
      MARIADB_ROOT_PASSWORD: root
      MARIADB_DATABASE: orders
      MARIADB_USER: orders
      MARIADB_PASSWORD: "p@ss:w/rd"
    ports: ["3306"]
    profiles: [mysql]
`

const e2eTest = `package fixtures

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/composegen/composegen/runtime"
)

func TestStack(t *testing.T) {
	ctx := context.Background()
	stack := Start(t)
	if stack.OrderDB != nil {
		t.Error("service of an inactive profile was started")
	}
	conn, err := pgx.Connect(ctx, stack.Postgres.DSN())
	if err != nil {
		t.Fatalf("pgx.Connect(%q): %v", stack.Postgres.DSN(), err)
	}
	defer conn.Close(ctx)
	var db string
	if err := conn.QueryRow(ctx, "select current_database()").Scan(&db); err != nil || db != "appdb" {
		t.Errorf("current_database() = %q, %v", db, err)
	}
	if got := stack.Postgres.Env().PostgresPassword; got != "from-dotenv" {
		t.Errorf("POSTGRES_PASSWORD = %q, want the .env value", got)
	}
	rdb := redis.NewClient(&redis.Options{Addr: stack.Redis.Addr()})
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Errorf("redis ping: %v", err)
	}
	if stack.Postgres.Port5432().HostPort == 5432 {
		t.Error("fixed host port bound without WithFixedPorts")
	}
}

func TestStartOneService(t *testing.T) {
	r := StartRedis(t)
	if err := redis.NewClient(&redis.Options{Addr: r.Addr()}).Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestProfileAndMySQLDSN(t *testing.T) {
	stack := Start(t, runtime.WithProfiles("mysql"), runtime.WithServices("order-db"))
	db, err := sql.Open("mysql", stack.OrderDB.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var name string
	if err := db.QueryRow("select database()").Scan(&name); err != nil || name != "orders" {
		t.Errorf("database() = %q, %v (DSN %s)", name, err, stack.OrderDB.DSN())
	}
}

func TestUpDown(t *testing.T) {
	ctx := context.Background()
	stack, err := Up(ctx, runtime.WithServices("redis"))
	if err != nil {
		t.Fatal(err)
	}
	if stack.Postgres != nil {
		t.Error("postgres started although only redis was asked for")
	}
	if err := stack.Down(ctx); err != nil {
		t.Fatal(err)
	}
}
`

// newE2EModule writes files into a fresh module "x" in a temporary directory
// (with go.mod requiring this repository through a replace directive, and
// this repository's go.sum) and returns the directory and a function that
// runs the go command there, failing the test on error. Variables named in
// dropEnv are removed from the go command's environment.
func newE2EModule(t *testing.T, files map[string]string, dropEnv ...string) (dir string, gocmd func(args ...string) string) {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	all := map[string]string{
		"go.mod": "module x\n\ngo 1.24.0\n\nrequire github.com/composegen/composegen v0.0.0\n\nreplace github.com/composegen/composegen => " + root + "\n",
		"go.sum": string(sum),
	}
	for name, data := range files {
		all[name] = data
	}
	for name, data := range all {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		keep := true
		for _, name := range dropEnv {
			if strings.HasPrefix(kv, name+"=") {
				keep = false
			}
		}
		if keep {
			env = append(env, kv)
		}
	}
	env = append(env, "GOFLAGS=-mod=mod", "GOWORK=off")
	gocmd = func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out.String())
		}
		return out.String()
	}
	return dir, gocmd
}

// TestEndToEnd is what a user does: a go:generate line next to a compose
// file, go generate, and go test against real containers through the
// generated names.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	dir, gocmd := newE2EModule(t, map[string]string{
		"compose.yaml":        e2eCompose,
		".env":                "APP_DB_PASSWORD=from-dotenv\n",
		"fixtures/gen.go":     "package fixtures\n\n//go:generate go run github.com/composegen/composegen/cmd/composegen -f ../compose.yaml\n",
		"fixtures/fx_test.go": e2eTest,
	},
		// APP_DB_PASSWORD must come from .env when the stack starts.
		"APP_DB_PASSWORD")
	gocmd("get", "github.com/jackc/pgx/v5", "github.com/redis/go-redis/v9", "github.com/go-sql-driver/mysql")
	gocmd("generate", "./...")
	gen, err := os.ReadFile(filepath.Join(dir, "fixtures", "compose_gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(gen, []byte("// Code generated by composegen from ../compose.yaml")) {
		t.Errorf("header: %q", gen[:80])
	}
	if bytes.Contains(gen, []byte("from-dotenv")) || bytes.Contains(gen, []byte(dir)) {
		t.Error("generated file contains a resolved secret or an absolute path")
	}
	gocmd("vet", "./...")
	out := gocmd("test", "-count=1", "-v", "./...")
	for _, name := range []string{"TestStack", "TestStartOneService", "TestProfileAndMySQLDSN", "TestUpDown"} {
		if !strings.Contains(out, "--- PASS: "+name) {
			t.Errorf("%s did not pass:\n%s", name, out)
		}
	}
}
