package templates

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/composegen/composegen/runtime"
	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/runtimeimpl"
	"github.com/composegen/composegen/runtime/runtimetest"
)

// The in-network accessors work from another container of the stack: psql
// in a toolbox of the postgres image connects with InternalDSN, and
// redis-cli in a toolbox of the redis image with InternalURL to a server
// that requires a password.
func TestInternalAccessorsFromToolbox(t *testing.T) {
	runtimetest.RequireEngine(t)
	idle := []string{"sleep", "infinity"}
	stack := runtime.Start(t, &composeplan.Plan{
		Name: "tpl-internal",
		Services: []composeplan.ServiceSpec{
			{
				Name: "db", Image: "postgres:16", Kind: "postgres",
				Environment: []composeplan.EnvVar{
					{Name: "POSTGRES_DB", Value: "shop"},
					{Name: "POSTGRES_PASSWORD", Value: "s3cr@t/pw"},
					{Name: "POSTGRES_USER", Value: "app"},
				},
				Ports: []composeplan.PortSpec{{Target: 5432, Protocol: "tcp"}},
				Probe: &composeplan.ProbeSpec{Protocol: "postgres", Port: 5432},
			},
			{Name: "toolbox", Image: "postgres:16", Command: idle},
			{
				Name: "cache", Image: "redis:7", Kind: "redis",
				Command: []string{"redis-server", "--requirepass", "r3d@s3cret", "--save", "", "--appendonly", "no"},
				Ports:   []composeplan.PortSpec{{Target: 6379, Protocol: "tcp"}},
				Probe:   &composeplan.ProbeSpec{Protocol: "redis", Port: 6379},
			},
			{Name: "redis-tools", Image: "redis:7", Command: idle},
		},
	})
	ctx := context.Background()
	db, cache := runtimeimpl.Of(stack.Service("db")), runtimeimpl.Of(stack.Service("cache"))

	dsn := PostgresDSN(InNetwork(db))
	if want := "postgres://app:s3cr%40t%2Fpw@db:5432/shop?sslmode=disable"; dsn != want {
		t.Errorf("InternalDSN = %q, want %q", dsn, want)
	}
	res, err := runtimeimpl.Of(stack.Service("toolbox")).Exec(ctx, "psql", dsn, "-tAc", "select current_user || '@' || current_database()")
	if err != nil || res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != "app@shop" {
		t.Errorf("psql InternalDSN in the toolbox: %v, exit %d, stdout %q, stderr %q", err, res.ExitCode, res.Stdout, res.Stderr)
	}
	// The password in the DSN is the one that works: a wrong one fails.
	wrong := strings.Replace(dsn, "s3cr%40t%2Fpw", "wrong", 1)
	if res, err := runtimeimpl.Of(stack.Service("toolbox")).Exec(ctx, "psql", wrong, "-c", "select 1"); err != nil || res.ExitCode == 0 {
		t.Errorf("psql with a wrong password: %v, exit %d", err, res.ExitCode)
	}

	u := RedisInternalURL(InNetwork(cache))
	if want := "redis://default:r3d%40s3cret@cache:6379/0"; u != want {
		t.Errorf("InternalURL = %q, want %q", u, want)
	}
	tools := runtimeimpl.Of(stack.Service("redis-tools"))
	if res, err := tools.Exec(ctx, "redis-cli", "-u", u, "set", "from-toolbox", "yes"); err != nil || res.ExitCode != 0 || strings.TrimSpace(res.Stdout) != "OK" {
		t.Errorf("redis-cli -u InternalURL set: %v, exit %d, stdout %q, stderr %q", err, res.ExitCode, res.Stdout, res.Stderr)
	}
	if res, err := tools.Exec(ctx, "redis-cli", "-h", "cache", "ping"); err != nil || !strings.Contains(res.Stdout+res.Stderr, "NOAUTH") {
		t.Errorf("redis-cli without the password: %v, stdout %q, stderr %q; want NOAUTH", err, res.Stdout, res.Stderr)
	}
	// The toolbox wrote to the server that the host's URL reaches.
	opt, err := redis.ParseURL(RedisURL(cache))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if got, err := rdb.Get(ctx, "from-toolbox").Result(); err != nil || got != "yes" {
		t.Errorf("GET from the host = %q, %v; want the toolbox's value", got, err)
	}
}
