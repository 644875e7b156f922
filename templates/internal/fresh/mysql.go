package fresh

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/composegen/composegen/templates/internal/dsn"
	"github.com/composegen/composegen/templates/internal/wire"
)

// MySQL is the work of templates.MySQLFreshDSN and its MariaDB and Bitnami
// twins (see them): it creates a database for t with the tables and rows of
// database db of the service as its init scripts and the stack's one-shot
// services left it, grants it to login, drops it when t ends, and returns
// its DSN (login's). The databases are created as root when root is
// known, else as login. It fails t, saying why and what to do, when it
// cannot.
func MySQL(t TB, s Service, login Login, db string, root *Login) string {
	t.Helper()
	app := mysqlCreds{user: login.User, password: login.Password, database: db}
	if root == nil {
		return mysqlFresh(t, s, app, nil)
	}
	return mysqlFresh(t, s, app, &mysqlCreds{user: root.User, password: root.Password})
}

// mysqlCreds is an account of the server, and the database it uses.
type mysqlCreds struct {
	user, password, database string
}

// dsn returns the go-sql-driver/mysql DSN (see dsn.MySQL).
func (c mysqlCreds) dsn(host string) string { return dsn.MySQL(host, c.user, c.password, c.database) }

// mysqlCopy is how to fill a new database like the template: the tables'
// definitions, the rows to copy, the views. Every statement names the
// database as "\x00DB\x00", replaced by the new database's quoted name.
type mysqlCopy struct {
	tmpl  string
	stmts []string
	// grants are the accounts (quoted 'user'@'host') of DSN's user, who
	// gets all privileges on each new database when the admin is another.
	grants []string
}

const dbMarker = "\x00DB\x00"

var (
	mysqlTemplates once[string]
	mysqlCopies    once[*mysqlCopy]
)

// mysqlSessions are FreshDSN's MySQL administration sessions. A session
// serves again only after a success: a failed script may have left it in
// another database or with foreign key checks off.
var mysqlSessions = &sessionKind[wire.MySQLConfig, *wire.MySQL]{
	dial:     wire.DialMySQL,
	reusable: func(err error) bool { return err == nil },
}

// mysqlTransient reports whether err is worth another try: too many
// connections, a server that shuts down or restarts, a deadlock, a
// connection refused or cut.
func mysqlTransient(err error) bool {
	if isCtxErr(err) {
		return false
	}
	var me *wire.MySQLError
	if !errors.As(err, &me) {
		return true // I/O: refused, reset, closed
	}
	switch me.Code {
	case 1040, // ER_CON_COUNT_ERROR: too many connections
		1203, // ER_TOO_MANY_USER_CONNECTIONS
		1053, // ER_SERVER_SHUTDOWN
		1927, // ER_CONNECTION_KILLED
		1213: // ER_LOCK_DEADLOCK
		return true
	}
	return false
}

func mysqlFresh(t TB, s Service, app mysqlCreds, root *mysqlCreds) string {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	fail := func(err error) string {
		t.Fatalf("FreshDSN: %v", err)
		return ""
	}
	addr := s.Addr(3306)
	admin := app
	if root != nil {
		admin = *root
	}
	cfg := wire.MySQLConfig{Addr: addr, User: admin.user, Password: admin.password}
	g := gateOf(s)
	me, err := ownerOf(ctx, s)
	if err != nil {
		return fail(err)
	}
	key := s.ContainerID() + "\x00" + admin.user + "\x00" + app.user + "\x00" + app.database
	if _, err := mysqlTemplates.do(ctx, key, func() (string, error) {
		return mysqlTakeTemplate(ctx, s, g, cfg, app)
	}); err != nil {
		return fail(err)
	}
	cp, err := mysqlCopies.do(ctx, key, func() (*mysqlCopy, error) { return mysqlCopyScript(ctx, g, cfg, app, admin) })
	if err != nil {
		return fail(explainMySQL(err, admin, app, root != nil, "create"))
	}
	drop := func(ctx context.Context, name string) error { return mysqlDrop(ctx, g, cfg, name) }
	sweepOnce(t, key, func() ([]string, error) { return mysqlSweep(ctx, s, g, cfg, me) })
	retryDrops(ctx, key, drop)
	name := me.name(t.Name())
	if err := mysqlCreate(ctx, g, cfg, cp, name); err != nil {
		return fail(explainMySQL(err, admin, app, root != nil, "create"))
	}
	t.Cleanup(func() {
		ctx, cancel := cleanupContext()
		defer cancel()
		if err := drop(ctx, name); err != nil {
			dropFailed(key, name)
			t.Logf("%s", dropFailure(name, err))
		}
	})
	return mysqlCreds{user: app.user, password: app.password, database: name}.dsn(addr)
}

