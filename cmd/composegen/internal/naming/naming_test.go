package naming

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExported(t *testing.T) {
	for _, tc := range []struct{ in, prefix, want string }{
		{"postgres", "S", "Postgres"},
		{"order-db", "S", "OrderDB"},
		{"redis_cache", "S", "RedisCache"},
		{"2fa", "S", "S2fa"},
		{"api", "S", "API"},
		{"web.api", "S", "WebAPI"},
		{"user-id", "S", "UserID"},
		{"my.service.v2", "S", "MyServiceV2"},
		{"go", "S", "Go"},
		{"type", "S", "Type"},
		{"s3-mock", "S", "S3Mock"},
		{"grpc_gateway", "S", "GRPCGateway"},
		{"orderDb", "S", "OrderDB"},
		{"APIKey", "S", "APIKey"},
		{"POSTGRES_USER", "X", "PostgresUser"},
		{"DATABASE_URL", "X", "DatabaseURL"},
		{"JWT_SECRET", "X", "JWTSecret"},
		{"http", "Port", "HTTP"},
		{"https", "Port", "HTTPS"},
		{"web-ui", "Port", "WebUI"},
		{"amqp", "Port", "AMQP"},
		{"smtp_tls", "Port", "SMTPTLS"},
		{"json-xml", "Port", "JSONXML"},
		{"__", "X", "X"},
		{"", "S", "S"},
		{"_private", "S", "Private"},
		{"9", "Port", "Port9"},
		{"éclair", "S", "Éclair"},
		{"dns", "S", "DNS"},
		{"ip", "S", "IP"},
		{"kv-store", "S", "KVStore"},
		{"utf8", "X", "UTF8"},
		{"sql", "S", "SQL"},
		{"tcp_udp", "S", "TCPUDP"},
		{"ssl-proxy", "S", "SSLProxy"},
		{"tls", "S", "TLS"},
		{"http2", "S", "Http2"},
	} {
		if got := Exported(tc.in, tc.prefix); got != tc.want {
			t.Errorf("Exported(%q, %q) = %q, want %q", tc.in, tc.prefix, got, tc.want)
		}
	}
}

func TestAssign(t *testing.T) {
	reserved := func(s string) bool { return s == "Stack" || s == "Start" || s == "Up" }
	ident := func(s string) string { return Exported(s, "S") }
	got, err := Assign([]string{"order_db", "stack", "order-db", "up", "web", "order.db"}, ident, reserved, "Service")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"order-db": "OrderDB", "order.db": "OrderDB2", "order_db": "OrderDB3",
		"stack": "StackService", "up": "UpService", "web": "Web",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s → %s, want %s", k, got[k], v)
		}
	}
	// Same result whatever the input order.
	again, _ := Assign([]string{"web", "up", "order.db", "order-db", "stack", "order_db"}, ident, reserved, "Service")
	for k, v := range got {
		if again[k] != v {
			t.Errorf("order dependence: %s → %s vs %s", k, v, again[k])
		}
	}
	if _, err := Assign([]string{"a", "a"}, ident, nil, ""); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("duplicate: err = %v", err)
	}
}

var update = flag.Bool("update", false, "rewrite testdata/names.golden")

// TestNamesGolden pins the naming rule (see the package doc) on the names
// compose files use: services, ports, environment variables, profiles.
func TestNamesGolden(t *testing.T) {
	inputs := []string{
		// Services.
		"postgres", "order-db", "redis_cache", "2fa", "api", "web-api", "rabbitmq", "rabbit-mq",
		"my-rabbitmq", "mysql", "mariadb", "mongodb", "mongo", "postgresql", "minio", "clickhouse",
		"opensearch", "localstack", "keydb", "pgadmin", "phpmyadmin", "mailhog", "kafka-ui",
		"graphql-engine", "zookeeper", "user-service", "orderDb", "APIKey", "s3", "http2", "é",
		// Environment variables.
		"POSTGRES_USER", "POSTGRES_DB", "PGDATABASE", "PG_DATABASE", "PGPASSWORD", "DATABASE_URL",
		"RABBITMQ_DEFAULT_USER", "MYSQL_ROOT_PASSWORD", "MARIADB_USER", "MONGO_INITDB_ROOT_USERNAME",
		"MINIO_ROOT_USER", "JWT_SECRET", "OAUTH_CLIENT_ID", "KAFKA_CFG_NODE_ID", "REDIS_URL",
		"spring.datasource.url", "dbHost", "X_API_KEY",
		// Ports and profiles.
		"http", "https", "grpc", "metrics", "web-ui", "amqp", "debug", "with-mail",
	}
	var b strings.Builder
	for _, in := range inputs {
		fmt.Fprintf(&b, "%-28s %s\n", in, Exported(in, "S"))
	}
	got := b.String()
	path := filepath.Join("testdata", "names.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("names differ from %s (-want +got):\n%s", path, diff)
	}
}
