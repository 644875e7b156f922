package main

import (
	"context"
	"runtime"

	cgruntime "github.com/composegen/composegen/runtime"

	"github.com/composegen/composegen/bench/fixtures/chain1"
	"github.com/composegen/composegen/bench/fixtures/chain5"
	"github.com/composegen/composegen/bench/fixtures/example"
)

// stackDef is one benchmark stack: its compose file, composegen's generated
// Up for it, and the dependency chain the limit reference runs by hand.
type stackDef struct {
	name string
	file string // relative to the bench module, then absolute
	ours func(ctx context.Context, opts ...cgruntime.Option) (func(context.Context) error, error)
	// limit lists the services in the order of the compose file; deps name
	// services earlier or later in the list.
	limit []limitService
}

func stackByName(name string) *stackDef {
	switch name {
	case "example":
		return &stackDef{
			name: name, file: "../example/compose.yaml",
			ours: func(ctx context.Context, opts ...cgruntime.Option) (func(context.Context) error, error) {
				s, err := example.Up(ctx, opts...)
				if err != nil {
					return nil, err
				}
				return s.Down, nil
			},
			limit: []limitService{
				{name: "postgres", image: "postgres:16", port: 5432, probe: probePostgres("orders", "orders-secret", "orders"),
					env: []string{"POSTGRES_USER=orders", "POSTGRES_PASSWORD=orders-secret", "POSTGRES_DB=orders"}},
				{name: "redis", image: "redis:7-alpine", port: 6379, probe: probeRedis,
					cmd: []string{"redis-server", "--save", "", "--appendonly", "no"}},
			},
		}
	case "chain5", "chain1":
		return &stackDef{
			name: name, file: "stacks/" + name + "/compose.yaml",
			ours: func(ctx context.Context, opts ...cgruntime.Option) (func(context.Context) error, error) {
				if name == "chain1" {
					s, err := chain1.Up(ctx, opts...)
					if err != nil {
						return nil, err
					}
					return s.Down, nil
				}
				s, err := chain5.Up(ctx, opts...)
				if err != nil {
					return nil, err
				}
				return s.Down, nil
			},
			limit: []limitService{
				{name: "postgres", image: "postgres:16", port: 5432, probe: probePostgres("bench", "bench-secret", "bench"),
					env: []string{"POSTGRES_USER=bench", "POSTGRES_PASSWORD=bench-secret", "POSTGRES_DB=bench"}},
				{name: "redis", image: "redis:7-alpine", port: 6379, probe: probeRedis,
					cmd: []string{"redis-server", "--save", "", "--appendonly", "no"}},
				{name: "migrate", image: "postgres:16", oneShot: true, deps: []string{"postgres"},
					entrypoint: []string{"psql"}, env: []string{"PGPASSWORD=bench-secret"},
					cmd: []string{"-h", "postgres", "-U", "bench", "-d", "bench", "-v", "ON_ERROR_STOP=1",
						"-c", "CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, item text NOT NULL)"}},
				{name: "nginx", image: "nginx:latest", port: 80, probe: probeHTTP, deps: []string{"migrate", "redis"}},
			},
		}
	}
	return nil
}

func numCPU() int { return runtime.NumCPU() }
