package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kindsCompose has one service per catalog kind whose image exists on the
// test machines, none with a healthcheck: each must become ready through its
// kind's default probe, and its accessors must work with the usual client.
// The credentials are non-defaults with characters that need escaping.
const kindsCompose = `services:
  memcached:
    image: memcached:1.6
    ports: ["11211"]
  rabbitmq:
    image: rabbitmq:3-management
    environment:
      RABBITMQ_DEFAULT_USER: app-user
      RABBITMQ_DEFAULT_PASS: "s3cr@t:p/w%?#"
      RABBITMQ_DEFAULT_VHOST: app/vhost
    ports: ["5672", "15672"]
  nginx:
    image: nginx:latest
    ports: ["80"]
  postgres:
    image: postgres:16
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: "p@ss:w/rd%?#"
      POSTGRES_DB: appdb
    ports: ["5432"]
  # Passwords given only as files (Docker secrets): the accessors read them
  # from the running container.
  postgres-secret:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD_FILE: /run/secrets/db_password
    secrets: [db_password]
    ports: ["5432"]
  mariadb-secret:
    image: mariadb:11
    environment:
      MARIADB_ROOT_PASSWORD_FILE: /run/secrets/db_root_password
      MARIADB_USER: app
      MARIADB_PASSWORD_FILE: /run/secrets/db_password
      MARIADB_DATABASE: appdb
    secrets: [db_password, db_root_password]
    ports: ["3306"]
secrets:
  db_password:
    file: ./db_password.txt
  db_root_password:
    file: ./db_root_password.txt
`

// kindsDBPassword is the content of db_password.txt, without its trailing
// newline (which the images' entrypoints and the accessors trim).
const kindsDBPassword = "fr0m-f1le:p@ss/w%rd?#"

const kindsTest = `package fixtures

import (
	"context"
	"database/sql"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	amqp "github.com/rabbitmq/amqp091-go"
)

func TestKindsRoundTrip(t *testing.T) {
	ctx := context.Background()
	stack := Start(t)

	t.Run("memcached", func(t *testing.T) {
		mc := memcache.New(stack.Memcached.Addr())
		if err := mc.Set(&memcache.Item{Key: "k", Value: []byte("v1")}); err != nil {
			t.Fatalf("Set via %s: %v", stack.Memcached.Addr(), err)
		}
		it, err := mc.Get("k")
		if err != nil || string(it.Value) != "v1" {
			t.Fatalf("Get: %v, %v", it, err)
		}
	})

	t.Run("rabbitmq", func(t *testing.T) {
		url := stack.RabbitMQ.URL()
		conn, err := amqp.Dial(url)
		if err != nil {
			t.Fatalf("amqp.Dial(%q): %v", url, err)
		}
		defer conn.Close()
		ch, err := conn.Channel()
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		q, err := ch.QueueDeclare("composegen-kinds", false, true, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := ch.PublishWithContext(pctx, "", q.Name, false, false, amqp.Publishing{ContentType: "text/plain", Body: []byte("hello")}); err != nil {
			t.Fatal(err)
		}
		msgs, err := ch.Consume(q.Name, "", true, false, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-msgs:
			if string(m.Body) != "hello" {
				t.Errorf("consumed %q", m.Body)
			}
		case <-pctx.Done():
			t.Fatal("no message consumed")
		}
	})

	t.Run("rabbitmq-management", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodGet, stack.RabbitMQ.ManagementURL()+"/api/overview", nil)
		if err != nil {
			t.Fatal(err)
		}
		env := stack.RabbitMQ.Env()
		req.SetBasicAuth(env.RabbitMQDefaultUser, env.RabbitMQDefaultPass)
		// The management plugin may start listening a moment after AMQP.
		var status int
		for try, deadline := 0, time.Now().Add(30*time.Second); ; try++ {
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				status = resp.StatusCode
				resp.Body.Close()
				if status == http.StatusOK {
					if try > 0 {
						t.Logf("management API answered 200 only after %d retries", try)
					}
					break
				}
			}
			time.Sleep(200 * time.Millisecond)
			if time.Now().After(deadline) {
				t.Fatalf("GET %s/api/overview: status %d, %v", stack.RabbitMQ.ManagementURL(), status, err)
			}
		}
	})

	t.Run("nginx", func(t *testing.T) {
		resp, err := http.Get(stack.Nginx.URL())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", stack.Nginx.URL(), resp.Status)
		}
	})

	t.Run("postgres", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, stack.Postgres.DSN())
		if err != nil {
			t.Fatalf("pgx.Connect(%q): %v", stack.Postgres.DSN(), err)
		}
		defer conn.Close(ctx)
		var one int
		if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("select 1 = %d, %v", one, err)
		}
		if p := stack.Postgres.Password(); p != "p@ss:w/rd%?#" {
			t.Errorf("Password() = %q", p)
		}
		if !strings.Contains(stack.Postgres.DSN(), "/appdb?") {
			t.Errorf("DSN() = %q", stack.Postgres.DSN())
		}
	})

	t.Run("postgres-password-file", func(t *testing.T) {
		if p := stack.PostgresSecret.Password(); p != "fr0m-f1le:p@ss/w%rd?#" {
			t.Errorf("Password() = %q, want the secret file's content without its newline", p)
		}
		conn, err := pgx.Connect(ctx, stack.PostgresSecret.DSN())
		if err != nil {
			t.Fatalf("pgx.Connect(%q): %v", stack.PostgresSecret.DSN(), err)
		}
		defer conn.Close(ctx)
		var one int
		if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("select 1 = %d, %v", one, err)
		}
	})

	t.Run("mariadb-password-file", func(t *testing.T) {
		if u, p := stack.MariaDBSecret.User(), stack.MariaDBSecret.Password(); u != "app" || p != "fr0m-f1le:p@ss/w%rd?#" {
			t.Errorf("User(), Password() = %q, %q", u, p)
		}
		db, err := sql.Open("mysql", stack.MariaDBSecret.DSN())
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var name string
		if err := db.QueryRow("select database()").Scan(&name); err != nil || name != "appdb" {
			t.Fatalf("database() = %q, %v (DSN %s)", name, err, stack.MariaDBSecret.DSN())
		}
	})
}
`

