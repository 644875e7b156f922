package fresh

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/composegen/composegen/templates/internal/dsn"
	"github.com/composegen/composegen/templates/internal/wire"
)

// Postgres is the work of templates.PostgresFreshDSN (see it): it creates a
// database for t, a copy of database db of the service as its init scripts
// and the stack's one-shot services left it, drops it when t ends, and
// returns its DSN (user login, no TLS). It fails t, saying why and what to
// do, when it cannot.
func Postgres(t TB, s Service, login Login, db string) string {
	t.Helper()
	return pgFresh(t, s, pgCreds{user: login.User, password: login.Password, db: db})
}

type pgCreds struct{ user, password, db string }

// pgStrategy is the CREATE DATABASE strategy of the copies (PostgreSQL 15
// and later; earlier servers always copy files). Measured on the bench
// machine with 8 copies of a small template at a time, FILE_COPY (the
// kernel copies the files, the checkpoints before and after are shared by
// concurrent copies) took 1.8-2.7 s in all where WAL_LOG, 15's default,
// took 3.7-7.8 s, and WAL_LOG left dirty pages whose checkpoint cost 1-2 s
// more later; one copy at a time they were on par.
var pgStrategy = "FILE_COPY"

// pgTemplates remembers, per container and database, the template taken.
var pgTemplates once[string]

// pgSessions are FreshDSN's PostgreSQL administration sessions.
var pgSessions = &sessionKind[wire.PGConfig, *wire.PG]{
	dial: wire.DialPG,
	reusable: func(err error) bool {
		// A server's ERROR leaves the session usable; a FATAL ends it, and
		// an I/O error (or an interrupted call) leaves it in an unknown
		// state.
		var pe *wire.PGError
		return err == nil || errors.As(err, &pe) && pe.Severity != "FATAL" && pe.Severity != "PANIC"
	},
}

// pgTransient reports whether err is worth another try: too many
// connections, a server that starts, stops or restarts, a copy that races
// a session of its template, a connection refused or cut.
func pgTransient(err error) bool {
	if isCtxErr(err) {
		return false
	}
	var pe *wire.PGError
	if !errors.As(err, &pe) {
		return true // I/O: refused, reset, closed
	}
	switch pe.Code {
	case "53300", // too_many_connections
		"57P01", "57P02", "57P03", // admin_shutdown, crash_shutdown, cannot_connect_now
		"08000", "08003", "08006", // connection exceptions
		"55006", // object_in_use: the source of a copy is in use
		"40P01": // deadlock_detected
		return true
	}
	return false
}

// pgTransientTemplate is pgTransient for taking the template, whose source
// being in use is not transient: another service holds it (see
// pgTakeTemplate's own grace period).
func pgTransientTemplate(err error) bool {
	var pe *wire.PGError
	if errors.As(err, &pe) && pe.Code == "55006" {
		return false
	}
	return pgTransient(err)
}

// pgFresh is FreshDSN for a PostgreSQL service whose user, password and
// database are c.
func pgFresh(t TB, s Service, c pgCreds) string {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	addr := s.Addr(5432)
	fail := func(err error) string {
		t.Fatalf("FreshDSN: %v", err)
		return ""
	}
	admin := wire.PGConfig{Addr: addr, User: c.user, Password: c.password, Database: maintenanceDB(c.db), AppName: adminAppName}
	g := gateOf(s)
	me, err := ownerOf(ctx, s)
	if err != nil {
		return fail(err)
	}
	key := s.ContainerID() + "\x00" + c.user + "\x00" + c.db
	tmpl, err := pgTemplates.do(ctx, key, func() (string, error) {
		return pgTakeTemplate(ctx, s, g, admin, c)
	})
	if err != nil {
		return fail(err)
	}
	drop := func(ctx context.Context, name string) error { return pgDrop(ctx, g, admin, name) }
	sweepOnce(t, key, func() ([]string, error) { return pgSweep(ctx, s, g, admin, me, tmpl) })
	retryDrops(ctx, key, drop)
	name := me.name(t.Name())
	if !pgClaim(ctx, g, admin, tmpl, name) {
		if err := pgCreate(ctx, g, admin, tmpl, name); err != nil {
			return fail(explainPG(err, c, "create"))
		}
	}
	pgRefill(s, g, admin, tmpl)
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		if err := drop(ctx, name); err != nil {
			dropFailed(key, name)
			t.Logf("%s", dropFailure(name, err))
		}
	})
	return dsn.Postgres(addr, c.user, c.password, name)
}

