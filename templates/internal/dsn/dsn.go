// Package dsn formats the connection strings of the SQL kinds: for the
// catalog's pure accessors (DSN, URL) and for the per-test databases of
// package fresh, which return the same strings with another database.
package dsn

import "net/url"

// Userinfo returns user:password, or user alone when the password is empty,
// escaped for a URL.
func Userinfo(user, password string) *url.Userinfo {
	if password == "" {
		return url.User(user)
	}
	return url.UserPassword(user, password)
}

// URL returns scheme://user:password@host/db?query with every part escaped
// ("/" in db included).
func URL(scheme string, user *url.Userinfo, host, db, query string) string {
	u := url.URL{Scheme: scheme, User: user, Host: host, Path: "/" + db, RawPath: "/" + url.PathEscape(db), RawQuery: query}
	return u.String()
}

// Postgres returns the PostgreSQL URL of database db on host, without TLS
// (postgres://user:password@host/db?sslmode=disable).
func Postgres(host, user, password, db string) string {
	return URL("postgres", Userinfo(user, password), host, db, "sslmode=disable")
}

// MySQL returns the go-sql-driver/mysql DSN of database db on host
// (user:password@tcp(host)/db). That format has no escaping for user and
// password: the driver splits at the first ':' and the last '@' before the
// last '/', so any password works; the database is path-escaped.
func MySQL(host, user, password, db string) string {
	up := user
	if password != "" {
		up += ":" + password
	}
	return up + "@tcp(" + host + ")/" + url.PathEscape(db)
}
