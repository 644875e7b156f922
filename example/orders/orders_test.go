package orders_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/composegen/composegen/example/itest"
	"github.com/composegen/composegen/example/orders"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// newService returns the service on a database and a Redis database of its
// own, on the stack of ../compose.yaml that every test of every package of
// this go test run shares: the stack starts once (the first test that asks
// starts it, the others wait for it or attach), and FreshDSN and FreshURL
// give each test an isolated database in milliseconds. The stack is removed
// when go test ends.
func newService(t *testing.T) (*orders.Service, *pgxpool.Pool, *redis.Client) {
	t.Helper()
	skipShort(t)
	stack := itest.Shared(t)
	ctx := context.Background()
	db, err := pgxpool.New(ctx, stack.Postgres.FreshDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	opts, err := redis.ParseURL(stack.Redis.FreshURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cache := redis.NewClient(opts)
	t.Cleanup(func() { cache.Close() })
	svc := orders.New(db, cache, time.Minute)
	if err := svc.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return svc, db, cache
}

func TestCreateAndGetOverHTTP(t *testing.T) {
	t.Parallel()
	svc, _, _ := newService(t)
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()

	body, _ := json.Marshal(map[string]any{"customer": "ada", "item": "keyboard", "quantity": 2})
	resp, err := http.Post(srv.URL+"/orders", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /orders: %s", resp.Status)
	}
	var created orders.Order
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil {
		t.Fatal(err)
	}
	if created.ID == 0 || created.Customer != "ada" || created.Quantity != 2 {
		t.Fatalf("created %+v", created)
	}

	resp, err = http.Get(srv.URL + "/orders/" + strconv.FormatInt(created.ID, 10))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got orders.Order
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if got.ID != created.ID || got.Item != "keyboard" {
		t.Errorf("GET returned %+v, want %+v", got, created)
	}

	resp, err = http.Get(srv.URL + "/orders/999999")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET unknown order: %s, want 404", resp.Status)
	}

	resp, err = http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %s", resp.Status)
	}
}

func TestGetIsServedFromRedis(t *testing.T) {
	t.Parallel()
	svc, db, cache := newService(t)
	ctx := context.Background()
	o, err := svc.Create(ctx, "grace", "compiler", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(ctx, o.ID); err != nil { // fills the cache
		t.Fatal(err)
	}
	if n, err := cache.Exists(ctx, "order:"+strconv.FormatInt(o.ID, 10)).Result(); err != nil || n != 1 {
		t.Fatalf("order not cached in Redis: n=%d err=%v", n, err)
	}
	// With the row gone from PostgreSQL, only the cache can answer.
	if _, err := db.Exec(ctx, "DELETE FROM orders WHERE id = $1", o.ID); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Get(ctx, o.ID)
	if err != nil || got.Item != "compiler" {
		t.Fatalf("Get after delete = %+v, %v; want the cached order", got, err)
	}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	svc, _, _ := newService(t)
	if _, err := svc.Create(context.Background(), "", "x", 1); err == nil {
		t.Error("order without customer accepted")
	}
	if _, err := svc.Create(context.Background(), "bob", "x", 0); err == nil {
		t.Error("order with quantity 0 accepted")
	}
}

// TestTestsAreIsolated checks what t.Parallel relies on: two tests on the
// shared stack see neither each other's rows nor each other's keys.
func TestTestsAreIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	svc, _, cache := newService(t)
	if _, err := svc.Create(ctx, "isolated", "x", 1); err != nil {
		t.Fatal(err)
	}
	if err := cache.Set(ctx, "mine", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	t.Run("other", func(t *testing.T) {
		_, db2, cache2 := newService(t)
		var n int
		if err := db2.QueryRow(ctx, "SELECT count(*) FROM orders").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("another test's database holds %d orders, want 0", n)
		}
		if k, err := cache2.Exists(ctx, "mine").Result(); err != nil || k != 0 {
			t.Errorf("another test's Redis database has the key: n=%d err=%v", k, err)
		}
	})
}

// TestOwnStack shows the other way: a stack of its own for one test (here
// PostgreSQL alone), for tests that change the server itself.
func TestOwnStack(t *testing.T) {
	t.Parallel()
	skipShort(t)
	pg := itest.StartPostgres(t)
	db, err := pgxpool.New(context.Background(), pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// skipShort skips an integration test under go test -short, which runs the
// unit tests only: these tests need a container engine.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: needs a container engine; skipped with -short")
	}
}