// TestKinds generates the fixtures of one service per kind and round-trips
// through each generated accessor with the kind's usual Go client.
func TestKinds(t *testing.T) {
	t.Parallel()
	requireDocker(t)
	dir, gocmd := newE2EModule(t, map[string]string{
		"compose.yaml":           kindsCompose,
		"fixtures/gen.go":        "package fixtures\n\n//go:generate go run github.com/composegen/composegen/cmd/composegen -f ../compose.yaml\n",
		"fixtures/kinds_test.go": kindsTest,
		"db_password.txt":        kindsDBPassword + "\n",
		"db_root_password.txt":   "root-from-file\n",
	})
	gocmd("get", "github.com/jackc/pgx/v5", "github.com/rabbitmq/amqp091-go", "github.com/bradfitz/gomemcache/memcache", "github.com/go-sql-driver/mysql")
	gocmd("generate", "./...")
	gen, err := os.ReadFile(filepath.Join(dir, "fixtures", "compose_gen.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"templates.MemcachedAddr(", "templates.RabbitMQURL(", "templates.RabbitMQManagementURL(", "templates.HTTPServerURL(", "templates.PostgresDSN("} {
		if !strings.Contains(string(gen), want) {
			t.Errorf("generated file does not call %s", want)
		}
	}
	gocmd("vet", "./...")
	out := gocmd("test", "-count=1", "-v", "./...")
	for _, name := range []string{"TestKindsRoundTrip", "TestKindsRoundTrip/memcached", "TestKindsRoundTrip/rabbitmq", "TestKindsRoundTrip/rabbitmq-management", "TestKindsRoundTrip/nginx", "TestKindsRoundTrip/postgres",
		"TestKindsRoundTrip/postgres-password-file", "TestKindsRoundTrip/mariadb-password-file"} {
		if !strings.Contains(out, "--- PASS: "+name+" ") {
			t.Errorf("%s did not pass:\n%s", name, out)
		}
	}
	t.Logf("%s", out)
}
