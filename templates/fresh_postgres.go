package templates

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

	"github.com/composegen/composegen/templates/internal/wire"
)

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
func PostgresFreshDSN(t TB, s StackService) string {
	t.Helper()
	return pgFresh(t, s, pgCreds{user: PostgresUser(s), password: PostgresPassword(s), db: PostgresDatabase(s)})
}

// BitnamiPostgresFreshDSN is the FreshDSN accessor of the postgres-bitnami
// kind (see PostgresFreshDSN). Bitnami's custom user (POSTGRESQL_USERNAME)
// cannot create databases unless an init script grants it CREATEDB.
func BitnamiPostgresFreshDSN(t TB, s StackService) string {
	t.Helper()
	return pgFresh(t, s, pgCreds{user: BitnamiPostgresUser(s), password: BitnamiPostgresPassword(s), db: BitnamiPostgresDatabase(s)})
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

// pgFresh is FreshDSN for a PostgreSQL service whose user, password and
// database are c.
func pgFresh(t TB, s StackService, c pgCreds) string {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	addr := s.Addr(5432)
	fail := func(err error) string {
		t.Fatalf("FreshDSN: %v", err)
		return ""
	}
	admin := wire.PGConfig{Addr: addr, User: c.user, Password: c.password, Database: maintenanceDB(c.db)}
	key := s.ContainerID() + "\x00" + c.user + "\x00" + c.db
	tmpl, err := pgTemplates.do(ctx, key, func() (string, error) {
		return pgTakeTemplate(ctx, s, admin, c)
	})
	if err != nil {
		if ctx.Err() != nil {
			pgTemplates.forget(key) // this test ran out of time; the next one tries again
		}
		return fail(err)
	}
	name := freshName(t.Name())
	if !pgClaim(ctx, admin, tmpl, name) {
		if err := pgCreate(ctx, admin, tmpl, name); err != nil {
			return fail(explainPG(err, c, "create"))
		}
	}
	pgRefill(admin, tmpl)
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		if err := pgDrop(ctx, admin, name); err != nil {
			t.Logf("FreshDSN: drop database %q: %v (it goes with the stack)", name, err)
		}
	})
	return postgresURL(addr, c.user, c.password, name)
}