// pgCreate creates database name as a copy of tmpl.
func pgCreate(ctx context.Context, g *gate, admin wire.PGConfig, tmpl, name string) error {
	return adminDo(ctx, g, pgSessions, admin, pgTransient, func(ctx context.Context, conn *wire.PG) error {
		stmt := "CREATE DATABASE " + wire.QuoteIdent(name) + " TEMPLATE " + wire.QuoteIdent(tmpl)
		if pgStrategy != "" && conn.ServerVersionNum() >= 150000 {
			stmt += " STRATEGY " + pgStrategy
		}
		_, err := conn.Exec(ctx, stmt)
		var pe *wire.PGError
		if errors.As(err, &pe) && pe.Code == "42P04" {
			// duplicate_database: an earlier try whose answer was lost
			// made it (the name is this process's and random).
			return nil
		}
		return err
	})
}

// A pool of ready copies of the template: CREATE DATABASE copies every
// page of the template (some 8 MB even for an empty database, its system
// catalogs) and takes from 20 ms on an idle machine to a second on a busy
// one, so copies are made ahead, in the background, and a test claims one
// by renaming it (ALTER DATABASE … RENAME, atomic: two tests never get the
// same). Each call adds one copy in the background, up to the pool's size,
// so the pool follows the demand. The pool lives in the server: every test
// binary that uses the stack draws from it and refills it, and a kept stack
// (WithReuse) keeps it for the next run. It is refilled under a lock of
// the stack, counting the copies and those being made (also by a test
// binary that ended meanwhile), so that it never holds more than its size.
// COMPOSEGEN_FRESH_POOL sets its size (default 4; 0 creates each copy when
// it is asked for).
var pgPoolSize = poolSize()

func poolSize() int {
	if v, err := strconv.Atoi(os.Getenv("COMPOSEGEN_FRESH_POOL")); err == nil && v >= 0 {
		return v
	}
	return 4
}

// pgPoolPrefix is the name prefix of the pooled copies of tmpl.
func pgPoolPrefix(tmpl string) string {
	h := sha256.Sum256([]byte(tmpl))
	return "composegen_pool_" + hex.EncodeToString(h[:4]) + "_"
}

// pgClaim renames a pooled copy of tmpl to name; false when there is none
// to claim.
func pgClaim(ctx context.Context, g *gate, admin wire.PGConfig, tmpl, name string) bool {
	if pgPoolSize == 0 {
		return false
	}
	prefix := pgPoolPrefix(tmpl)
	claimed := false
	err := adminDo(ctx, g, pgSessions, admin, pgTransient, func(ctx context.Context, conn *wire.PG) error {
		rows, err := conn.Exec(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, "+wire.QuoteLiteral(prefix)+")")
		if err != nil {
			return err
		}
		mrand.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
		for _, r := range rows {
			if len(r) == 0 || r[0] == nil {
				continue
			}
			_, err = conn.Exec(ctx, "ALTER DATABASE "+wire.QuoteIdent(*r[0])+" RENAME TO "+wire.QuoteIdent(name))
			if err == nil {
				claimed = true
				return nil
			}
			var pe *wire.PGError
			if !errors.As(err, &pe) {
				return err // the session failed
			}
			// Another test claimed it first.
		}
		return nil
	})
	return err == nil && claimed
}

// pgFillers are the background refills of this process, per server, user
// and template.
var pgFillers struct {
	sync.Mutex
	m map[pgPoolKey]*pgFiller
}

type pgPoolKey struct {
	cfg  wire.PGConfig
	tmpl string
}

