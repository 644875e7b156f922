package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readinessCompose is written the way compose files in the wild are: the
// canonical healthchecks of each image's documentation, a client toolbox
// on a server image, a password on a command line, a crash-looping server.
const readinessCompose = `services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: example
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U postgres"]
      interval: 10s
      timeout: 5s
      retries: 5

  broker:
    image: rabbitmq:3-management
    healthcheck:
      test: rabbitmq-diagnostics -q ping
      interval: 30s
      timeout: 30s
      retries: 3

  toolbox:
    image: postgres:16
    entrypoint: ["sleep", "infinity"]

  cache:
    image: redis:7
    command: redis-server --requirepass TopSecret123
    healthcheck:
      test: ["CMD", "redis-cli", "-a", "TopSecret123", "ping"]
      interval: 5s

  crashy:
    image: redis:7
    command: redis-server --requirepass TopSecret123 --port notaport
    restart: unless-stopped
    profiles: [broken]

  seed:
    image: busybox
    command: ["sh", "-c", "echo seeded"]
    healthcheck:
      test: ["CMD", "true"]
    profiles: [broken]

  api:
    image: busybox
    command: ["sleep", "300"]
    depends_on:
      seed:
        condition: service_healthy
    profiles: [broken]
`

const readinessTest = `package fixtures

import (
	"context"
	"io"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// The first connection after Start succeeds, every time: pg_isready -U
// postgres (unix socket) also passes during the entrypoint's init-only
// server, which listens on no TCP port.
func TestFirstConnection(t *testing.T) {
	for i := 0; i < 6; i++ {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			db := StartDB(t)
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, db.DSN())
			if err != nil {
				t.Fatalf("first connection after StartDB: %v", err)
			}
			defer conn.Close(ctx)
			var one int
			if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("select 1 = %d, %v", one, err)
			}
		})
	}
}

// RabbitMQ with its canonical healthcheck starts cleanly: an exec of
// rabbitmq-diagnostics before the broker made its Erlang cookie used to
// kill it (eacces).
func TestRabbitMQ(t *testing.T) {
	for i := 0; i < 3; i++ {
		t.Run("", func(t *testing.T) {
			t.Parallel()
			b := StartBroker(t)
			c, err := net.DialTimeout("tcp", b.Port5672().Addr(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write([]byte("AMQP\x00\x00\x09\x01")); err != nil {
				t.Fatal(err)
			}
			frame := make([]byte, 7)
			if _, err := io.ReadFull(c, frame); err != nil || frame[0] != 1 {
				t.Fatalf("no connection.start method frame from the broker: % x, %v", frame, err)
			}
			logs, _ := b.Service().Logs(context.Background())
			if strings.Contains(logs, "eacces") {
				t.Errorf("the broker hit eacces:\n%s", logs)
			}
		})
	}
}

// A server image used as a client toolbox is not that server: no probe
// (it would wait for ever), no DSN.
func TestToolbox(t *testing.T) {
	t.Parallel()
	tb := StartToolbox(t)
	if _, ok := reflect.TypeOf(tb).MethodByName("DSN"); ok {
		t.Error("the toolbox has a DSN method")
	}
	res, err := tb.Service().Exec(context.Background(), "psql", "--version")
	if err != nil || res.ExitCode != 0 {
		t.Errorf("psql --version in the toolbox: %+v, %v", res, err)
	}
}

// A password on the healthcheck's command line works and is never shown.
func TestPasswordHealthcheck(t *testing.T) {
	t.Parallel()
	c := StartCache(t)
	rdb := redis.NewClient(&redis.Options{Addr: c.Addr(), Password: c.Password()})
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

// A crash-looping server fails the start, fast, named, without the
// password of its command line.
func TestCrashLoop(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	s, err := Up(ctx, WithProfiles(ProfileBroken), WithServices(ServiceCrashy))
	if err == nil {
		s.Down(ctx)
		t.Fatal("a crash-looping service started")
	}
	t.Logf("failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
	msg := err.Error()
	if !strings.Contains(msg, "crashy") || !strings.Contains(msg, "restarted") {
		t.Errorf("the error does not name the service and its restarts:\n%s", msg)
	}
	if strings.Contains(msg, "TopSecret123") {
		t.Errorf("the password is in the error:\n%s", msg)
	}
}

// A healthchecked service that exits 0 is not healthy: its dependent is
// not started, as with docker compose.
func TestExitedDependency(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Up(ctx, WithProfiles(ProfileBroken), WithServices(ServiceAPI))
	if err == nil {
		s.Down(ctx)
		t.Fatal("api started although seed, which it needs healthy, exited")
	}
	if msg := err.Error(); !strings.Contains(msg, "seed") || !strings.Contains(msg, "exited with code 0") {
		t.Errorf("the error does not say that seed exited:\n%s", msg)
	}
}
`