// mysqlTakeTemplate copies the service's database into the template
// database, unless a test (of this or another process) did.
func mysqlTakeTemplate(ctx context.Context, s Service, g *gate, cfg wire.MySQLConfig, app mysqlCreds) (string, error) {
	tmpl := templateName(app.database)
	if err := s.Settle(ctx); err != nil {
		return "", fmt.Errorf("the template of database %q is taken once the stack's one-shot services completed: %w", app.database, err)
	}
	if _, ok := wire.QuoteMySQLString(app.database); !ok {
		return "", fmt.Errorf("database name %q: FreshDSN does not handle backslashes in names", app.database)
	}
	unlock, err := s.Lock(ctx, "mysql-template-"+app.database)
	if err != nil {
		return "", err
	}
	defer unlock()
	q := func(v string) string { s, _ := wire.QuoteMySQLString(v); return s }
	err = adminDo(ctx, g, mysqlSessions, cfg, mysqlTransient, func(ctx context.Context, c *wire.MySQL) error {
		// A template is complete once it holds the marker table, created
		// last.
		rows, err := c.Exec(ctx, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "+q(tmpl)+" AND TABLE_NAME = '_composegen_complete'")
		if err != nil {
			return err
		}
		if len(rows) == 1 && rows[0][0] != nil && *rows[0][0] == "1" {
			return nil
		}
		src, err := mysqlCopyFrom(ctx, c, app.database)
		if err != nil {
			return err
		}
		// Tables first (each CREATE commits), then the rows from one
		// consistent snapshot of the source, then the views and the
		// marker.
		script := "DROP DATABASE IF EXISTS " + wire.QuoteMySQLIdent(tmpl) + "; " + src.script(tmpl) +
			"START TRANSACTION WITH CONSISTENT SNAPSHOT; " + src.rows(tmpl) + "COMMIT; " + src.viewScript(tmpl) +
			"CREATE TABLE " + wire.QuoteMySQLIdent(tmpl) + ".`_composegen_complete` (done int); SET FOREIGN_KEY_CHECKS = 1; USE information_schema"
		_, err = c.Exec(ctx, script)
		return err
	})
	if err != nil {
		return "", explainMySQL(err, mysqlCreds{user: cfg.User}, app, false, "template")
	}
	return tmpl, nil
}

// mysqlSource describes a database's tables and views, read with its
// definitions.
type mysqlSource struct {
	db     string
	tables []mysqlTable
	views  []string // CREATE VIEW statements, definer removed, in dependency order as far as known
}

type mysqlTable struct {
	name, create string
	columns      []string // the columns to copy (not generated ones), quoted
}

var definer = regexp.MustCompile(`DEFINER=(` + "`[^`]*`" + `|\S+)@(` + "`[^`]*`" + `|\S+) `)

// mysqlCopyFrom reads the definitions of database db.
func mysqlCopyFrom(ctx context.Context, c *wire.MySQL, db string) (*mysqlSource, error) {
	q, _ := wire.QuoteMySQLString(db)
	src := &mysqlSource{db: db}
	if db == "" {
		return src, nil
	}
	rows, err := c.Exec(ctx, "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = "+q+" AND TABLE_NAME <> '_composegen_complete' ORDER BY TABLE_NAME")
	if err != nil {
		return nil, err
	}
	cols, err := c.Exec(ctx, "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "+q+" AND EXTRA NOT LIKE '%GENERATED%' ORDER BY TABLE_NAME, ORDINAL_POSITION")
	if err != nil {
		return nil, err
	}
	byTable := map[string][]string{}
	for _, r := range cols {
		byTable[*r[0]] = append(byTable[*r[0]], wire.QuoteMySQLIdent(*r[1]))
	}
	var views []string
	for _, r := range rows {
		name, typ := *r[0], *r[1]
		if typ == "VIEW" {
			views = append(views, name)
			continue
		}
		def, err := c.Exec(ctx, "SHOW CREATE TABLE "+wire.QuoteMySQLIdent(db)+"."+wire.QuoteMySQLIdent(name))
		if err != nil {
			return nil, err
		}
		if len(def) != 1 || len(def[0]) < 2 || def[0][1] == nil {
			return nil, fmt.Errorf("SHOW CREATE TABLE %s: no definition", name)
		}
		src.tables = append(src.tables, mysqlTable{name: name, create: *def[0][1], columns: byTable[name]})
	}
	for _, v := range views {
		def, err := c.Exec(ctx, "SHOW CREATE VIEW "+wire.QuoteMySQLIdent(db)+"."+wire.QuoteMySQLIdent(v))
		if err != nil {
			return nil, err
		}
		if len(def) == 1 && len(def[0]) >= 2 && def[0][1] != nil {
			stmt := definer.ReplaceAllString(*def[0][1], "")
			src.views = append(src.views, strings.ReplaceAll(stmt, wire.QuoteMySQLIdent(db)+".", dbMarker+"."))
		}
	}
	return src, nil
}

// script creates database db and the source's tables in it.
func (src *mysqlSource) script(db string) string {
	var b strings.Builder
	qdb := wire.QuoteMySQLIdent(db)
	b.WriteString("CREATE DATABASE " + qdb + "; USE " + qdb + "; SET FOREIGN_KEY_CHECKS = 0; ")
	for _, t := range src.tables {
		b.WriteString(t.create + "; ")
	}
	return b.String()
}

// rows copies the source's rows into db.
func (src *mysqlSource) rows(db string) string {
	var b strings.Builder
	for _, t := range src.tables {
		if len(t.columns) == 0 {
			continue
		}
		cols := strings.Join(t.columns, ", ")
		fmt.Fprintf(&b, "INSERT INTO %s.%s (%s) SELECT %s FROM %s.%s; ", wire.QuoteMySQLIdent(db), wire.QuoteMySQLIdent(t.name), cols, cols, wire.QuoteMySQLIdent(src.db), wire.QuoteMySQLIdent(t.name))
	}
	return b.String()
}

// viewScript creates the source's views in db.
func (src *mysqlSource) viewScript(db string) string {
	var b strings.Builder
	for _, v := range src.views {
		b.WriteString(strings.ReplaceAll(v, dbMarker, wire.QuoteMySQLIdent(db)) + "; ")
	}
	return b.String()
}

// mysqlCopyScript prepares the copies of the template: its definitions,
// read once per process, and the accounts of DSN's user.
func mysqlCopyScript(ctx context.Context, g *gate, cfg wire.MySQLConfig, app, admin mysqlCreds) (*mysqlCopy, error) {
	tmpl := templateName(app.database)
	var cp *mysqlCopy
	err := adminDo(ctx, g, mysqlSessions, cfg, mysqlTransient, func(ctx context.Context, c *wire.MySQL) error {
		src, err := mysqlCopyFrom(ctx, c, tmpl)
		if err != nil {
			return err
		}
		cp = &mysqlCopy{tmpl: tmpl}
		const db = dbMarker
		cp.stmts = append(cp.stmts, "CREATE DATABASE "+db, "USE "+db, "SET FOREIGN_KEY_CHECKS = 0")
		for _, t := range src.tables {
			cp.stmts = append(cp.stmts, t.create)
		}
		for _, t := range src.tables {
			if len(t.columns) > 0 {
				cols := strings.Join(t.columns, ", ")
				cp.stmts = append(cp.stmts, fmt.Sprintf("INSERT INTO %s.%s (%s) SELECT %s FROM %s.%s", db, wire.QuoteMySQLIdent(t.name), cols, cols, wire.QuoteMySQLIdent(tmpl), wire.QuoteMySQLIdent(t.name)))
			}
		}
		cp.stmts = append(cp.stmts, src.views...)
		// Leave the new database: the session serves again, and the
		// drop of a database kills the sessions in it.
		cp.stmts = append(cp.stmts, "SET FOREIGN_KEY_CHECKS = 1", "USE information_schema")
		if admin.user != app.user {
			user, ok := wire.QuoteMySQLString(app.user)
			if !ok {
				return fmt.Errorf("user name %q: FreshDSN does not handle backslashes in names", app.user)
			}
			hosts, err := c.Exec(ctx, "SELECT Host FROM mysql.user WHERE User = "+user+" ORDER BY Host")
			if err != nil {
				return err
			}
			for _, h := range hosts {
				if host, ok := wire.QuoteMySQLString(*h[0]); ok {
					cp.grants = append(cp.grants, user+"@"+host)
				}
			}
			if len(cp.grants) == 0 {
				return fmt.Errorf("user %q, whom DSN logs in as, does not exist on the server", app.user)
			}
		}
		return nil
	})
	return cp, err
}

// mysqlCreate creates database name from the template, in one round trip.
func mysqlCreate(ctx context.Context, g *gate, cfg wire.MySQLConfig, cp *mysqlCopy, name string) error {
	q := wire.QuoteMySQLIdent(name)
	stmts := make([]string, 0, len(cp.stmts)+len(cp.grants)+1)
	for _, s := range cp.stmts {
		stmts = append(stmts, strings.ReplaceAll(s, dbMarker, q))
	}
	for _, g := range cp.grants {
		stmts = append(stmts, "GRANT ALL PRIVILEGES ON "+q+".* TO "+g)
	}
	script := strings.Join(stmts, "; ")
	tried := false
	return adminDo(ctx, g, mysqlSessions, cfg, mysqlTransient, func(ctx context.Context, c *wire.MySQL) error {
		s := script
		if tried {
			// What an earlier try left (the name is this process's and
			// random).
			s = "DROP DATABASE IF EXISTS " + q + "; " + s
		}
		tried = true
		if _, err := c.Exec(ctx, s); err != nil {
			_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+q)
			return err
		}
		return nil
	})
}

