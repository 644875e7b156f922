// Package naming turns compose names (services, ports, environment
// variables, profiles) into exported Go identifiers, with Go's initialisms,
// product names as their makers write them, and a deterministic collision
// policy.
//
// The rule: a name is split into words at every character that is not a
// letter or a digit ("order-db", "POSTGRES_USER", "web.api") and where the
// case changes from lower to upper ("orderDb"), or from an upper-case run to
// a capitalised word ("APIKey"). Each word is written capitalised
// ("Postgres"), except a Go initialism, written in capitals ("DB", "URL",
// "ID"), and a product name, written as its makers write it ("RabbitMQ",
// "MySQL", "PostgreSQL"). A word is never split further: names written as
// one word keep one capital ("PGDATABASE" → "Pgdatabase", while
// "PG_DATABASE" → "PGDatabase").
package naming

import (
	"fmt"
	"go/token"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Initialisms are the words written all upper case in identifiers, as in Go
// code (ID, URL, HTTP...).
var Initialisms = map[string]bool{
	"ACL": true, "AMQP": true, "API": true, "ASCII": true, "AWS": true, "CPU": true,
	"CSS": true, "CSV": true, "DB": true, "DNS": true, "DSN": true, "EOF": true,
	"GID": true, "GRPC": true, "GUID": true, "HTML": true, "HTTP": true, "HTTPS": true,
	"ID": true, "IO": true, "IP": true, "JSON": true, "JWT": true, "KV": true,
	"LDAP": true, "MQ": true, "MQTT": true, "OS": true, "QPS": true, "RAM": true,
	"RPC": true, "S3": true, "SASL": true, "SFTP": true, "SLA": true, "SMTP": true,
	"SQL": true, "SSH": true, "SSL": true, "TCP": true, "TLS": true, "TTL": true,
	"UDP": true, "UI": true, "UID": true, "URI": true, "URL": true, "UTF8": true,
	"UUID": true, "VM": true, "XML": true, "XMPP": true, "XSRF": true, "XSS": true,
	"PG": true, "JVM": true, "MSSQL": true, "OIDC": true, "SSO": true, "TOTP": true,
}

// Products are the product names written otherwise than capitalised,
// by their lower-case form: the catalog's kinds and the services compose
// files often name after them.
var Products = map[string]string{
	"arangodb": "ArangoDB", "clickhouse": "ClickHouse", "cockroachdb": "CockroachDB",
	"couchdb": "CouchDB", "dynamodb": "DynamoDB", "github": "GitHub", "gitlab": "GitLab",
	"graphql": "GraphQL", "influxdb": "InfluxDB", "javascript": "JavaScript",
	"keydb": "KeyDB", "ksqldb": "KsqlDB", "localstack": "LocalStack", "mailhog": "MailHog",
	"mariadb": "MariaDB", "minio": "MinIO", "mongodb": "MongoDB", "mysql": "MySQL",
	"nodejs": "NodeJS", "oauth": "OAuth", "openapi": "OpenAPI", "openbao": "OpenBao",
	"openldap": "OpenLDAP", "opensearch": "OpenSearch", "pgadmin": "PgAdmin",
	"pgbouncer": "PgBouncer", "phpmyadmin": "PhpMyAdmin", "postgresql": "PostgreSQL",
	"questdb": "QuestDB", "rabbitmq": "RabbitMQ", "redisinsight": "RedisInsight",
	"rethinkdb": "RethinkDB", "scylladb": "ScyllaDB", "sqlite": "SQLite",
	"sqlserver": "SQLServer", "surrealdb": "SurrealDB", "timescaledb": "TimescaleDB",
	"typescript": "TypeScript", "websocket": "WebSocket", "wordpress": "WordPress",
	"zookeeper": "ZooKeeper",
}

// Words splits s into words at any character that is not a letter or a
// digit, and at camel-case boundaries ("orderDB" → order, DB; "APIKey" →
// API, Key).
func Words(s string) []string {
	var words []string
	for _, field := range strings.FieldsFunc(s, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	}) {
		rs := []rune(field)
		start := 0
		for i := 1; i < len(rs); i++ {
			prev, cur := rs[i-1], rs[i]
			var next rune
			if i+1 < len(rs) {
				next = rs[i+1]
			}
			// lower→Upper: "orderDb"; UPPER→Upper+lower: "APIKey".
			if unicode.IsLower(prev) && unicode.IsUpper(cur) ||
				unicode.IsUpper(prev) && unicode.IsUpper(cur) && next != 0 && unicode.IsLower(next) {
				words = append(words, string(rs[start:i]))
				start = i
			}
		}
		words = append(words, string(rs[start:]))
	}
	return words
}

// Exported returns the exported Go identifier for s: "postgres" →
// "Postgres", "order-db" → "OrderDB", "POSTGRES_USER" → "PostgresUser".
// When the result would not start with a letter ("2fa"), prefix is put in
// front ("S2fa" with prefix "S"). An s without letters or digits gives
// prefix alone ("X" when prefix is empty).
func Exported(s, prefix string) string {
	if prefix == "" {
		prefix = "X"
	}
	var b strings.Builder
	for _, w := range Words(s) {
		up := strings.ToUpper(w)
		if Initialisms[up] {
			b.WriteString(up)
			continue
		}
		if p, ok := Products[strings.ToLower(w)]; ok {
			b.WriteString(p)
			continue
		}
		rs := []rune(strings.ToLower(w))
		rs[0] = unicode.ToUpper(rs[0])
		b.WriteString(string(rs))
	}
	id := b.String()
	if id == "" {
		return prefix
	}
	if r := []rune(id)[0]; !unicode.IsLetter(r) || !unicode.IsUpper(r) {
		id = prefix + id
	}
	if !token.IsIdentifier(id) || !token.IsExported(id) {
		return prefix + sanitize(id)
	}
	return id
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// IsIdentifier reports whether s is an identifier usable as a method name:
// a Go identifier that is not a keyword.
func IsIdentifier(s string) bool { return token.IsIdentifier(s) }

// Assign gives each source a unique identifier, deterministically whatever
// the order of sources: sources are processed in sorted order, and the
// first to claim an identifier keeps it. A source whose identifier is
// reserved gets suffix appended ("stack" → "StackService"); later sources
// with a taken identifier get a number ("order_db" → "OrderDB2" after
// "order-db" → "OrderDB"). Assign fails when two sources are equal.
func Assign(sources []string, ident func(string) string, reserved func(string) bool, suffix string) (map[string]string, error) {
	sorted := append([]string(nil), sources...)
	sort.Strings(sorted)
	out := make(map[string]string, len(sorted))
	owner := map[string]string{}
	for i, src := range sorted {
		if i > 0 && sorted[i-1] == src {
			return nil, fmt.Errorf("duplicate name %q", src)
		}
		id := ident(src)
		if reserved != nil && reserved(id) {
			id += suffix
		}
		base := id
		for n := 2; ; n++ {
			if _, taken := owner[id]; !taken && (reserved == nil || !reserved(id)) {
				break
			}
			if n > 1000 {
				return nil, fmt.Errorf("cannot name %q: identifier %s is taken by %q", src, base, owner[base])
			}
			id = base + strconv.Itoa(n)
		}
		owner[id] = src
		out[src] = id
	}
	return out, nil
}
