// Package sharedsuite is the test suite that runtime's shared-stack tests
// run with a real `go test` of several packages at once (a, b and c, built
// with -tags sharedsuite): each test attaches to the shared stack, uses a
// fresh PostgreSQL and Redis database and reports what it saw to a file;
// the parent test checks the reports and the engine. The environment says
// what to do:
//
//	COMPOSEGEN_SUITE_NAME    the plan's name (unique per parent test run)
//	COMPOSEGEN_SUITE_REPORT  the report file (one line per event)
//	COMPOSEGEN_SUITE_MODE    share, fail, panic, timeout, sigkill, wait,
//	                         startfail, dead, killwatcher, hold, part,
//	                         partfail
//	COMPOSEGEN_SUITE_DRIFT   a value the plan interpolates (key drift)
package sharedsuite

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/composegen/composegen/internal/admin"
	"github.com/composegen/composegen/runtime"
	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/engines"
	"github.com/composegen/composegen/runtime/internal/owner"
	"github.com/composegen/composegen/runtime/runtimeimpl"
	"github.com/composegen/composegen/templates"
)

// Plan is PostgreSQL with a migration and a seed, and Redis. In startfail
// mode the migration fails. In part and partfail modes a slow broker joins
// them (see Broker).
func Plan() *composeplan.Plan {
	p := basePlan()
	if m := Mode(); m == "part" || m == "partfail" {
		p.Services = append(p.Services, Broker(m == "partfail"))
	}
	return p
}

// Broker is a worker that is ready only once a test lets it (see
// LetBrokerStart): a broker far slower than the database. With fail, it
// exits with code 3 instead.
func Broker(fail bool) composeplan.ServiceSpec {
	cmd := "until [ -f /tmp/go ]; do sleep 0.1; done; exec sleep 3600"
	if fail {
		cmd = "echo broker broke >&2; exit 3"
	}
	return composeplan.ServiceSpec{
		Name: "broker", Image: "busybox:latest", Entrypoint: []string{},
		Command:   []string{"sh", "-c", cmd},
		Lifecycle: composeplan.LifecycleWorker,
		Healthcheck: &composeplan.HealthcheckSpec{
			Test: []string{"CMD", "test", "-f", "/tmp/go"}, Interval: 200 * time.Millisecond, Retries: 10000,
		},
	}
}

func basePlan() *composeplan.Plan {
	migration := "CREATE TABLE items (id serial PRIMARY KEY, owner text NOT NULL)"
	if Mode() == "startfail" {
		migration = "CREATE TABLE items (broken"
	}
	psql := func(sql string) []string {
		return []string{"psql", "-v", "ON_ERROR_STOP=1", "-h", "postgres", "-U", "app", "-d", "app", "-c", sql}
	}
	pgEnv := []composeplan.EnvVar{{Name: "PGPASSWORD", Value: "${SUITE_PG_PASSWORD:-suite-secret}"}}
	return &composeplan.Plan{
		Name: os.Getenv("COMPOSEGEN_SUITE_NAME"),
		Services: []composeplan.ServiceSpec{
			{
				Name: "postgres", Image: "postgres:16", Kind: "postgres",
				Environment: []composeplan.EnvVar{
					{Name: "POSTGRES_DB", Value: "app"},
					{Name: "POSTGRES_PASSWORD", Value: "${SUITE_PG_PASSWORD:-suite-secret}"},
					{Name: "POSTGRES_USER", Value: "app"},
					{Name: "SUITE_DRIFT", Value: "${COMPOSEGEN_SUITE_DRIFT:-}"},
				},
				Ports: []composeplan.PortSpec{{Target: 5432, Protocol: "tcp"}},
				Probe: &composeplan.ProbeSpec{Protocol: "postgres", Port: 5432},
			},
			{
				Name: "migrate", Image: "postgres:16", Entrypoint: []string{}, Lifecycle: composeplan.LifecycleOneShot,
				Command: psql(migration), Environment: pgEnv,
				DependsOn: []composeplan.Dependency{{Service: "postgres", Condition: "service_healthy", Required: true}},
			},
			{
				Name: "seed", Image: "postgres:16", Entrypoint: []string{}, Lifecycle: composeplan.LifecycleOneShot,
				Command: psql("INSERT INTO items (owner) VALUES ('seed')"), Environment: pgEnv,
				DependsOn: []composeplan.Dependency{{Service: "migrate", Condition: "service_completed_successfully", Required: true}},
			},
			{
				Name: "redis", Image: "redis:7-alpine", Kind: "redis",
				Ports: []composeplan.PortSpec{{Target: 6379, Protocol: "tcp"}},
				Probe: &composeplan.ProbeSpec{Protocol: "redis", Port: 6379},
			},
		},
	}
}