// pgCreate creates database name as a copy of tmpl.
func pgCreate(ctx context.Context, admin wire.PGConfig, tmpl, name string) error {
	return pgExec(ctx, admin, func(version int) string {
		stmt := "CREATE DATABASE " + wire.QuoteIdent(name) + " TEMPLATE " + wire.QuoteIdent(tmpl)
		if pgStrategy != "" && version >= 150000 {
			stmt += " STRATEGY " + pgStrategy
		}
		return stmt
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
// (WithReuse) keeps it for the next run. COMPOSEGEN_FRESH_POOL sets its
// size (default 4; 0 creates each copy when it is asked for).
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
func pgClaim(ctx context.Context, admin wire.PGConfig, tmpl, name string) bool {
	if pgPoolSize == 0 {
		return false
	}
	conn, pooled, err := pgGet(ctx, admin)
	if err != nil {
		return false
	}
	prefix := pgPoolPrefix(tmpl)
	rows, err := conn.Exec(ctx, "SELECT datname FROM pg_database WHERE starts_with(datname, "+wire.QuoteLiteral(prefix)+")")
	if err != nil {
		pgPut(admin, conn, err)
		if !pooled {
			return false
		}
		return pgClaim(ctx, admin, tmpl, name) // a session whose server went away
	}
	mrand.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	for _, r := range rows {
		if len(r) == 0 || r[0] == nil {
			continue
		}
		_, err = conn.Exec(ctx, "ALTER DATABASE "+wire.QuoteIdent(*r[0])+" RENAME TO "+wire.QuoteIdent(name))
		if err == nil {
			pgPut(admin, conn, nil)
			return true
		}
		var pe *wire.PGError
		if !errors.As(err, &pe) {
			break // the session failed: create the copy instead
		}
		// Another test claimed it first.
	}
	pgPut(admin, conn, err)
	return false
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
	pending int
	running bool
}

// pgRefill asks for one more copy of tmpl in the pool, made in the
// background unless the pool holds pgPoolSize already: the pool grows with
// the demand (a stack whose test asks once costs one spare copy, not
// pgPoolSize).
func pgRefill(admin wire.PGConfig, tmpl string) {
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
		f = &pgFiller{}
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

// createOne adds a copy to the pool unless it is full; false when the
// server failed (the stack may be gone).
func (f *pgFiller) createOne(key pgPoolKey, prefix string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, _, err := pgGet(ctx, key.cfg)
	if err != nil {
		return false
	}
	rows, err := conn.Exec(ctx, "SELECT count(*) FROM pg_database WHERE starts_with(datname, "+wire.QuoteLiteral(prefix)+")")
	pgPut(key.cfg, conn, err)
	if err != nil || len(rows) != 1 || rows[0][0] == nil {
		return false
	}
	if n, _ := strconv.Atoi(*rows[0][0]); n >= pgPoolSize {
		return true
	}
	var b [5]byte
	_, _ = rand.Read(b[:])
	return pgCreate(ctx, key.cfg, key.tmpl, prefix+hex.EncodeToString(b[:])) == nil
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
func pgTakeTemplate(ctx context.Context, s StackService, admin wire.PGConfig, c pgCreds) (string, error) {
	tmpl := templateName(c.db)
	if err := s.Settle(ctx); err != nil {
		return "", fmt.Errorf("the template of database %q is taken once the stack's one-shot services completed: %w", c.db, err)
	}
	unlock, err := s.Lock(ctx, "pg-template-"+c.db)
	if err != nil {
		return "", err
	}
	defer unlock()
	conn, err := wire.DialPG(ctx, admin)
	if err != nil {
		return "", explainPG(err, c, "connect")
	}
	defer conn.Close()
	rows, err := conn.Exec(ctx, "SELECT 1 FROM pg_database WHERE datname = "+wire.QuoteLiteral(tmpl))
	if err != nil {
		return "", explainPG(err, c, "template")
	}
	if len(rows) > 0 {
		return tmpl, nil
	}
	// A one-shot that just exited may still have a backend on its way
	// out: give the database a moment to become idle.
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
		return "", explainPG(pgBusy(ctx, conn, err, c.db), c, "template")
	}
	// No session may connect to the template, so that copies never find
	// it in use; IS_TEMPLATE lets a user with CREATEDB copy it.
	_, err = conn.Exec(ctx, "ALTER DATABASE "+wire.QuoteIdent(tmpl)+" WITH ALLOW_CONNECTIONS false IS_TEMPLATE true")
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
func pgDrop(ctx context.Context, admin wire.PGConfig, name string) error {
	return pgExec(ctx, admin, func(version int) string {
		stmt := "DROP DATABASE IF EXISTS " + wire.QuoteIdent(name)
		if version >= 130000 {
			stmt += " WITH (FORCE)"
		}
		return stmt
	})
}

// pgExec runs the statement that stmt makes for the server's version on an
// administration session: an idle one if there is one (and, should that
// one have died with its server, a new one).
func pgExec(ctx context.Context, cfg wire.PGConfig, stmt func(version int) string) error {
	for attempt := 0; ; attempt++ {
		conn, pooled, err := pgGet(ctx, cfg)
		if err != nil {
			return err
		}
		_, err = conn.Exec(ctx, stmt(conn.ServerVersionNum()))
		pgPut(cfg, conn, err)
		var pe *wire.PGError
		if err == nil || errors.As(err, &pe) || !pooled || attempt > 0 || ctx.Err() != nil {
			return err
		}
	}
}

// Idle administration sessions, per server and user, so that a test's
// FreshDSN does not pay for a login (SCRAM's key derivation is deliberately
// slow) when another test's session is free.
var pgIdle struct {
	sync.Mutex
	m map[wire.PGConfig][]*wire.PG
}

const pgMaxIdle = 4

func pgGet(ctx context.Context, cfg wire.PGConfig) (c *wire.PG, pooled bool, err error) {
	pgIdle.Lock()
	if list := pgIdle.m[cfg]; len(list) > 0 {
		c := list[len(list)-1]
		pgIdle.m[cfg] = list[:len(list)-1]
		pgIdle.Unlock()
		return c, true, nil
	}
	pgIdle.Unlock()
	c, err = wire.DialPG(ctx, cfg)
	return c, false, err
}

// pgPut returns a session to the idle list, unless its last use failed in
// a way that may have left it unusable.
func pgPut(cfg wire.PGConfig, c *wire.PG, err error) {
	var pe *wire.PGError
	if err != nil && !errors.As(err, &pe) {
		c.Close()
		return
	}
	pgIdle.Lock()
	defer pgIdle.Unlock()
	if pgIdle.m == nil {
		pgIdle.m = map[wire.PGConfig][]*wire.PG{}
	}
	if len(pgIdle.m[cfg]) >= pgMaxIdle {
		c.Close()
		return
	}
	pgIdle.m[cfg] = append(pgIdle.m[cfg], c)
}
