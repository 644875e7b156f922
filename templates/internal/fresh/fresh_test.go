package fresh_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/composegen/composegen/runtime"
	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/runtimeimpl"
	"github.com/composegen/composegen/runtime/runtimetest"
	"github.com/composegen/composegen/templates"
	"github.com/composegen/composegen/templates/internal/fresh"
)

// freshPlan is PostgreSQL with a migration and a seed (one-shots run by
// the stack, in that order) and Redis.
func freshPlan(name string) *composeplan.Plan {
	psql := func(sql string) []string {
		return []string{"psql", "-v", "ON_ERROR_STOP=1", "-h", "postgres", "-U", "app", "-d", "app", "-c", sql}
	}
	pgEnv := []composeplan.EnvVar{{Name: "PGPASSWORD", Value: "fresh-secret"}}
	return &composeplan.Plan{
		Name: name,
		Services: []composeplan.ServiceSpec{
			{
				Name: "postgres", Image: "postgres:16", Kind: "postgres",
				Environment: []composeplan.EnvVar{
					{Name: "POSTGRES_DB", Value: "app"},
					{Name: "POSTGRES_PASSWORD", Value: "fresh-secret"},
					{Name: "POSTGRES_USER", Value: "app"},
				},
				Ports: []composeplan.PortSpec{{Target: 5432, Protocol: "tcp"}},
				Probe: &composeplan.ProbeSpec{Protocol: "postgres", Port: 5432},
			},
			{
				Name: "migrate", Image: "postgres:16", Entrypoint: []string{},
				Command:     psql("CREATE TABLE items (id serial PRIMARY KEY, owner text NOT NULL)"),
				Environment: pgEnv,
				DependsOn:   []composeplan.Dependency{{Service: "postgres", Condition: "service_healthy", Required: true}},
			},
			{
				Name: "seed", Image: "postgres:16", Entrypoint: []string{},
				Command:     psql("INSERT INTO items (owner) VALUES ('seed')"),
				Environment: pgEnv,
				DependsOn:   []composeplan.Dependency{{Service: "migrate", Condition: "service_completed_successfully", Required: true}},
			},
			{
				Name: "redis", Image: "redis:7-alpine", Kind: "redis",
				Ports: []composeplan.PortSpec{{Target: 6379, Protocol: "tcp"}},
				Probe: &composeplan.ProbeSpec{Protocol: "redis", Port: 6379},
			},
		},
	}
}