// plan is built once per test binary, as a generated plan is a variable.
var plan = sync.OnceValue(Plan)

// Mode returns COMPOSEGEN_SUITE_MODE.
func Mode() string { return os.Getenv("COMPOSEGEN_SUITE_MODE") }

var reportMu sync.Mutex

// Report appends a line to the report file.
func Report(format string, args ...any) {
	reportMu.Lock()
	defer reportMu.Unlock()
	f, err := os.OpenFile(os.Getenv("COMPOSEGEN_SUITE_REPORT"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	line := strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", "\\n")
	if _, err := f.WriteString(line + "\n"); err != nil {
		panic(err)
	}
}

// recorder keeps the message of a Fatalf, so that it can be reported.
type recorder struct {
	*testing.T
	pkg string
}

func (r recorder) Fatalf(format string, args ...any) {
	Report("FATAL %s %s %s", r.pkg, r.Name(), fmt.Sprintf(format, args...))
	r.T.Fatalf(format, args...)
}

// Run is one test of package pkg: attach to the shared stack, report it,
// behave as the mode says (victim is set for the one test that misbehaves),
// and use fresh databases.
func Run(t *testing.T, pkg string, victim bool) {
	mode := Mode()
	t0 := time.Now()
	s := runtime.Shared(recorder{t, pkg}, plan())
	took := time.Since(t0)
	var ids []string
	for _, name := range []string{"postgres", "migrate", "seed", "redis"} {
		ids = append(ids, s.Service(name).ContainerID())
	}
	sort.Strings(ids)
	Report("ATTACH %s %s %s %s %d", pkg, t.Name(), s.ProjectName(), strings.Join(ids, ","), took.Microseconds())
	if err := s.Down(context.Background()); err == nil {
		t.Error("Down on a shared stack did not return an error")
	}
	if mode == "dead" && pkg == "b" && !victim {
		// Package b's victim kills postgres while its other tests would
		// go on to use it: what they would do races with the kill (a
		// fresh database retries the dead server for its whole budget,
		// 90 s), and what the mode checks is what the tests of package c
		// are told. They stop here.
		return
	}
	if victim {
		switch mode {
		case "fail":
			t.Fatal("deliberate failure")
		case "panic":
			panic("deliberate panic")
		case "timeout":
			time.Sleep(10 * time.Minute)
		case "sigkill":
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		case "dead":
			if err := s.Service("postgres").Kill(context.Background(), "SIGKILL"); err != nil {
				t.Fatal(err)
			}
			Report("KILLED %s", pkg)
			return
		}
	}
	if mode == "wait" {
		time.Sleep(10 * time.Minute) // until the parent interrupts go test
	}
	if mode == "hold" {
		// The parent test runs other things while this run uses the stack.
		AwaitReport(t, "RELEASE")
	}
	if mode == "killwatcher" {
		if victim {
			KillWatcher(t, s)
			Report("KILLED-WATCHER %s", pkg)
		}
		// Every test uses the stack after its watcher died and after
		// package d, which does not use it, started a stack of its own
		// (and so ran the reaper) and asked prune to remove it.
		AwaitReport(t, "D-DONE")
	}
	Isolation(t, s, pkg)
}

// Isolation checks that a fresh database holds the seed only and this
// test's rows, and a leased Redis database only this test's keys.
func Isolation(t *testing.T, s *runtime.Stack, pkg string) {
	ctx := context.Background()
	t0 := time.Now()
	dsn := templates.PostgresFreshDSN(t, runtimeimpl.Of(s.Service("postgres")))
	tDSN := time.Since(t0)
	t0 = time.Now()
	u := templates.RedisFreshURL(t, runtimeimpl.Of(s.Service("redis")))
	tURL := time.Since(t0)
	Report("FRESH %s %s %d %d", pkg, t.Name(), tDSN.Microseconds(), tURL.Microseconds())

	db, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	rows := 3
	for i := 0; i < rows; i++ {
		if _, err := db.Exec(ctx, "INSERT INTO items (owner) VALUES ($1)", pkg+"/"+t.Name()); err != nil {
			t.Fatal(err)
		}
	}
	r, err := db.Query(ctx, "SELECT owner FROM items ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	owners, err := pgx.CollectRows(r, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"seed"}
	for i := 0; i < rows; i++ {
		want = append(want, pkg+"/"+t.Name())
	}
	if strings.Join(owners, ",") != strings.Join(want, ",") {
		t.Errorf("fresh database holds %q, want %q", owners, want)
		Report("ISOLATION-BROKEN %s %s pg %q", pkg, t.Name(), owners)
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	for i := 0; i < rows; i++ {
		if err := rdb.Set(ctx, fmt.Sprintf("%s/%s/%d", pkg, t.Name(), i), "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond) // while other tests hold their leases
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, pkg+"/"+t.Name()+"/") {
			t.Errorf("leased database holds another test's key %q", k)
			Report("ISOLATION-BROKEN %s %s redis %q", pkg, t.Name(), k)
		}
	}
	if len(keys) != rows {
		t.Errorf("leased database holds %d keys, want %d", len(keys), rows)
	}
	Report("OK %s %s", pkg, t.Name())
}

// KillWatcher kills, with SIGKILL, the watcher process that owns the
// shared stack s (named by its owner labels), as the OOM killer or a kill
// aimed at test binaries would.
func KillWatcher(t *testing.T, s *runtime.Stack) {
	ctx := context.Background()
	eng, err := engines.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	list, err := eng.List(ctx, map[string]string{"com.docker.compose.project": s.ProjectName()})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range list {
		if id, _, ok := owner.FromLabels(r.Labels); ok {
			if id.Pid == os.Getpid() {
				t.Fatalf("the shared stack's owner is this test binary, not a watcher")
			}
			if err := syscall.Kill(id.Pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill the watcher %d: %v", id.Pid, err)
			}
			for owner.Judge(id) != owner.Dead {
				time.Sleep(10 * time.Millisecond)
			}
			Report("WATCHER %s", strconv.Itoa(id.Pid))
			return
		}
	}
	t.Fatalf("no owner labels on the shared stack %s", s.ProjectName())
}

// AwaitReport waits until a line of the report starts with prefix, and
// returns its fields.
func AwaitReport(t *testing.T, prefix string) []string {
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(os.Getenv("COMPOSEGEN_SUITE_REPORT"))
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, prefix+" ") || l == prefix {
				return strings.Fields(l)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no %s in the report after 3 minutes", prefix)
	return nil
}

// OwnStack is package d's test in killwatcher mode: it does not use the
// shared stack; it waits until its watcher was killed, starts a stack of
// its own (a start runs the reaper) and asks prune to remove the shared
// stack, which processes of the run use: prune must skip it.
func OwnStack(t *testing.T) {
	if Mode() != "killwatcher" {
		t.Skip("killwatcher mode only")
	}
	attach := AwaitReport(t, "ATTACH")
	AwaitReport(t, "KILLED-WATCHER")
	project := attach[3]
	own := &composeplan.Plan{
		Name: os.Getenv("COMPOSEGEN_SUITE_NAME") + "-own",
		Services: []composeplan.ServiceSpec{{
			Name: "redis", Image: "redis:7-alpine", Kind: "redis",
			Ports: []composeplan.PortSpec{{Target: 6379, Protocol: "tcp"}},
			Probe: &composeplan.ProbeSpec{Protocol: "redis", Port: 6379},
		}},
	}
	runtime.Start(t, own)
	pruned, err := admin.Prune(context.Background(), admin.PruneOptions{Project: project})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pruned {
		if p.Project == project {
			if !p.Skipped {
				t.Errorf("prune removed the shared stack in use: %+v", p)
			}
			Report("PRUNED %s skipped=%t %s", project, p.Skipped, p.Reason)
		}
	}
	time.Sleep(time.Second) // the reaper of the start above ran too
	Report("D-DONE")
}

// RunPart is a test of package pkg that needs only PostgreSQL: it waits
// for postgres (and the migration and seed that feed it), checks that the
// broker is not part of what it got and, in part mode, is not ready yet,
// and uses a fresh database.
func RunPart(t *testing.T, pkg string) {
	t0 := time.Now()
	s := runtime.Shared(recorder{t, pkg}, plan(), runtime.WithServices("postgres"))
	took := time.Since(t0)
	if s.Service("broker") != nil || s.Service("redis") != nil {
		t.Errorf("Shared with WithServices(postgres) returned the broker or redis")
	}
	if Mode() == "part" && pkg == "e" && brokerReady(t) {
		t.Errorf("the broker was ready when Shared(WithServices(postgres)) returned: it waited for it")
	}
	Report("ATTACH-PART %s %s %s %s %d", pkg, t.Name(), s.ProjectName(), s.Service("postgres").ContainerID(), took.Microseconds())
	dsn := templates.PostgresFreshDSN(t, runtimeimpl.Of(s.Service("postgres")))
	db, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	var owner string
	if err := db.QueryRow(context.Background(), "SELECT owner FROM items").Scan(&owner); err != nil || owner != "seed" {
		t.Fatalf("the migration and the seed had not run: %v %q", err, owner)
	}
	Report("OK %s %s", pkg, t.Name())
}

// RunFull is a test of package pkg that needs the whole stack: it lets the
// broker start, waits for everything and checks the broker answers.
func RunFull(t *testing.T, pkg string) {
	stop := LetBrokerStart(t)
	t0 := time.Now()
	s := runtime.Shared(recorder{t, pkg}, plan())
	took := time.Since(t0)
	stop()
	res, err := s.Service("broker").Exec(context.Background(), "test", "-f", "/tmp/go")
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("broker not ready after Shared: %v %+v", err, res)
	}
	Report("ATTACH-FULL %s %s %s %s %d", pkg, t.Name(), s.ProjectName(), s.Service("postgres").ContainerID(), took.Microseconds())
	Report("OK %s %s", pkg, t.Name())
}

// brokerContainers returns the broker containers of the suite's plan.
func brokerContainers(t *testing.T) []string {
	ctx := context.Background()
	eng, err := engines.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	list, err := eng.List(ctx, map[string]string{"io.composegen.shared.plan": os.Getenv("COMPOSEGEN_SUITE_NAME"), "com.docker.compose.service": "broker"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range list {
		if r.Kind == engine.KindContainer {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

// brokerReady reports whether a broker container of the suite was let
// start.
func brokerReady(t *testing.T) bool {
	ctx := context.Background()
	eng, err := engines.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range brokerContainers(t) {
		if code, err := eng.Exec(ctx, id, []string{"test", "-f", "/tmp/go"}, io.Discard, io.Discard); err == nil && code == 0 {
			return true
		}
	}
	return false
}

// LetBrokerStart lets every broker container of the suite's plan start,
// those of now and those created later, until stop is called.
func LetBrokerStart(t *testing.T) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	eng, err := engines.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			for _, id := range brokerContainers(t) {
				_, _ = eng.Exec(ctx, id, []string{"touch", "/tmp/go"}, io.Discard, io.Discard)
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	return func() { cancel(); <-done }
}
