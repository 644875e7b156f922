package templates

import (
	"context"

	"github.com/composegen/composegen/templates/internal/fresh"
)

// The per-test isolation accessors (FreshDSN, FreshURL). Unlike the other
// accessors they act on the running service: each creates or leases a
// store for the calling test and removes it when the test ends. What they
// derive from the service (its user, password and database) is computed
// here, as for the pure accessors; the work itself (the copies, the pool,
// the connection budget, the sweep of leftovers, the cross-process locks)
// is package templates/internal/fresh's.

// TB is the part of testing.TB that the per-test isolation accessors use.
// *testing.T and *testing.B satisfy it.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Name() string
}

// StackService is what the per-test isolation accessors read of a running
// service: Service, plus the identity of its container and the locks and
// leases that its stack instance's users (every test binary of a go test
// run that shares it) coordinate through. The generated code passes its
// runtimeimpl.Service, which implements it.
type StackService interface {
	Service
	// ContainerID returns the id of the service's container.
	ContainerID() string
	// Lock takes the lock called name of the service's stack instance,
	// across processes, waiting until ctx ends.
	Lock(ctx context.Context, name string) (unlock func(), err error)
	// Lease leases one of n slots called name of the service's stack
	// instance, across processes, waiting until ctx ends.
	Lease(ctx context.Context, name string, n int) (slot int, release func(), err error)
	// Settle waits until the stack's one-shot services (migrations,
	// seeds) have completed.
	Settle(ctx context.Context) error
}

// PostgresFreshDSN is the FreshDSN accessor of the postgres kind: it creates
// a database for the calling test, a copy of the service's database
// (POSTGRES_DB) as its init scripts and the stack's one-shot services left
// it, and returns a DSN for it (as DSN, with the new database's name). The
// database is dropped when the test ends (WITH (FORCE): connections the test
// left open are closed).
//
// The copy is made with CREATE DATABASE … TEMPLATE from a template database
// (composegen_tmpl_<db>) that the first FreshDSN call of the stack takes
// once, under a lock that every test binary sharing the stack honours; the
// template accepts no connections, so copies never wait for one another. The
// first call needs the service's database to be idle (no other session
// connected to it) and the user to be allowed to create databases; when
// either is not the case the test fails with what to do.
//
// Its own sessions are at most 4 at work on the service across every test
// binary of the stack, plus one idle per test binary (application_name
// "composegen FreshDSN"); a refusal that passes (too many clients, a
// restart) is retried until shortly before the test's deadline. The first
// call of each test binary drops the databases that test binaries which
// ended left (a panic ends a binary before its other tests' cleanups run)
// and the pool's copies beyond its size.
func PostgresFreshDSN(t TB, s StackService) string {
	t.Helper()
	return fresh.Postgres(t, s, fresh.Login{User: PostgresUser(s), Password: PostgresPassword(s)}, PostgresDatabase(s))
}

// BitnamiPostgresFreshDSN is the FreshDSN accessor of the postgres-bitnami
// kind (see PostgresFreshDSN). Bitnami's custom user (POSTGRESQL_USERNAME)
// cannot create databases unless an init script grants it CREATEDB.
func BitnamiPostgresFreshDSN(t TB, s StackService) string {
	t.Helper()
	return fresh.Postgres(t, s, fresh.Login{User: BitnamiPostgresUser(s), Password: BitnamiPostgresPassword(s)}, BitnamiPostgresDatabase(s))
}

// MySQLFreshDSN is the FreshDSN accessor of the mysql kind: it creates a
// database for the calling test with the same tables and rows as the
// service's database (MYSQL_DATABASE) as its init scripts and the stack's
// one-shot services left it, and returns a DSN for it (as DSN, with the new
// database's name and DSN's user, who is granted all privileges on it). The
// database is dropped when the test ends (the test's sessions are killed
// first).
//
// MySQL has no CREATE DATABASE … TEMPLATE: the first call of the stack
// copies the service's database into a template database
// (composegen_tmpl_<db>), once, under a lock that every test binary sharing
// the stack honours; each call then creates its tables from the template's
// definitions (SHOW CREATE TABLE, so indexes and foreign keys are kept) and
// copies its rows, in one round trip. Views are copied too; triggers,
// routines and events are not. Databases are created as root when the
// service's environment gives root's password (MYSQL_ROOT_PASSWORD, or
// MYSQL_ALLOW_EMPTY_PASSWORD), else as DSN's user, who then needs the
// CREATE and DROP privileges on all databases.
//
// As for PostgresFreshDSN, its own sessions stay within 4 at work across
// the stack's test binaries plus one idle per binary, transient refusals
// (error 1040, too many connections) are retried within the test's
// deadline, and the first call of each test binary drops what ended test
// binaries left.
func MySQLFreshDSN(t TB, s StackService) string {
	t.Helper()
	return mysqlFresh(t, s, officialMySQL(s, "MYSQL_"), officialMySQLRoot(s, "MYSQL_"))
}

