package templates

import (
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"
)

// checkPostgresDSN parses dsn with pgx's parser, which lib/pq agrees with on
// URLs, and checks what comes out.
func checkPostgresDSN(t *testing.T, dsn, user, password, db string) {
	t.Helper()
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		t.Fatalf("pgconn.ParseConfig(%q): %v", dsn, err)
	}
	if cfg.User != user || cfg.Password != password || cfg.Database != db || cfg.Host != "127.0.0.1" || cfg.Port != 45432 || cfg.TLSConfig != nil {
		t.Errorf("%q parses to user %q password %q db %q host %s:%d tls %v", dsn, cfg.User, cfg.Password, cfg.Database, cfg.Host, cfg.Port, cfg.TLSConfig != nil)
	}
}

// checkRedisURL parses u with go-redis.
func checkRedisURL(t *testing.T, u, password string) {
	t.Helper()
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("redis.ParseURL(%q): %v", u, err)
	}
	if opt.Addr != "127.0.0.1:46379" || opt.Password != password || opt.DB != 0 {
		t.Errorf("%q parses to addr %q password %q db %d", u, opt.Addr, opt.Password, opt.DB)
	}
}
