package harness

import (
	"context"

	cgruntime "github.com/composegen/composegen/runtime"

	"github.com/composegen/composegen/bench/fixtures/canonical"
	"github.com/composegen/composegen/bench/fixtures/chain1"
	"github.com/composegen/composegen/bench/fixtures/chain5"
	"github.com/composegen/composegen/bench/fixtures/example"
	"github.com/composegen/composegen/bench/fixtures/nokind"
)

// Stack is one benchmark stack: its compose file, composegen's generated Up
// for it, the services the limit reference runs by hand, and how each
// service is used once the stack is "ready".
type Stack struct {
	Name string
	File string // relative to the bench module; absolute after Resolve
	// Ours is the generated Up; it returns the stack's Down, the check
	// targets from the typed accessors (DSN(), Addr(), URL()) and the
	// runtime stack.
	Ours   func(ctx context.Context, opts ...cgruntime.Option) (*Running, error)
	Limit  []LimitService
	Checks []Check
}

// StackNames lists the stacks, in report order.
var StackNames = []string{"example", "chain5", "chain1", "canonical", "nokind"}

func oursRun(down func(context.Context) error, rt *cgruntime.Stack, targets map[string]string) *Running {
	return &Running{Down: down, Targets: targets, Runtime: rt, Timeline: rt.Timeline}
}

// StackByName returns a fresh definition of the named stack, nil if there
// is none.
func StackByName(name string) *Stack {
	switch name {
	case "example":
		pg := Check{Service: "postgres", Port: 5432, Proto: "postgres", User: "orders", Password: "orders-secret", DB: "orders"}
		rd := Check{Service: "redis", Port: 6379, Proto: "redis"}
		return &Stack{
			Name: name, File: "../example/compose.yaml",
			Ours: func(ctx context.Context, opts ...cgruntime.Option) (*Running, error) {
				s, err := example.Up(ctx, opts...)
				if err != nil {
					return nil, err
				}
				return oursRun(s.Down, s.Runtime(), map[string]string{"postgres": s.Postgres.DSN(), "redis": s.Redis.Addr()}), nil
			},
			Limit: []LimitService{
				{Name: "postgres", Image: "postgres:16", Port: 5432, Probe: &pg,
					Env: []string{"POSTGRES_USER=orders", "POSTGRES_PASSWORD=orders-secret", "POSTGRES_DB=orders"}},
				{Name: "redis", Image: "redis:7-alpine", Port: 6379, Probe: &rd,
					Cmd: []string{"redis-server", "--save", "", "--appendonly", "no"}},
			},
			Checks: []Check{pg, rd},
		}
	case "chain5", "chain1":
		pg := Check{Service: "postgres", Port: 5432, Proto: "postgres", User: "bench", Password: "bench-secret", DB: "bench",
			Query: "SELECT count(*) FROM orders"}
		rd := Check{Service: "redis", Port: 6379, Proto: "redis"}
		ng := Check{Service: "nginx", Port: 80, Proto: "http", Path: "/"}
		return &Stack{
			Name: name, File: "stacks/" + name + "/compose.yaml",
			Ours: func(ctx context.Context, opts ...cgruntime.Option) (*Running, error) {
				if name == "chain1" {
					s, err := chain1.Up(ctx, opts...)
					if err != nil {
						return nil, err
					}
					return oursRun(s.Down, s.Runtime(), map[string]string{"postgres": s.Postgres.DSN(), "redis": s.Redis.Addr(), "nginx": s.Nginx.URL() + "/"}), nil
				}
				s, err := chain5.Up(ctx, opts...)
				if err != nil {
					return nil, err
				}
				return oursRun(s.Down, s.Runtime(), map[string]string{"postgres": s.Postgres.DSN(), "redis": s.Redis.Addr(), "nginx": s.Nginx.URL() + "/"}), nil
			},
			Limit: []LimitService{
				{Name: "postgres", Image: "postgres:16", Port: 5432, Probe: &pg,
					Env: []string{"POSTGRES_USER=bench", "POSTGRES_PASSWORD=bench-secret", "POSTGRES_DB=bench"}},
				{Name: "redis", Image: "redis:7-alpine", Port: 6379, Probe: &rd,
					Cmd: []string{"redis-server", "--save", "", "--appendonly", "no"}},
				{Name: "migrate", Image: "postgres:16", OneShot: true, Deps: []string{"postgres"},
					Entrypoint: []string{"psql"}, Env: []string{"PGPASSWORD=bench-secret"},
					Cmd: []string{"-h", "postgres", "-U", "bench", "-d", "bench", "-v", "ON_ERROR_STOP=1",
						"-c", "CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, item text NOT NULL)"}},
				{Name: "nginx", Image: "nginx:latest", Port: 80, Probe: &ng, Deps: []string{"migrate", "redis"}},
			},
			Checks: []Check{pg, rd, ng},
		}
	case "canonical":
		pg := Check{Service: "postgres", Port: 5432, Proto: "postgres", User: "postgres", Password: "example", DB: "postgres",
			Query: "SELECT count(*) FROM orders"}
		mq := Check{Service: "rabbitmq", Port: 5672, Proto: "amqp", User: "guest", Password: "guest"}
		return &Stack{
			Name: name, File: "stacks/canonical/compose.yaml",
			Ours: func(ctx context.Context, opts ...cgruntime.Option) (*Running, error) {
				s, err := canonical.Up(ctx, opts...)
				if err != nil {
					return nil, err
				}
				return oursRun(s.Down, s.Runtime(), map[string]string{"postgres": s.Postgres.DSN(), "rabbitmq": s.RabbitMQ.URL()}), nil
			},
			Limit: []LimitService{
				{Name: "postgres", Image: "postgres:16", Port: 5432, Probe: &pg, Env: []string{"POSTGRES_PASSWORD=example"}},
				{Name: "rabbitmq", Image: "rabbitmq:3-management", Port: 5672, Probe: &mq},
				{Name: "migrate", Image: "postgres:16", OneShot: true, Deps: []string{"postgres"},
					Entrypoint: []string{"psql"}, Env: []string{"PGPASSWORD=example"},
					Cmd: []string{"-h", "postgres", "-U", "postgres", "-v", "ON_ERROR_STOP=1",
						"-c", "CREATE TABLE IF NOT EXISTS orders (id bigserial PRIMARY KEY, item text NOT NULL)"}},
			},
			Checks: []Check{pg, mq},
		}
	case "nokind":
		web := Check{Service: "web", Port: 8080, Proto: "http", Path: "/"}
		slow := Check{Service: "slowweb", Port: 8080, Proto: "http", Path: "/"}
		httpd := "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www"
		return &Stack{
			Name: name, File: "stacks/nokind/compose.yaml",
			Ours: func(ctx context.Context, opts ...cgruntime.Option) (*Running, error) {
				s, err := nokind.Up(ctx, opts...)
				if err != nil {
					return nil, err
				}
				return oursRun(s.Down, s.Runtime(), map[string]string{
					"web": "http://" + s.Web.Port8080().Addr() + "/", "slowweb": "http://" + s.Slowweb.Port8080().Addr() + "/"}), nil
			},
			Limit: []LimitService{
				{Name: "web", Image: "busybox:latest", Port: 8080, Probe: &web, Cmd: []string{"sh", "-c", httpd}},
				{Name: "slowweb", Image: "busybox:latest", Port: 8080, Probe: &slow, Cmd: []string{"sh", "-c", "sleep 3 && " + httpd}},
			},
			Checks: []Check{web, slow},
		}
	}
	return nil
}