// MariaDBFreshDSN is the FreshDSN accessor of the mariadb kind (see
// MySQLFreshDSN; root's password is MARIADB_ROOT_PASSWORD or
// MYSQL_ROOT_PASSWORD, or empty with MARIADB_ALLOW_EMPTY_ROOT_PASSWORD).
func MariaDBFreshDSN(t TB, s StackService) string {
	t.Helper()
	return mysqlFresh(t, s, officialMySQL(s, "MARIADB_", "MYSQL_"), officialMySQLRoot(s, "MARIADB_", "MYSQL_"))
}

// BitnamiMySQLFreshDSN is the FreshDSN accessor of the mysql-bitnami kind
// (see MySQLFreshDSN; root is MYSQL_ROOT_USER with MYSQL_ROOT_PASSWORD).
func BitnamiMySQLFreshDSN(t TB, s StackService) string {
	t.Helper()
	return mysqlFresh(t, s, bitnamiMySQL(s, "MYSQL_"), bitnamiMySQLRoot(s, "MYSQL_"))
}

// BitnamiMariaDBFreshDSN is the FreshDSN accessor of the mariadb-bitnami
// kind (see MySQLFreshDSN; root is MARIADB_ROOT_USER with
// MARIADB_ROOT_PASSWORD).
func BitnamiMariaDBFreshDSN(t TB, s StackService) string {
	t.Helper()
	return mysqlFresh(t, s, bitnamiMySQL(s, "MARIADB_"), bitnamiMySQLRoot(s, "MARIADB_"))
}

// officialMySQLRoot returns root's login when the environment gives its
// password (nil with a random root password, or none).
func officialMySQLRoot(s Service, prefixes ...string) *fresh.Login {
	for _, p := range prefixes {
		if pw := envOrFile(s, p+"ROOT_PASSWORD"); pw != "" {
			return &fresh.Login{User: "root", Password: pw}
		}
	}
	for _, v := range []string{"MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "MYSQL_ALLOW_EMPTY_PASSWORD"} {
		if x := s.Env(v); x != "" && x != "0" && x != "no" {
			return &fresh.Login{User: "root"}
		}
	}
	return nil
}

// bitnamiMySQLRoot returns the root user's login of Bitnami's images when
// the environment gives its password.
func bitnamiMySQLRoot(s Service, prefix string) *fresh.Login {
	if pw := s.Env(prefix + "ROOT_PASSWORD"); pw != "" {
		return &fresh.Login{User: envDefault(s, prefix+"ROOT_USER", "root"), Password: pw}
	}
	return nil
}

// mysqlFresh hands FreshDSN on a MySQL-family service to package fresh,
// with the account and database of DSN (app), and root's login when known.
func mysqlFresh(t TB, s StackService, app mysqlCreds, root *fresh.Login) string {
	t.Helper()
	return fresh.MySQL(t, s, fresh.Login{User: app.user, Password: app.password}, app.database, root)
}

// RedisFreshURL is the FreshURL accessor of the redis kind: it leases a
// logical database of the server to the calling test and returns its URL
// (redis://[:password@]host:port/N, as URL with N for 0). The lease holds
// across every test binary that uses the stack: no two tests get the same
// database at the same time. The database is flushed when leased and when
// the test ends, when it is released. Database 0, the one URL and the
// stack's other services use, is never leased.
//
// When every database is leased, FreshURL waits for one, until shortly
// before the test's deadline, rather than share; the server's databases
// setting (16 by default: 15 leases) bounds how many tests hold one at a
// time.
func RedisFreshURL(t TB, s StackService) string {
	t.Helper()
	return fresh.Redis(t, s, RedisPassword(s))
}

// BitnamiRedisFreshURL is the FreshURL accessor of the redis-bitnami kind
// (see RedisFreshURL).
func BitnamiRedisFreshURL(t TB, s StackService) string {
	t.Helper()
	return fresh.Redis(t, s, BitnamiRedisPassword(s))
}

// DragonflyFreshURL is the FreshURL accessor of the dragonfly kind (see
// RedisFreshURL; Dragonfly's --dbnum sets the number of databases).
func DragonflyFreshURL(t TB, s StackService) string {
	t.Helper()
	return fresh.Redis(t, s, DragonflyPassword(s))
}
