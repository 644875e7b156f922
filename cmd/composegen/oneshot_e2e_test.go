package main

import (
	"strings"
	"testing"
)

// oneShotCompose is written the way compose files in the wild are: a
// migration that nothing depends on (it only needs the database healthy),
// a seed in the "sh -c" form, a worker with no ports (an endless loop) and
// one that composegen cannot classify (a script file).
const oneShotCompose = `services:
  db:
    image: postgres:16
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: secret
      POSTGRES_DB: app
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U app -d app"]
      interval: 5s
      timeout: 5s
      retries: 10

  migrate:
    image: postgres:16
    command: ["psql", "postgresql://app:secret@db/app", "-v", "ON_ERROR_STOP=1", "-c", "CREATE TABLE audit (id serial PRIMARY KEY, action text NOT NULL)"]
    depends_on:
      db:
        condition: service_healthy

  seed:
    image: postgres:16
    environment:
      PGPASSWORD: secret
    command: ["sh", "-c", "psql -h db -U app -d app -v ON_ERROR_STOP=1 -c \"CREATE TABLE settings (k text PRIMARY KEY, v text); INSERT INTO settings VALUES ('mode', 'test')\""]
    depends_on:
      db:
        condition: service_healthy

  worker:
    image: busybox
    command: ["sh", "-c", "while true; do sleep 1; done"]

  ticker:
    image: busybox
    command: ["sh", "/opt/ticker.sh"]
    volumes:
      - ./ticker.sh:/opt/ticker.sh:ro
`

const oneShotTest = `package fixtures

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// check runs the first queries on the database right after the start:
// what the migration and the seed wrote is there.
func check(t *testing.T, dsn string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "INSERT INTO audit (action) VALUES ('first query')"); err != nil {
		t.Fatalf("first query after the start: %v", err)
	}
	var mode string
	if err := conn.QueryRow(ctx, "SELECT v FROM settings WHERE k = 'mode'").Scan(&mode); err != nil || mode != "test" {
		t.Fatalf("the seed's row: %q, %v", mode, err)
	}
}

func TestStart(t *testing.T) {
	for i := 0; i < 10; i++ {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			stack := Start(t)
			check(t, stack.DB.DSN())
		})
	}
}

// A start of the migration and what it needs (StartMigrate, or Start with
// WithServices) returns once it completed.
func TestStartMigrate(t *testing.T) {
	t.Run("StartMigrate", func(t *testing.T) {
		t.Parallel()
		m := StartMigrate(t)
		res, err := m.Service().Exec(context.Background(), "true")
		if err == nil && res.ExitCode == 0 {
			t.Error("the migration's container still runs after StartMigrate")
		}
	})
	t.Run("WithServices", func(t *testing.T) {
		t.Parallel()
		stack := Start(t, WithServices(ServiceMigrate))
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, stack.DB.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "INSERT INTO audit (action) VALUES ('first query')"); err != nil {
			t.Fatalf("first query after the start: %v", err)
		}
	})
}

func TestShared(t *testing.T) {
	for i := 0; i < 10; i++ {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			stack := Shared(t)
			check(t, stack.DB.DSN())
			check(t, stack.DB.FreshDSN(t))
		})
	}
}
`

// TestOneShotEndToEnd generates fixtures for oneShotCompose and runs
// oneShotTest: the first query after Start, StartX and Shared sees what
// the one-shots wrote, in 10 parallel starts, and the workers next to
// them, classified or not, do not hang the start.
func TestOneShotEndToEnd(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	if testing.Short() {
		t.Skip("builds a module and starts 13 stacks (-short)")
	}
	_, gocmd := newE2EModule(t, map[string]string{
		"compose.yaml":        oneShotCompose,
		"ticker.sh":           "while true; do date; sleep 1; done\n",
		"fixtures/gen.go":     "package fixtures\n\n//go:generate go run github.com/composegen/composegen/cmd/composegen -f ../compose.yaml\n",
		"fixtures/fx_test.go": oneShotTest,
	})
	gocmd("get", "github.com/jackc/pgx/v5")
	gen := gocmd("generate", "./...")
	// The generator names the service it cannot classify, in one line
	// with the fix, and only that one.
	var named []string
	for _, line := range strings.Split(strings.TrimSpace(gen), "\n") {
		if strings.Contains(line, "runs once") {
			named = append(named, line)
		}
	}
	if len(named) != 1 || !strings.Contains(named[0], `service "ticker"`) || !strings.Contains(named[0], "x-composegen: {oneshot: true|false}") {
		t.Errorf("go generate does not name ticker (and only it) in one line with the fix:\n%s", gen)
	}
	gocmd("vet", "./...")
	out := gocmd("test", "-count=1", "-v", "-timeout=15m", "./...")
	for _, name := range []string{"TestStart", "TestStartMigrate", "TestShared"} {
		if !strings.Contains(out, "--- PASS: "+name+" ") {
			t.Errorf("%s did not pass:\n%s", name, out)
		}
	}
	// Each Start that ran ticker says, in one line, that it took it as
	// long-running and how to say what it is.
	if n := strings.Count(out, `service "ticker" still runs`); n < 10 {
		t.Errorf("%d log lines name ticker, want one per Start (10 or more):\n%s", n, out)
	}
	t.Logf("%s", out)
}