// checkIsolation uses a fresh database and a fresh Redis database as a
// test would: it sees the seed only, adds rows and keys of its own, and
// sees only those. It returns how long FreshDSN and FreshURL took.
func checkIsolation(t *testing.T, pg, rs templates.StackService, rows int) (freshDSN, freshURL time.Duration) {
	ctx := context.Background()
	t0 := time.Now()
	dsn := templates.PostgresFreshDSN(t, pg)
	freshDSN = time.Since(t0)
	t0 = time.Now()
	u := templates.RedisFreshURL(t, rs)
	freshURL = time.Since(t0)

	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var owners []string
	r, err := db.Query(ctx, "SELECT owner FROM items ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	owners, err = pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(owners, ",") != "seed" {
		t.Fatalf("a fresh database holds %q, want the seed's row only", owners)
	}
	for i := 0; i < rows; i++ {
		if _, err := db.Exec(ctx, "INSERT INTO items (owner) VALUES ($1)", t.Name()); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := db.QueryRow(ctx, "SELECT count(*) FROM items WHERE owner <> 'seed'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != rows {
		t.Errorf("%d rows besides the seed, want this test's %d", n, rows)
	}

	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if size, err := rdb.DBSize(ctx).Result(); err != nil || size != 0 {
		t.Fatalf("a leased database holds %d keys (%v), want 0", size, err)
	}
	for i := 0; i < rows; i++ {
		if err := rdb.Set(ctx, fmt.Sprintf("%s/%d", t.Name(), i), "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond) // overlap with the other tests' leases
	if size, err := rdb.DBSize(ctx).Result(); err != nil || size != int64(rows) {
		t.Errorf("the leased database holds %d keys (%v), want this test's %d", size, err, rows)
	}
	return freshDSN, freshURL
}

// median returns the median of ds.
func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func TestFreshOnStartedStack(t *testing.T) {
	runtimetest.RequireEngine(t)
	t.Parallel()
	stack := runtime.Start(t, freshPlan("tpl-fresh"))
	pg, rs := runtimeimpl.Of(stack.Service("postgres")), runtimeimpl.Of(stack.Service("redis"))
	var mu sync.Mutex
	var dsnTimes, urlTimes []time.Duration
	t.Run("group", func(t *testing.T) {
		for i := 0; i < 20; i++ {
			t.Run(fmt.Sprintf("t%d", i), func(t *testing.T) {
				t.Parallel()
				d, u := checkIsolation(t, pg, rs, i%4+1)
				mu.Lock()
				dsnTimes, urlTimes = append(dsnTimes, d), append(urlTimes, u)
				mu.Unlock()
			})
		}
	})
	t.Logf("FreshDSN median %s, FreshURL median %s (20 parallel tests)", median(dsnTimes), median(urlTimes))
	// Every test's database was dropped and every leased database flushed.
	ctx := context.Background()
	db, err := pgx.Connect(ctx, templates.PostgresDSN(pg))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	var left []string
	r, err := db.Query(ctx, "SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'")
	if err != nil {
		t.Fatal(err)
	}
	if left, err = pgx.CollectRows(r, pgx.RowTo[string]); err != nil || len(left) > 0 {
		t.Errorf("databases left after the tests: %q (%v)", left, err)
	}
	opt, _ := redis.ParseURL(templates.RedisURL(rs))
	for n := 1; n < 16; n++ {
		o := *opt
		o.DB = n
		rdb := redis.NewClient(&o)
		if size, err := rdb.DBSize(ctx).Result(); err != nil || size != 0 {
			t.Errorf("redis database %d holds %d keys after the tests (%v)", n, size, err)
		}
		rdb.Close()
	}
}

// FreshDSN on a database another service keeps a session open on fails,
// naming the session and saying what to do.
func TestPostgresFreshDSNBusyDatabase(t *testing.T) {
	runtimetest.RequireEngine(t)
	t.Parallel()
	plan := freshPlan("tpl-fresh-busy")
	plan.Services = append(plan.Services, composeplan.ServiceSpec{
		Name: "holder", Image: "postgres:16", Entrypoint: []string{},
		Command:     []string{"psql", "-h", "postgres", "-U", "app", "-d", "app", "-c", "SELECT pg_sleep(3600)"},
		Environment: []composeplan.EnvVar{{Name: "PGPASSWORD", Value: "fresh-secret"}, {Name: "PGAPPNAME", Value: "holder"}},
		Healthcheck: &composeplan.HealthcheckSpec{
			Test:     []string{"CMD-SHELL", `psql -h postgres -U app -d app -tAc "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'holder' AND pid <> pg_backend_pid()" | grep -qx 1`},
			Interval: time.Second, Timeout: 5 * time.Second, Retries: 30,
		},
		DependsOn: []composeplan.Dependency{{Service: "seed", Condition: "service_completed_successfully", Required: true}},
	})
	stack := runtime.Start(t, plan)
	msg := fatalOf(t, func(tb templates.TB) { templates.PostgresFreshDSN(tb, runtimeimpl.Of(stack.Service("postgres"))) })
	t.Logf("FreshDSN failed with:\n%s", msg)
	for _, want := range []string{`cannot take the template of database "app"`, "other sessions are connected", "(holder)", "runtime.WithServices"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "fresh-secret") {
		t.Error("the failure shows the password")
	}
	// The failure is not remembered: once the session is gone, the next
	// FreshDSN of this process takes the template.
	pg := runtimeimpl.Of(stack.Service("postgres"))
	admin, err := pgx.Connect(context.Background(), "postgres://app:fresh-secret@"+pg.Addr(5432)+"/postgres?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	var ended int
	if err := admin.QueryRow(context.Background(), "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'holder'").Scan(&ended); err != nil || ended != 1 {
		t.Fatalf("ending the holder's session: %d ended, %v", ended, err)
	}
	checkIsolation(t, pg, runtimeimpl.Of(stack.Service("redis")), 1)
}

// A user that may not create databases, or not copy the service's, gets a
// failure that says which privilege is missing and how to grant it.
func TestPostgresFreshDSNPrivileges(t *testing.T) {
	runtimetest.RequireEngine(t)
	t.Parallel()
	plan := freshPlan("tpl-fresh-priv")
	plan.Services[2].Command = []string{"psql", "-v", "ON_ERROR_STOP=1", "-h", "postgres", "-U", "app", "-d", "app", "-c",
		"INSERT INTO items (owner) VALUES ('seed'); CREATE ROLE limited LOGIN PASSWORD 'limited-pw'; CREATE ROLE creator LOGIN CREATEDB PASSWORD 'creator-pw'"}
	stack := runtime.Start(t, plan)
	pg := runtimeimpl.Of(stack.Service("postgres"))
	for _, tc := range []struct {
		user, password string
		want           []string
	}{
		{"limited", "limited-pw", []string{`user "limited" may not create databases`, `ALTER ROLE "limited" CREATEDB`}},
		{"creator", "creator-pw", []string{`user "creator" may not copy database "app"`, `ALTER DATABASE "app" IS_TEMPLATE true`}},
	} {
		msg := fatalOf(t, func(tb templates.TB) {
			fresh.Postgres(tb, pg, fresh.Login{User: tc.user, Password: tc.password}, "app")
		})
		t.Logf("%s: FreshDSN failed with:\n%s", tc.user, msg)
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: failure does not say %q:\n%s", tc.user, w, msg)
			}
		}
		if strings.Contains(msg, tc.password) {
			t.Errorf("%s: the failure shows the password", tc.user)
		}
	}
}
