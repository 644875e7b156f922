package naming

import (
	"strings"
	"testing"
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
