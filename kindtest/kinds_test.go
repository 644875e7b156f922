package kindtest

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/composegen/composegen/kindtest/fixtures"
	"github.com/composegen/composegen/runtime/runtimetest"
)

// start skips without an engine (fails under CI=true), and runs the test
// in parallel with the other kinds' tests: each starts its own stack.
func start(t *testing.T) {
	t.Helper()
	runtimetest.RequireEngine(t)
	t.Parallel()
}

// ctxFor returns a context bounded by a minute and the test's deadline.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestNATS: nats -js -m 8222 with its /healthz?js-enabled-only=true check;
// URL() publishes to and consumes from a JetStream stream with nats.go.
func TestNATS(t *testing.T) {
	start(t)
	n := fixtures.StartNats(t)
	natsJetStream(t, n.URL(), "ORDERS")
}

// TestNATSAuth: the scratch image with --user/--pass on the command line
// (the password from a variable's default): URL() carries the credentials,
// and a connection without them is refused.
//
// TestNATSAuth/env: sh -c 'exec nats-server -js -user "$NATS_USER" -pass
// "$NATS_PASSWORD"' with the variables in the service's environment.
func TestNATSAuth(t *testing.T) {
	t.Run("flags", func(t *testing.T) {
		start(t)
		natsAuth(t, fixtures.StartNatsAuth(t).URL(), "app", "n4ts-s3cret", "AUTHED")
	})
	t.Run("env", func(t *testing.T) {
		start(t)
		natsAuth(t, fixtures.StartNatsEnv(t).URL(), "worker", "n4ts-env-s3cret", "ENVAUTHED")
	})
}

func natsAuth(t *testing.T, natsURL, user, password, stream string) {
	u, err := url.Parse(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := u.User.Password(); u.User.Username() != user || p != password {
		t.Errorf("URL() has user %q and password %q, want %q and %q", u.User.Username(), p, user, password)
	}
	anon := *u
	anon.User = nil
	if nc, err := nats.Connect(anon.String()); err == nil {
		nc.Close()
		t.Fatal("the server accepted a connection without credentials: the test proves nothing")
	}
	natsJetStream(t, natsURL, stream)
}

// natsJetStream creates a stream, publishes a message to it and consumes it
// with an acknowledged pull consumer.
func natsJetStream(t *testing.T, natsURL, stream string) {
	t.Helper()
	ctx := ctxFor(t)
	nc, err := nats.Connect(natsURL, nats.Timeout(10*time.Second))
	if err != nil {
		t.Fatalf("nats.Connect(URL()): %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	subject := strings.ToLower(stream) + ".created"
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{strings.ToLower(stream) + ".>"}})
	if err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	ack, err := js.Publish(ctx, subject, []byte("order 42"))
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if ack.Stream != stream || ack.Sequence != 1 {
		t.Errorf("publish ack = %+v, want stream %s sequence 1", ack, stream)
	}
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "worker", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("CreateOrUpdateConsumer: %v", err)
	}
	batch, err := c.Fetch(1, jetstream.FetchMaxWait(10*time.Second))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	var got []string
	for m := range batch.Messages() {
		got = append(got, m.Subject()+" "+string(m.Data()))
		if err := m.Ack(); err != nil {
			t.Errorf("Ack: %v", err)
		}
	}
	if err := batch.Error(); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if want := subject + " order 42"; len(got) != 1 || got[0] != want {
		t.Fatalf("consumed %q, want [%q]", got, want)
	}
}

