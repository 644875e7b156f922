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

// newService starts the stack of ../compose.yaml (a fresh, isolated
// instance torn down when the test ends) and returns the service on it.
func newService(t *testing.T) (*orders.Service, *itest.Stack, *pgxpool.Pool, *redis.Client) {
	t.Helper()
	stack := itest.Start(t)
	ctx := context.Background()
	db, err := pgxpool.New(ctx, stack.Postgres.DSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	cache := redis.NewClient(&redis.Options{Addr: stack.Redis.Addr()})
	t.Cleanup(func() { cache.Close() })
	svc := orders.New(db, cache, time.Minute)
	if err := svc.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return svc, stack, db, cache
}

func TestCreateAndGetOverHTTP(t *testing.T) {
	t.Parallel()
	svc, _, _, _ := newService(t)
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
	svc, _, db, cache := newService(t)
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
	svc, _, _, _ := newService(t)
	if _, err := svc.Create(context.Background(), "", "x", 1); err == nil {
		t.Error("order without customer accepted")
	}
	if _, err := svc.Create(context.Background(), "bob", "x", 0); err == nil {
		t.Error("order with quantity 0 accepted")
	}
}

// TestStacksAreIsolated checks what t.Parallel relies on: each test gets its
// own PostgreSQL on its own port.
func TestStacksAreIsolated(t *testing.T) {
	t.Parallel()
	svc, stack, _, _ := newService(t)
	ctx := context.Background()
	if _, err := svc.Create(ctx, "isolated", "x", 1); err != nil {
		t.Fatal(err)
	}
	other := itest.StartPostgres(t)
	if other.Port5432().HostPort == stack.Postgres.Port5432().HostPort {
		t.Fatal("two stacks share a host port")
	}
	db2, err := pgxpool.New(ctx, other.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	var exists bool
	if err := db2.QueryRow(ctx, "SELECT to_regclass('orders') IS NOT NULL").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Error("the second stack's database has the first one's table")
	}
}
