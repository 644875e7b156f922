package fresh_test

import (
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/composegen/composegen/runtime"
	"github.com/composegen/composegen/runtime/composeplan"
	"github.com/composegen/composegen/runtime/runtimeimpl"
	"github.com/composegen/composegen/runtime/runtimetest"
	"github.com/composegen/composegen/templates"
)

// mariadbPlan is MariaDB with a migration (a parent and a child table with
// a foreign key, a generated column and a view) and a seed. Without root,
// the environment gives no root password.
func mariadbPlan(name string, withRoot bool) *composeplan.Plan {
	env := []composeplan.EnvVar{
		{Name: "MARIADB_DATABASE", Value: "app"},
		{Name: "MARIADB_PASSWORD", Value: "app-secret"},
		{Name: "MARIADB_USER", Value: "app"},
	}
	if withRoot {
		env = append(env, composeplan.EnvVar{Name: "MARIADB_ROOT_PASSWORD", Value: "root-secret"})
	} else {
		env = append(env, composeplan.EnvVar{Name: "MARIADB_RANDOM_ROOT_PASSWORD", Value: "1"})
	}
	mysql := func(sql string) []string {
		return []string{"mariadb", "-h", "db", "-uapp", "-papp-secret", "app", "-e", sql}
	}
	return &composeplan.Plan{
		Name: name,
		Services: []composeplan.ServiceSpec{
			{
				Name: "db", Image: "mariadb:11", Kind: "mariadb", Environment: env,
				Ports: []composeplan.PortSpec{{Target: 3306, Protocol: "tcp"}},
				Probe: &composeplan.ProbeSpec{Protocol: "mysql", Port: 3306},
			},
			{
				Name: "migrate", Image: "mariadb:11", Entrypoint: []string{},
				Command: mysql("CREATE TABLE owners (id int PRIMARY KEY, name varchar(100) NOT NULL);" +
					"CREATE TABLE items (id int AUTO_INCREMENT PRIMARY KEY, owner_id int NOT NULL, label varchar(100) NOT NULL," +
					" shout varchar(100) AS (UPPER(label)) VIRTUAL, FOREIGN KEY (owner_id) REFERENCES owners (id));" +
					"CREATE VIEW item_labels AS SELECT label FROM items"),
				DependsOn: []composeplan.Dependency{{Service: "db", Condition: "service_healthy", Required: true}},
			},
			{
				Name: "seed", Image: "mariadb:11", Entrypoint: []string{},
				Command:   mysql("INSERT INTO owners VALUES (1, 'seed'); INSERT INTO items (owner_id, label) VALUES (1, 'seed')"),
				DependsOn: []composeplan.Dependency{{Service: "migrate", Condition: "service_completed_successfully", Required: true}},
			},
		},
	}
}

func TestMariaDBFreshDSN(t *testing.T) {
	runtimetest.RequireEngine(t)
	t.Parallel()
	// The drop kills the session each test leaves open; the driver would
	// log it.
	_ = mysql.SetLogger(mysql.Logger(nopLogger{}))
	stack := runtime.Start(t, mariadbPlan("tpl-fresh-maria", true))
	svc := runtimeimpl.Of(stack.Service("db"))
	var mu sync.Mutex
	var took []time.Duration
	t.Run("group", func(t *testing.T) {
		for i := 0; i < 6; i++ {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				t0 := time.Now()
				dsn := templates.MariaDBFreshDSN(t, svc)
				mu.Lock()
				took = append(took, time.Since(t0))
				mu.Unlock()
				if !strings.HasPrefix(dsn, "app:app-secret@tcp(") {
					t.Errorf("DSN %q does not log in as the service's user", dsn)
				}
				db, err := sql.Open("mysql", dsn)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				for j := 0; j <= i; j++ {
					if _, err := db.Exec("INSERT INTO items (owner_id, label) VALUES (1, ?)", t.Name()); err != nil {
						t.Fatal(err)
					}
				}
				var n, seeds int
				if err := db.QueryRow("SELECT COUNT(*), SUM(label = 'seed') FROM item_labels").Scan(&n, &seeds); err != nil {
					t.Fatal(err)
				}
				if n != i+2 || seeds != 1 {
					t.Errorf("the copy's view shows %d rows (%d seeds), want the seed and this test's %d", n, seeds, i+1)
				}
				var shout string
				if err := db.QueryRow("SELECT shout FROM items WHERE label = 'seed'").Scan(&shout); err != nil || shout != "SEED" {
					t.Errorf("generated column: %q, %v", shout, err)
				}
				if _, err := db.Exec("INSERT INTO items (owner_id, label) VALUES (99, 'orphan')"); err == nil {
					t.Error("the copy lost its foreign key")
				}
				// Left open on purpose: the drop at cleanup closes it.
				go func() { _, _ = db.Exec("SELECT SLEEP(30)") }()
				time.Sleep(50 * time.Millisecond)
			})
		}
	})
	t.Logf("MariaDB FreshDSN median %s (6 parallel tests)", median(took))
	db, err := sql.Open("mysql", "root:root-secret@tcp("+svc.Addr(3306)+")/")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var left int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 't\\_%'").Scan(&left); err != nil || left != 0 {
		t.Errorf("%d test databases left (%v)", left, err)
	}
}

// fatalTB records a Fatalf and ends the test's goroutine as Fatalf does,
// without failing the test: for the cases where the test must fail.
type fatalTB struct {
	*testing.T
	msg string
}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

// fatalOf runs fn with a fatalTB and returns what it failed with, "" if it
// did not.
func fatalOf(t *testing.T, fn func(tb templates.TB)) (msg string) {
	f := &fatalTB{T: t}
	defer func() {
		if r := recover(); r != nil {
			if r != f {
				panic(r)
			}
			msg = f.msg
		}
	}()
	fn(f)
	return ""
}

// Without root's password, DSN's user needs privileges it does not have:
// FreshDSN fails, saying why and what to do.
func TestMariaDBFreshDSNWithoutPrivileges(t *testing.T) {
	runtimetest.RequireEngine(t)
	t.Parallel()
	stack := runtime.Start(t, mariadbPlan("tpl-fresh-maria-noroot", false))
	msg := fatalOf(t, func(tb templates.TB) { templates.MariaDBFreshDSN(tb, runtimeimpl.Of(stack.Service("db"))) })
	t.Logf("FreshDSN failed with:\n%s", msg)
	for _, want := range []string{`user "app" lacks a privilege`, "MARIADB_ROOT_PASSWORD"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure %q does not say %q", msg, want)
		}
	}
	if strings.Contains(msg, "app-secret") {
		t.Error("the failure shows the password")
	}
}

type nopLogger struct{}

func (nopLogger) Print(...any) {}