// TestEtcd: the official images (flags; ETCD_* variables) and Bitnami's
// (ALLOW_NONE_AUTHENTICATION, also under bitnamilegacy/; ETCD_ROOT_PASSWORD):
// Endpoints(), User() and Password() put and get a key with etcd's clientv3.
func TestEtcd(t *testing.T) {
	cfg := func(endpoints []string) clientv3.Config { return clientv3.Config{Endpoints: endpoints} }
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) clientv3.Config
	}{
		{"quay.io-flags", func(t *testing.T) clientv3.Config { return cfg(fixtures.StartEtcd(t).Endpoints()) }},
		{"gcr.io-env", func(t *testing.T) clientv3.Config { return cfg(fixtures.StartEtcdGcr(t).Endpoints()) }},
		{"bitnami", func(t *testing.T) clientv3.Config {
			e := fixtures.StartEtcdBitnami(t)
			if e.User() != "" || e.Password() != "" {
				t.Errorf("User(), Password() = %q, %q; want none with ALLOW_NONE_AUTHENTICATION", e.User(), e.Password())
			}
			return cfg(e.Endpoints())
		}},
		{"bitnamilegacy", func(t *testing.T) clientv3.Config { return cfg(fixtures.StartEtcdBitnamilegacy(t).Endpoints()) }},
		{"bitnami-auth", func(t *testing.T) clientv3.Config {
			e := fixtures.StartEtcdBitnamiAuth(t)
			if e.User() != "root" || e.Password() != "3tcd-s3cret" {
				t.Errorf("User(), Password() = %q, %q; want root and ETCD_ROOT_PASSWORD's default", e.User(), e.Password())
			}
			// Without the credentials, the server refuses.
			anon, err := clientv3.New(clientv3.Config{Endpoints: e.Endpoints(), DialTimeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer anon.Close()
			if _, err := anon.Put(ctxFor(t), "/composegen/anon", "x"); err == nil {
				t.Fatal("a put without credentials succeeded: authentication is off, the test proves nothing")
			}
			c := cfg(e.Endpoints())
			c.Username, c.Password = e.User(), e.Password()
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start(t)
			c := tc.start(t)
			ctx := ctxFor(t)
			c.DialTimeout = 10 * time.Second
			endpoints := c.Endpoints
			cli, err := clientv3.New(c)
			if err != nil {
				t.Fatalf("clientv3.New(Endpoints() = %q): %v", endpoints, err)
			}
			defer cli.Close()
			if _, err := cli.Put(ctx, "/composegen/"+tc.name, "v1"); err != nil {
				t.Fatalf("Put via %q: %v", endpoints, err)
			}
			resp, err := cli.Get(ctx, "/composegen/"+tc.name)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v1" {
				t.Fatalf("Get = %v, want v1", resp.Kvs)
			}
		})
	}
}

// TestCaddy: a Caddyfile serving a mounted directory, and caddy
// file-server on the command line: URL() serves the pages.
func TestCaddy(t *testing.T) {
	t.Run("caddyfile", func(t *testing.T) {
		start(t)
		c := fixtures.StartCaddy(t)
		httpGet(t, c.URL()+"/", "served by kindtest")
		httpGet(t, c.URL()+"/healthz", "OK")
	})
	t.Run("file-server", func(t *testing.T) {
		start(t)
		c := fixtures.StartCaddyFiles(t)
		httpGet(t, c.URL()+"/", "Caddy works!")
	})
}

// TestNginx: nginx:alpine with a mounted site and a curl healthcheck.
func TestNginx(t *testing.T) {
	start(t)
	n := fixtures.StartNginx(t)
	httpGet(t, n.URL()+"/", "served by kindtest")
}

// httpGet fetches u and fails unless it answers 200 with a body that
// contains want.
func httpGet(t *testing.T, u, want string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		t.Fatalf("GET %s: %s %q, want 200 with %q", u, resp.Status, body, want)
	}
}

