//go:build !mysqldriver

package templates

import (
	"net/url"
	"strings"
	"testing"
)

// checkMySQLDSN splits dsn the way go-sql-driver/mysql's ParseDSN does (the
// last '/', then the last '@' before it, then the first ':' before that; the
// database path-unescaped). mysql_driver_test.go checks with the driver
// itself under -tags mysqldriver.
func checkMySQLDSN(t *testing.T, dsn, user, password, db string) {
	t.Helper()
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		t.Fatalf("%q: no '/'", dsn)
	}
	left, dbPart := dsn[:slash], dsn[slash+1:]
	if i := strings.IndexByte(dbPart, '?'); i >= 0 {
		dbPart = dbPart[:i]
	}
	gotDB, err := url.PathUnescape(dbPart)
	if err != nil {
		t.Fatal(err)
	}
	at := strings.LastIndexByte(left, '@')
	if at < 0 {
		t.Fatalf("%q: no '@'", dsn)
	}
	cred, addr := left[:at], left[at+1:]
	gotUser, gotPass, _ := strings.Cut(cred, ":")
	if gotUser != user || gotPass != password || gotDB != db || addr != "tcp(127.0.0.1:43306)" {
		t.Errorf("%q splits to user %q password %q db %q addr %q", dsn, gotUser, gotPass, gotDB, addr)
	}
}