// pgFiller creates the copies that calls asked for, one at a time.
type pgFiller struct {
	s       Service
	g       *gate
	pending int
	running bool
}

// pgRefill asks for one more copy of tmpl in the pool, made in the
// background unless the pool holds pgPoolSize already: the pool grows with
// the demand (a stack whose test asks once costs one spare copy, not
// pgPoolSize).
func pgRefill(s Service, g *gate, admin wire.PGConfig, tmpl string) {
	if pgPoolSize == 0 {
		return
	}
	key := pgPoolKey{admin, tmpl}
	pgFillers.Lock()
	defer pgFillers.Unlock()
	if pgFillers.m == nil {
		pgFillers.m = map[pgPoolKey]*pgFiller{}
	}
	f := pgFillers.m[key]
	if f == nil {
		f = &pgFiller{s: s, g: g}
		pgFillers.m[key] = f
	}
	f.pending = min(f.pending+1, pgPoolSize)
	if f.running {
		return
	}
	f.running = true
	go f.run(key)
}

func (f *pgFiller) run(key pgPoolKey) {
	prefix := pgPoolPrefix(key.tmpl)
	for {
		pgFillers.Lock()
		if f.pending == 0 {
			f.running = false
			pgFillers.Unlock()
			return
		}
		f.pending--
		pgFillers.Unlock()
		if !f.createOne(key, prefix) {
			pgFillers.Lock()
			f.pending, f.running = 0, false
			pgFillers.Unlock()
			return
		}
	}
}

// pgPoolLock is the lock of the stack under which the pool of tmpl is
// counted and changed, so that it never holds more than its size.
func pgPoolLock(tmpl string) string { return "pg-pool-" + tmpl }

// createOne adds a copy to the pool unless it is full; false when the
// server failed (the stack may be gone).
func (f *pgFiller) createOne(key pgPoolKey, prefix string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	unlock, err := f.s.Lock(ctx, pgPoolLock(key.tmpl))
	if err != nil {
		return false
	}
	defer unlock()
	err = adminDo(ctx, f.g, pgSessions, key.cfg, pgTransient, func(ctx context.Context, conn *wire.PG) error {
		// The copies, and those being made: a test binary that ended
		// while it made one released the lock, but its server session
		// goes on and commits the copy.
		rows, err := conn.Exec(ctx, "SELECT (SELECT count(*) FROM pg_database WHERE starts_with(datname, "+wire.QuoteLiteral(prefix)+")) + "+
			"(SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND state = 'active' AND starts_with(query, "+wire.QuoteLiteral(pgPoolCreate(prefix))+"))")
		if err != nil {
			return err
		}
		if len(rows) != 1 || rows[0][0] == nil {
			return errors.New("no count")
		}
		if n, _ := strconv.Atoi(*rows[0][0]); n >= pgPoolSize {
			return nil
		}
		var b [5]byte
		_, _ = rand.Read(b[:])
		stmt := pgPoolCreate(prefix) + hex.EncodeToString(b[:]) + `" TEMPLATE ` + wire.QuoteIdent(key.tmpl)
		if pgStrategy != "" && conn.ServerVersionNum() >= 150000 {
			stmt += " STRATEGY " + pgStrategy
		}
		_, err = conn.Exec(ctx, stmt)
		return err
	})
	return err == nil
}

// pgPoolCreate is how the statement that makes a pooled copy starts.
func pgPoolCreate(prefix string) string { return `CREATE DATABASE "` + prefix }

