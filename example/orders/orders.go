// Package orders is a small order-taking service: orders are stored in
// PostgreSQL and cached in Redis. It is composegen's example: its
// integration tests run against the real PostgreSQL and Redis of the
// example's compose.yaml through typed fixtures (see ../itest).
package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// Order is one customer order.
type Order struct {
	ID        int64     `json:"id"`
	Customer  string    `json:"customer"`
	Item      string    `json:"item"`
	Quantity  int       `json:"quantity"`
	CreatedAt time.Time `json:"created_at"`
}

// ErrNotFound is returned for an order that does not exist.
var ErrNotFound = errors.New("order not found")

// Service stores orders in PostgreSQL and caches them in Redis.
type Service struct {
	db    *pgxpool.Pool
	cache *redis.Client
	ttl   time.Duration
}

// New returns a Service on db and cache. Cached orders expire after ttl.
func New(db *pgxpool.Pool, cache *redis.Client, ttl time.Duration) *Service {
	return &Service{db: db, cache: cache, ttl: ttl}
}

// Migrate creates the schema if it does not exist.
func (s *Service) Migrate(ctx context.Context) error {
	_, err := s.db.Exec(ctx, `CREATE TABLE IF NOT EXISTS orders (
		id         BIGSERIAL PRIMARY KEY,
		customer   TEXT NOT NULL,
		item       TEXT NOT NULL,
		quantity   INT  NOT NULL CHECK (quantity > 0),
		created_at TIMESTAMPTZ NOT NULL DEFAULT now()
	)`)
	return err
}

// Create validates and stores a new order.
func (s *Service) Create(ctx context.Context, customer, item string, quantity int) (Order, error) {
	if customer == "" || item == "" || quantity <= 0 {
		return Order{}, fmt.Errorf("invalid order: customer and item are required and quantity must be positive")
	}
	o := Order{Customer: customer, Item: item, Quantity: quantity}
	err := s.db.QueryRow(ctx,
		`INSERT INTO orders (customer, item, quantity) VALUES ($1, $2, $3) RETURNING id, created_at`,
		customer, item, quantity).Scan(&o.ID, &o.CreatedAt)
	if err != nil {
		return Order{}, fmt.Errorf("create order: %w", err)
	}
	return o, nil
}

// Get returns an order, from the cache when it is there.
func (s *Service) Get(ctx context.Context, id int64) (Order, error) {
	key := cacheKey(id)
	if b, err := s.cache.Get(ctx, key).Bytes(); err == nil {
		var o Order
		if json.Unmarshal(b, &o) == nil {
			return o, nil
		}
	}
	var o Order
	err := s.db.QueryRow(ctx,
		`SELECT id, customer, item, quantity, created_at FROM orders WHERE id = $1`, id).
		Scan(&o.ID, &o.Customer, &o.Item, &o.Quantity, &o.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, ErrNotFound
	}
	if err != nil {
		return Order{}, fmt.Errorf("get order %d: %w", id, err)
	}
	if b, err := json.Marshal(o); err == nil {
		// A cache failure must not fail the read.
		_ = s.cache.Set(ctx, key, b, s.ttl).Err()
	}
	return o, nil
}

// CountByCustomer returns how many orders a customer placed.
func (s *Service) CountByCustomer(ctx context.Context, customer string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM orders WHERE customer = $1`, customer).Scan(&n)
	return n, err
}

func cacheKey(id int64) string { return "order:" + strconv.FormatInt(id, 10) }