// kubeE2EEnv names the directory of the kube module: TestReadinessEndToEnd
// then generates the fixtures with -engine kubernetes and runs them on the
// cluster that COMPOSEGEN_ENGINE=kubernetes and KUBECONFIG select (the kube
// module's TestReadinessEndToEndOnKubernetes sets them).
const kubeE2EEnv = "COMPOSEGEN_E2E_KUBE"

// kubeE2ESkipEnv lists (A|B) the tests of readinessTest not to run on
// Kubernetes; it has no effect on Docker.
const kubeE2ESkipEnv = "COMPOSEGEN_E2E_KUBE_SKIP"

// TestReadinessEndToEnd generates fixtures for readinessCompose in a fresh
// module and runs readinessTest on Docker (or Kubernetes, see kubeE2EEnv):
// each way a fixture could report ready too early, or wait for ever, or
// print a secret.
func TestReadinessEndToEnd(t *testing.T) {
	t.Parallel()
	kube := os.Getenv(kubeE2EEnv)
	if kube == "" {
		requireDocker(t)
	}
	if testing.Short() {
		t.Skip("builds a module and starts 11 stacks (-short)")
	}
	files := map[string]string{
		"compose.yaml":        readinessCompose,
		"fixtures/gen.go":     "package fixtures\n\n//go:generate go run github.com/composegen/composegen/cmd/composegen -f ../compose.yaml\n",
		"fixtures/fx_test.go": readinessTest,
	}
	if kube != "" {
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			t.Fatal(err)
		}
		var sums []byte
		for _, dir := range []string{root, kube} {
			b, err := os.ReadFile(filepath.Join(dir, "go.sum"))
			if err != nil {
				t.Fatal(err)
			}
			sums = append(sums, b...)
		}
		files["go.mod"] = "module x\n\ngo 1.26.0\n\nrequire (\n\tgithub.com/composegen/composegen v0.0.0\n\tgithub.com/composegen/composegen/kube v0.0.0\n)\n\n" +
			"replace github.com/composegen/composegen => " + root + "\n\nreplace github.com/composegen/composegen/kube => " + kube + "\n"
		files["go.sum"] = string(sums)
		files["fixtures/gen.go"] = strings.Replace(files["fixtures/gen.go"], " -f ", " -engine kubernetes -f ", 1)
	}
	_, gocmd := newE2EModule(t, files)
	gocmd("get", "github.com/jackc/pgx/v5", "github.com/redis/go-redis/v9")
	gocmd("generate", "./...")
	gocmd("vet", "./...")
	args := []string{"test", "-count=1", "-v", "-timeout=20m"}
	skip := os.Getenv(kubeE2ESkipEnv)
	if kube != "" && skip != "" {
		args = append(args, "-skip=^("+skip+")$")
	}
	if kube != "" {
		// The stacks wait on the cluster, not on this machine's CPU: all
		// of them at once (go test's default is GOMAXPROCS).
		args = append(args, "-parallel=12")
	}
	out := gocmd(append(args, "./...")...)
	for _, name := range []string{"TestFirstConnection", "TestRabbitMQ", "TestToolbox", "TestPasswordHealthcheck", "TestCrashLoop", "TestExitedDependency"} {
		if kube != "" && skip != "" && slices.Contains(strings.Split(skip, "|"), name) {
			continue
		}
		if !strings.Contains(out, "--- PASS: "+name) {
			t.Errorf("%s did not pass:\n%s", name, out)
		}
	}
	if strings.Contains(out, "TopSecret123") {
		t.Errorf("the password is in the output:\n%s", out)
	}
	t.Logf("%s", out)
}