// pgSweep drops what ended test binaries left on the server: their tests'
// databases, and the pool's copies beyond its size.
func pgSweep(ctx context.Context, s Service, g *gate, admin wire.PGConfig, me freshOwner, tmpl string) (dropped []string, err error) {
	var names []string
	err = adminDo(ctx, g, pgSessions, admin, pgTransient, func(ctx context.Context, conn *wire.PG) error {
		rows, err := conn.Exec(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 't\_%'`)
		names = names[:0]
		for _, r := range rows {
			if len(r) > 0 && r[0] != nil {
				names = append(names, *r[0])
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, n := range leftovers(s, me, names) {
		if err := pgDrop(ctx, g, admin, n); err != nil {
			errs = append(errs, fmt.Errorf("drop database %q: %w", n, err))
			continue
		}
		dropped = append(dropped, n)
	}
	// The pool: copies beyond its size (test binaries that refilled it
	// at once before the pool had a lock, or that ran with a larger
	// COMPOSEGEN_FRESH_POOL).
	unlock, err := s.Lock(ctx, pgPoolLock(tmpl))
	if err != nil {
		return dropped, errors.Join(append(errs, err)...)
	}
	defer unlock()
	prefix := pgPoolPrefix(tmpl)
	err = adminDo(ctx, g, pgSessions, admin, pgTransient, func(ctx context.Context, conn *wire.PG) error {
		rows, err := conn.Exec(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, "+wire.QuoteLiteral(prefix)+") ORDER BY oid")
		if err != nil {
			return err
		}
		for i := pgPoolSize; i < len(rows); i++ {
			if rows[i][0] == nil {
				continue
			}
			n := *rows[i][0]
			if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+wire.QuoteIdent(n)); err != nil {
				return err
			}
			dropped = append(dropped, n)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return dropped, errors.Join(errs...)
}

// maintenanceDB is the database the accessor's own sessions use: one that is
// never the source of a copy.
func maintenanceDB(db string) string {
	if db == "postgres" {
		return "template1"
	}
	return "postgres"
}

// pgTakeTemplate makes the template copy of c.db, unless a test (of this or
// another process) made it already.
func pgTakeTemplate(ctx context.Context, s Service, g *gate, admin wire.PGConfig, c pgCreds) (string, error) {
	tmpl := templateName(c.db)
	if err := s.Settle(ctx); err != nil {
		return "", fmt.Errorf("the template of database %q is taken once the stack's one-shot services completed: %w", c.db, err)
	}
	unlock, err := s.Lock(ctx, "pg-template-"+c.db)
	if err != nil {
		return "", err
	}
	defer unlock()
	err = adminDo(ctx, g, pgSessions, admin, pgTransientTemplate, func(ctx context.Context, conn *wire.PG) error {
		rows, err := conn.Exec(ctx, "SELECT datallowconn, datistemplate FROM pg_database WHERE datname = "+wire.QuoteLiteral(tmpl))
		if err != nil {
			return err
		}
		if len(rows) == 1 && len(rows[0]) == 2 && rows[0][0] != nil && *rows[0][0] == "f" && rows[0][1] != nil && *rows[0][1] == "t" {
			return nil
		}
		if len(rows) == 0 {
			// A one-shot that just exited may still have a backend on
			// its way out: give the database a moment to become idle.
			deadline := time.Now().Add(3 * time.Second)
			for {
				stmt := "CREATE DATABASE " + wire.QuoteIdent(tmpl) + " TEMPLATE " + wire.QuoteIdent(c.db)
				if pgStrategy != "" && conn.ServerVersionNum() >= 150000 {
					stmt += " STRATEGY " + pgStrategy
				}
				_, err = conn.Exec(ctx, stmt)
				var pe *wire.PGError
				if err == nil || !errors.As(err, &pe) || pe.Code != "55006" || time.Now().After(deadline) {
					break
				}
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
			if err != nil {
				return pgBusy(ctx, conn, err, c.db)
			}
		}
		// No session may connect to the template, so that copies never
		// find it in use; IS_TEMPLATE lets a user with CREATEDB copy it.
		_, err = conn.Exec(ctx, "ALTER DATABASE "+wire.QuoteIdent(tmpl)+" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true")
		return err
	})
	if err != nil {
		return "", explainPG(err, c, "template")
	}
	return tmpl, nil
}

// busyError is a source database that other sessions use.
type busyError struct {
	err      error
	sessions []string
}

func (e *busyError) Error() string { return e.err.Error() }
func (e *busyError) Unwrap() error { return e.err }

// pgBusy adds the sessions that use db to a "being accessed by other users"
// error.
func pgBusy(ctx context.Context, conn *wire.PG, err error, db string) error {
	var pe *wire.PGError
	if !errors.As(err, &pe) || pe.Code != "55006" {
		return err
	}
	rows, qerr := conn.Exec(ctx, "SELECT coalesce(usename, ''), coalesce(application_name, ''), coalesce(host(client_addr), 'local socket'), coalesce(state, ''), backend_start::timestamp(0)::text "+
		"FROM pg_stat_activity WHERE datname = "+wire.QuoteLiteral(db)+" AND pid <> pg_backend_pid() ORDER BY backend_start")
	b := &busyError{err: err}
	if qerr == nil {
		for _, r := range rows {
			v := func(i int) string {
				if i < len(r) && r[i] != nil {
					return *r[i]
				}
				return ""
			}
			app := v(1)
			if app == "" {
				app = "no application_name"
			}
			b.sessions = append(b.sessions, fmt.Sprintf("user %s (%s) from %s, %s since %s", v(0), app, v(2), v(3), v(4)))
		}
	}
	return b
}

// explainPG turns a server error into a message that says why and what to
// do. op is "connect", "template" or "create".
func explainPG(err error, c pgCreds, op string) error {
	var b *busyError
	if errors.As(err, &b) {
		msg := fmt.Sprintf("cannot take the template of database %q: other sessions are connected to it, and CREATE DATABASE … TEMPLATE copies only a database nobody uses", c.db)
		if len(b.sessions) > 0 {
			msg += ":\n\t" + strings.Join(b.sessions, "\n\t")
		}
		return fmt.Errorf("%s\nThe template is taken once, at the first FreshDSN of the stack: keep services that hold connections to %q out of the stack the tests share (runtime.WithServices, or a profile), or let them use another database, or call FreshDSN before anything else connects", msg, c.db)
	}
	var pe *wire.PGError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s (as user %q): %w", opText(op, c), c.user, err)
	}
	switch {
	case pe.Code == "42501" && strings.Contains(pe.Message, "create database"):
		return fmt.Errorf("%s: user %q may not create databases (%s); FreshDSN needs CREATEDB: grant it in an init script (ALTER ROLE %s CREATEDB) or connect as the image's superuser", opText(op, c), c.user, pe.Message, wire.QuoteIdent(c.user))
	case pe.Code == "42501" && strings.Contains(pe.Message, "copy database"):
		return fmt.Errorf("%s: user %q may not copy database %q (%s): it is neither a superuser nor the database's owner, and %q is not a template; make it the owner, or mark the database as a template in an init script (ALTER DATABASE %s IS_TEMPLATE true)", opText(op, c), c.user, c.db, pe.Message, c.db, wire.QuoteIdent(c.db))
	case pe.Code == "28P01" || pe.Code == "28000":
		return fmt.Errorf("%s: cannot log in as %q: %s", opText(op, c), c.user, pe.Message)
	case pe.Code == "53300":
		return fmt.Errorf("%s: %w; %s", opText(op, c), err, tooManyHint("max_connections"))
	case pe.Code == "3D000":
		return fmt.Errorf("%s: %s (FreshDSN copies the service's database, %q, and uses %q for its own sessions)", opText(op, c), pe.Message, c.db, maintenanceDB(c.db))
	}
	return fmt.Errorf("%s: %w", opText(op, c), err)
}

func opText(op string, c pgCreds) string {
	switch op {
	case "connect":
		return "connect to PostgreSQL"
	case "template":
		return fmt.Sprintf("take the template of database %q", c.db)
	}
	return fmt.Sprintf("create a copy of database %q", c.db)
}

// pgDrop drops a test's database, closing the sessions the test left open.
func pgDrop(ctx context.Context, g *gate, admin wire.PGConfig, name string) error {
	return adminDo(ctx, g, pgSessions, admin, pgTransient, func(ctx context.Context, conn *wire.PG) error {
		stmt := "DROP DATABASE IF EXISTS " + wire.QuoteIdent(name)
		if conn.ServerVersionNum() >= 130000 {
			stmt += " WITH (FORCE)"
		}
		_, err := conn.Exec(ctx, stmt)
		return err
	})
}
