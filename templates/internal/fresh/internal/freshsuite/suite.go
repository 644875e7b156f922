// Package freshsuite is the test suite that package fresh's
// connection-budget and leftover tests run with a real `go test` of several
// packages at once (p1 to p4, built with -tags freshsuite): every test
// attaches to one kept shared stack and calls FreshDSN, as a suite of many
// packages of parallel tests does. The environment says what to do:
//
//	FRESHSUITE_NAME    the plan's name (unique per parent test)
//	FRESHSUITE_DB      postgres or mariadb
//	FRESHSUITE_TESTS   parallel tests per package (default 40)
//	FRESHSUITE_MODE    load (call FreshDSN), or panic (5 tests hold their
//	                   databases while a sixth panics)
//	FRESHSUITE_REPORT  the report file (one line per event)
package freshsuite

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime"
	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/runtimeimpl"
	"github.com/composegen/composegen/templates"
)

// DB returns FRESHSUITE_DB.
func DB() string {
	if d := os.Getenv("FRESHSUITE_DB"); d != "" {
		return d
	}
	return "postgres"
}

// Service is the name of the database service.
const Service = "db"

// Plan is the database with a migration and a seed, run by a one-shot.
func Plan() *composeplan.Plan {
	name := os.Getenv("FRESHSUITE_NAME")
	if DB() == "mariadb" {
		return &composeplan.Plan{
			Name: name,
			Services: []composeplan.ServiceSpec{
				{
					Name: Service, Image: "mariadb:11", Kind: "mariadb",
					Environment: []composeplan.EnvVar{
						{Name: "MARIADB_DATABASE", Value: "app"},
						{Name: "MARIADB_PASSWORD", Value: "app-secret"},
						{Name: "MARIADB_USER", Value: "app"},
						{Name: "MARIADB_ROOT_PASSWORD", Value: "root-secret"},
					},
					Ports: []composeplan.PortSpec{{Target: 3306, Protocol: "tcp"}},
					Probe: &composeplan.ProbeSpec{Protocol: "mysql", Port: 3306},
				},
				{
					Name: "migrate", Image: "mariadb:11", Entrypoint: []string{},
					Command: []string{"mariadb", "-h", Service, "-uapp", "-papp-secret", "app", "-e",
						"CREATE TABLE items (id int AUTO_INCREMENT PRIMARY KEY, owner varchar(100) NOT NULL); INSERT INTO items (owner) VALUES ('seed')"},
					DependsOn: []composeplan.Dependency{{Service: Service, Condition: "service_healthy", Required: true}},
				},
			},
		}
	}
	return &composeplan.Plan{
		Name: name,
		Services: []composeplan.ServiceSpec{
			{
				Name: Service, Image: "postgres:16", Kind: "postgres",
				Environment: []composeplan.EnvVar{
					{Name: "POSTGRES_DB", Value: "app"},
					{Name: "POSTGRES_PASSWORD", Value: "app-secret"},
					{Name: "POSTGRES_USER", Value: "app"},
				},
				Ports: []composeplan.PortSpec{{Target: 5432, Protocol: "tcp"}},
				Probe: &composeplan.ProbeSpec{Protocol: "postgres", Port: 5432},
			},
			{
				Name: "migrate", Image: "postgres:16", Entrypoint: []string{},
				Command: []string{"psql", "-v", "ON_ERROR_STOP=1", "-h", Service, "-U", "app", "-d", "app", "-c",
					"CREATE TABLE items (id serial PRIMARY KEY, owner text NOT NULL); INSERT INTO items (owner) VALUES ('seed')"},
				Environment: []composeplan.EnvVar{{Name: "PGPASSWORD", Value: "app-secret"}},
				DependsOn:   []composeplan.Dependency{{Service: Service, Condition: "service_healthy", Required: true}},
			},
		},
	}
}

// plans holds one plan per name and database, as a generated plan is a
// variable (the parent test runs several).
var plans sync.Map

func plan() *composeplan.Plan {
	p, _ := plans.LoadOrStore(os.Getenv("FRESHSUITE_NAME")+"/"+DB(), Plan())
	return p.(*composeplan.Plan)
}

// Attach returns the shared stack (from this file, so that the parent test
// and the suite's packages share one project directory, hence one stack).
func Attach(t testing.TB, opts ...runtime.Option) *runtime.Stack {
	t.Helper()
	return runtime.Shared(t, plan(), opts...)
}

// FreshDSN is the FreshDSN accessor of the database service.
func FreshDSN(t testing.TB, s *runtime.Stack) string {
	t.Helper()
	if DB() == "mariadb" {
		return templates.MariaDBFreshDSN(t, runtimeimpl.Of(s.Service(Service)))
	}
	return templates.PostgresFreshDSN(t, runtimeimpl.Of(s.Service(Service)))
}

var reportMu sync.Mutex

// Report appends a line to the report file.
func Report(format string, args ...any) {
	reportMu.Lock()
	defer reportMu.Unlock()
	f, err := os.OpenFile(os.Getenv("FRESHSUITE_REPORT"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", "\\n") + "\n"); err != nil {
		panic(err)
	}
}

// Count returns how many lines of the report start with kind.
func Count(kind string) int {
	b, _ := os.ReadFile(os.Getenv("FRESHSUITE_REPORT"))
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, kind+" ") {
			n++
		}
	}
	return n
}

// Run is the test of package pkg: FRESHSUITE_TESTS parallel tests, each
// attaching to the stack and calling FreshDSN.
func Run(t *testing.T, pkg string) {
	n, err := strconv.Atoi(os.Getenv("FRESHSUITE_TESTS"))
	if err != nil {
		n = 40
	}
	panicMode := os.Getenv("FRESHSUITE_MODE") == "panic"
	for i := 0; i < n; i++ {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			s := Attach(t)
			if panicMode && i == 0 {
				// The victim: once its siblings hold their databases.
				for Count("HOLD") < n-1 {
					time.Sleep(10 * time.Millisecond)
				}
				panic("deliberate panic while sibling tests hold fresh databases")
			}
			dsn := FreshDSN(t, s)
			if dsn == "" {
				t.Fatal("no DSN")
			}
			if panicMode {
				Report("HOLD %s %s", pkg, t.Name())
				time.Sleep(time.Minute) // until the victim's panic ends the binary
			}
			Report("OK %s %s", pkg, t.Name())
		})
	}
}
