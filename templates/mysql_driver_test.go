package templates

import (
	"testing"

	"github.com/go-sql-driver/mysql"
)

// checkMySQLDSN parses dsn with go-sql-driver/mysql.
func checkMySQLDSN(t *testing.T, dsn, user, password, db string) {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("mysql.ParseDSN(%q): %v", dsn, err)
	}
	if cfg.User != user || cfg.Passwd != password || cfg.DBName != db || cfg.Net != "tcp" || cfg.Addr != "127.0.0.1:43306" {
		t.Errorf("%q parses to user %q password %q db %q %s(%s)", dsn, cfg.User, cfg.Passwd, cfg.DBName, cfg.Net, cfg.Addr)
	}
}