// TestRabbitMQ: RABBITMQ_DEFAULT_USER/PASS and the rabbitmq-diagnostics -q
// ping healthcheck: URL() publishes and consumes with amqp091-go, and
// ManagementURL() answers the HTTP API with those credentials.
func TestRabbitMQ(t *testing.T) {
	start(t)
	r := fixtures.StartRabbitMQ(t)
	ctx := ctxFor(t)
	if u, _ := url.Parse(r.URL()); u == nil || u.User.Username() != "app" {
		t.Errorf("URL() = %q, want the user app", r.URL())
	}
	conn, err := amqp.Dial(r.URL())
	if err != nil {
		t.Fatalf("amqp.Dial(URL()): %v", err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	q, err := ch.QueueDeclare("orders", false, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.PublishWithContext(ctx, "", q.Name, false, false, amqp.Publishing{ContentType: "text/plain", Body: []byte("order 42")}); err != nil {
		t.Fatal(err)
	}
	msgs, err := ch.Consume(q.Name, "", false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-msgs:
		if string(m.Body) != "order 42" {
			t.Errorf("consumed %q", m.Body)
		}
		if err := m.Ack(false); err != nil {
			t.Error(err)
		}
	case <-ctx.Done():
		t.Fatal("no message consumed")
	}

	// The management plugin starts its listener after AMQP's; the
	// healthcheck does not wait for it.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.ManagementURL()+"/api/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("app", "r4bbit-s3cret")
	var last string
	for try := 0; ; try++ {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if !strings.Contains(string(body), `"name":"app"`) {
					t.Errorf("GET /api/whoami = %s, want the user app", body)
				}
				if try > 0 {
					t.Logf("the management API answered 200 after %d retries", try)
				}
				break
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			t.Fatalf("GET %s/api/whoami: %s", r.ManagementURL(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// mariaDB is what TestMariaDB uses of both services' types.
type mariaDB interface {
	DSN() string
	FreshDSN(t testing.TB) string
	URL() string
	User() string
	Password() string
	Database() string
}

// TestMariaDB: the MARIADB_* variables with healthcheck.sh --connect
// --innodb_initialized, and the MYSQL_* variables of a compose file written
// for MySQL: every accessor with go-sql-driver/mysql.
func TestMariaDB(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		start                  func(t *testing.T) mariaDB
		user, password, dbname string
	}{
		{"MARIADB_", func(t *testing.T) mariaDB { return fixtures.StartMariaDB(t) }, "app", "app-s3cret", "app"},
		{"MYSQL_", func(t *testing.T) mariaDB { return fixtures.StartMariaDBMySQLEnv(t) }, "legacy", "legacy-s3cret", "legacy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start(t)
			m := tc.start(t)
			if m.User() != tc.user || m.Password() != tc.password || m.Database() != tc.dbname {
				t.Errorf("User(), Password(), Database() = %q, %q, %q; want %q, %q, %q", m.User(), m.Password(), m.Database(), tc.user, tc.password, tc.dbname)
			}
			// DSN: the app user on its database.
			db := openSQL(t, "mysql", m.DSN())
			var user, dbname string
			if err := db.QueryRow("select substring_index(current_user(), '@', 1), database()").Scan(&user, &dbname); err != nil {
				t.Fatalf("DSN(): %v", err)
			}
			if user != tc.user || dbname != tc.dbname {
				t.Errorf("DSN() connects as %q to %q, want %q to %q", user, dbname, tc.user, tc.dbname)
			}
			if _, err := db.Exec("create table orders (id int primary key)"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec("insert into orders values (1)"); err != nil {
				t.Fatal(err)
			}

			// URL: mysql://user:password@host:port/db, as migrate parses it.
			u, err := url.Parse(m.URL())
			if err != nil || u.Scheme != "mysql" {
				t.Fatalf("URL() = %q: %v", m.URL(), err)
			}
			cfg := mysql.NewConfig()
			cfg.User = u.User.Username()
			cfg.Passwd, _ = u.User.Password()
			cfg.Net, cfg.Addr, cfg.DBName = "tcp", u.Host, strings.TrimPrefix(u.Path, "/")
			var n int
			if err := openSQL(t, "mysql", cfg.FormatDSN()).QueryRow("select count(*) from orders").Scan(&n); err != nil || n != 1 {
				t.Fatalf("through URL(): count = %d, %v", n, err)
			}

			// FreshDSN: a copy of the database with its rows, for this test.
			fresh := openSQL(t, "mysql", m.FreshDSN(t))
			if err := fresh.QueryRow("select database()").Scan(&dbname); err != nil || dbname == tc.dbname {
				t.Fatalf("FreshDSN() database = %q, %v; want a new one", dbname, err)
			}
			if err := fresh.QueryRow("select count(*) from orders").Scan(&n); err != nil || n != 1 {
				t.Fatalf("FreshDSN(): count = %d, %v; want the copied row", n, err)
			}
		})
	}
}

func openSQL(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestRedis: redis-server --requirepass ${REDIS_PASSWORD:-…} with a
// redis-cli -a healthcheck: Addr() with Password(), URL() and FreshURL()
// with go-redis.
func TestRedis(t *testing.T) {
	start(t)
	r := fixtures.StartRedis(t)
	ctx := ctxFor(t)
	if r.Password() != "r3dis-s3cret" {
		t.Errorf("Password() = %q, want the default of ${REDIS_PASSWORD:-…}", r.Password())
	}
	if err := redis.NewClient(&redis.Options{Addr: r.Addr()}).Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without the password: %v, want NOAUTH", err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr(), Password: r.Password()})
	defer rdb.Close()
	if err := rdb.Set(ctx, "k", "from Addr", 0).Err(); err != nil {
		t.Fatalf("SET via Addr(), Password(): %v", err)
	}
	opt, err := redis.ParseURL(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	byURL := redis.NewClient(opt)
	defer byURL.Close()
	if v, err := byURL.Get(ctx, "k").Result(); err != nil || v != "from Addr" {
		t.Fatalf("GET via URL(): %q, %v", v, err)
	}
	fopt, err := redis.ParseURL(r.FreshURL(t))
	if err != nil {
		t.Fatal(err)
	}
	if fopt.DB == 0 {
		t.Errorf("FreshURL() leased database 0, which URL() uses")
	}
	fresh := redis.NewClient(fopt)
	defer fresh.Close()
	if n, err := fresh.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS k in FreshURL()'s database = %d, %v; want an empty database", n, err)
	}
	if err := fresh.Set(ctx, "k", "fresh", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestRedisPasswordFromEnv: sh -c 'exec redis-server --requirepass
// "$REDIS_PASSWORD"' with REDIS_PASSWORD in the environment: Password() and
// URL() carry the variable's value, which the shell gave the server.
func TestRedisPasswordFromEnv(t *testing.T) {
	start(t)
	r := fixtures.StartRedisEnv(t)
	ctx := ctxFor(t)
	if r.Password() != "r3dis-env-s3cret" {
		t.Errorf("Password() = %q, want REDIS_PASSWORD's value", r.Password())
	}
	if err := redis.NewClient(&redis.Options{Addr: r.Addr()}).Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("PING without the password: %v, want NOAUTH", err)
	}
	opt, err := redis.ParseURL(r.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING via URL(): %v", err)
	}
}

// TestMemcached: memcached -m 64; Addr() with the text protocol.
func TestMemcached(t *testing.T) {
	start(t)
	m := fixtures.StartMemcached(t)
	conn, err := net.DialTimeout("tcp", m.Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(conn)
	roundTrip := func(cmd string, lines int) string {
		t.Helper()
		if _, err := io.WriteString(conn, cmd); err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		for range lines {
			l, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("%q: %v", cmd, err)
			}
			out.WriteString(l)
		}
		return out.String()
	}
	if got := roundTrip("set order 0 0 2\r\n42\r\n", 1); got != "STORED\r\n" {
		t.Fatalf("set: %q", got)
	}
	if got, want := roundTrip("get order\r\n", 3), "VALUE order 0 2\r\n42\r\nEND\r\n"; got != want {
		t.Fatalf("get: %q, want %q", got, want)
	}
	// The server is the one the command configured: memcached -m 64.
	stats, maxbytes := roundTrip("stats settings\r\n", 1), ""
	for !strings.HasPrefix(stats, "END") {
		if strings.HasPrefix(stats, "STAT maxbytes ") {
			maxbytes = stats
		}
		l, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		stats = l
	}
	if want := fmt.Sprintf("STAT maxbytes %d\r\n", 64<<20); maxbytes != want {
		t.Errorf("stats settings: %q, want %q (the -m 64 of the command)", maxbytes, want)
	}
}

// TestPostgres: POSTGRES_USER/PASSWORD/DB with pg_isready -U app -d appdb:
// every accessor with pgx. FreshDSN is taken as documented: once the
// database is seeded and nothing holds a connection to it.
func TestPostgres(t *testing.T) {
	start(t)
	p := fixtures.StartPostgres(t)
	ctx := ctxFor(t)
	if p.User() != "app" || p.Password() != "p0stgres-s3cret" || p.Database() != "appdb" {
		t.Errorf("User(), Password(), Database() = %q, %q, %q", p.User(), p.Password(), p.Database())
	}
	conn, err := pgx.Connect(ctx, p.DSN())
	if err != nil {
		t.Fatalf("pgx.Connect(DSN()): %v", err)
	}
	var user, dbname string
	if err := conn.QueryRow(ctx, "select current_user, current_database()").Scan(&user, &dbname); err != nil {
		t.Fatal(err)
	}
	if user != "app" || dbname != "appdb" {
		t.Errorf("DSN() connects as %q to %q", user, dbname)
	}
	if _, err := conn.Exec(ctx, "create table orders (id int primary key); insert into orders values (1)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	// User, Password and Database on their own, as a keyword DSN.
	host, port, err := net.SplitHostPort(p.Port5432().Addr())
	if err != nil {
		t.Fatal(err)
	}
	kw := fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=%s sslmode=disable", host, port, p.User(), p.Password(), p.Database())
	byParts, err := pgx.Connect(ctx, kw)
	if err != nil {
		t.Fatalf("connect with User(), Password(), Database(): %v", err)
	}
	var n int
	if err := byParts.QueryRow(ctx, "select count(*) from orders").Scan(&n); err != nil || n != 1 {
		t.Fatalf("count = %d, %v", n, err)
	}
	byParts.Close(ctx)

	fresh, err := pgx.Connect(ctx, p.FreshDSN(t))
	if err != nil {
		t.Fatalf("pgx.Connect(FreshDSN()): %v", err)
	}
	defer fresh.Close(ctx)
	if err := fresh.QueryRow(ctx, "select current_database()").Scan(&dbname); err != nil || dbname == "appdb" {
		t.Fatalf("FreshDSN() database = %q, %v; want a new one", dbname, err)
	}
	if err := fresh.QueryRow(ctx, "select count(*) from orders").Scan(&n); err != nil || n != 1 {
		t.Fatalf("FreshDSN(): count = %d, %v; want the copied row", n, err)
	}
}
