// Command ordersd runs the orders API. It reads DATABASE_URL (a PostgreSQL
// URL), REDIS_ADDR (host:port) and ADDR (listen address, default :8080).
// With the example's compose.yaml running:
//
//	DATABASE_URL=postgres://orders:orders-secret@127.0.0.1:5432/orders REDIS_ADDR=127.0.0.1:<port> go run ./cmd/ordersd
package main

import (
	"context"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/composegen/composegen/example/orders"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

func main() {
	ctx := context.Background()
	db, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	cache := redis.NewClient(&redis.Options{Addr: os.Getenv("REDIS_ADDR")})
	svc := orders.New(db, cache, 5*time.Minute)
	if err := svc.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	log.Printf("orders API on %s", addr)
	log.Fatal(http.ListenAndServe(addr, svc.Handler()))
}