// mysqlDrop drops a test's database, killing the sessions the test left in
// it first (DROP would wait for their metadata locks).
func mysqlDrop(ctx context.Context, g *gate, cfg wire.MySQLConfig, name string) error {
	q, _ := wire.QuoteMySQLString(name)
	return adminDo(ctx, g, mysqlSessions, cfg, mysqlTransient, func(ctx context.Context, c *wire.MySQL) error {
		if ids, err := c.Exec(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = "+q+" AND ID <> CONNECTION_ID()"); err == nil {
			for _, id := range ids {
				_, _ = c.Exec(ctx, "KILL "+*id[0])
			}
		}
		_, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+wire.QuoteMySQLIdent(name))
		return err
	})
}

// mysqlSweep drops the tests' databases that ended test binaries left on
// the server.
func mysqlSweep(ctx context.Context, s Service, g *gate, cfg wire.MySQLConfig, me freshOwner) (dropped []string, err error) {
	var names []string
	err = adminDo(ctx, g, mysqlSessions, cfg, mysqlTransient, func(ctx context.Context, c *wire.MySQL) error {
		rows, err := c.Exec(ctx, `SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 't\_%'`)
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
		if err := mysqlDrop(ctx, g, cfg, n); err != nil {
			errs = append(errs, fmt.Errorf("drop database %q: %w", n, err))
			continue
		}
		dropped = append(dropped, n)
	}
	return dropped, errors.Join(errs...)
}

// explainMySQL says why a server refused and what to do.
func explainMySQL(err error, as, app mysqlCreds, rootKnown bool, op string) error {
	what := map[string]string{"connect": "connect to MySQL", "template": fmt.Sprintf("take the template of database %q", app.database), "create": fmt.Sprintf("create a copy of database %q", app.database)}[op]
	var me *wire.MySQLError
	if !errors.As(err, &me) {
		return fmt.Errorf("%s (as user %q): %w", what, as.user, err)
	}
	switch me.Code {
	case 1044, 1142, 1227, 1410:
		hint := "set the root password in the service's environment (MYSQL_ROOT_PASSWORD or MARIADB_ROOT_PASSWORD), so that FreshDSN creates databases as root and grants them to " + app.user
		if rootKnown {
			hint = "give root its privileges back"
		}
		return fmt.Errorf("%s: user %q lacks a privilege FreshDSN needs (CREATE and DROP on new databases, SELECT on %q, GRANT OPTION when it grants them to another user): %s; %s", what, as.user, app.database, me.Message, hint)
	case 1045:
		return fmt.Errorf("%s: cannot log in as %q: %s", what, as.user, me.Message)
	case 1040, 1203:
		return fmt.Errorf("%s: %w; %s", what, err, tooManyHint("max_connections, max_user_connections"))
	case 1049:
		return fmt.Errorf("%s: %s", what, me.Message)
	}
	return fmt.Errorf("%s: %w", what, err)
}
