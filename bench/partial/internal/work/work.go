// Package work is the body of the per-test readiness benchmark's tests.
// PARTIAL_MODE says how a database-only test gets its stack:
//
//	whole  itest.Shared(t): it waits for the whole stack, the slow broker
//	       included (what a database-only test did before per-test
//	       readiness)
//	part   itest.Shared(t, itest.WithServices(itest.ServicePostgres)): it
//	       waits for PostgreSQL and its migration only, on the same shared
//	       stack
//
// Every test uses what it asked for with its real client, and a test that
// cannot is a failed run, not a fast one.
package work

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/composegen/composegen/bench/partial/itest"
)

// Mode returns PARTIAL_MODE (part by default).
func Mode() string {
	if m := os.Getenv("PARTIAL_MODE"); m != "" {
		return m
	}
	return "part"
}

// Database is a test that needs only PostgreSQL: rows in a fresh database,
// in the migration's table.
func Database(t *testing.T) {
	t.Parallel()
	var s *itest.Stack
	if Mode() == "whole" {
		s = itest.Shared(t)
	} else {
		s = itest.Shared(t, itest.WithServices(itest.ServicePostgres))
	}
	ctx := context.Background()
	db, err := pgx.Connect(ctx, s.Postgres.FreshDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	for i := 0; i < 3; i++ {
		if _, err := db.Exec(ctx, "INSERT INTO orders (item) VALUES ($1)", fmt.Sprint(t.Name(), i)); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil || n != 3 {
		t.Fatalf("orders holds %d rows (%v), want this test's 3", n, err)
	}
}

// Broker is a test that needs the whole stack: the broker answers its
// health check, and PostgreSQL its queries.
func Broker(t *testing.T) {
	t.Parallel()
	s := itest.Shared(t)
	res, err := s.RabbitMQ.Service().Exec(context.Background(), "rabbitmq-diagnostics", "-q", "ping")
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("rabbitmq does not answer: %v %+v", err, res)
	}
	db, err := pgx.Connect(context.Background(), s.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	if _, err := db.Exec(context.Background(), "SELECT count(*) FROM orders"); err != nil {
		t.Fatal(err)
	}
}
