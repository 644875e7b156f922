package templates

import (
	"github.com/composegen/composegen/templates/internal/dsn"
)

// addr returns host:port of the service's published container port (tcp).
func addr(s Service, port int) string { return s.Addr(port) }

// envDefault returns the variable's value, or def when it is unset or empty.
func envDefault(s Service, name, def string) string {
	if v := s.Env(name); v != "" {
		return v
	}
	return def
}

// firstEnv returns the first of names whose value is set and non-empty, else
// def: the ${A:-${B:-def}} fallback chains of the images' entrypoints.
func firstEnv(s Service, def string, names ...string) string {
	for _, n := range names {
		if v := s.Env(n); v != "" {
			return v
		}
	}
	return def
}

// PostgresUser is the User accessor of the postgres kind: POSTGRES_USER,
// default "postgres" (also when empty, as the entrypoint's ${POSTGRES_USER:=postgres}).
func PostgresUser(s Service) string {
	return envOrFileDefault(s, "POSTGRES_USER", "postgres")
}

// PostgresPassword is the Password accessor of the postgres kind:
// POSTGRES_PASSWORD, else the content of the container's file named by
// POSTGRES_PASSWORD_FILE (as the entrypoint's file_env; so are POSTGRES_USER
// and POSTGRES_DB).
func PostgresPassword(s Service) string { return envOrFile(s, "POSTGRES_PASSWORD") }

// PostgresDatabase is the Database accessor of the postgres kind: POSTGRES_DB,
// default the user's name.
func PostgresDatabase(s Service) string {
	return envOrFileDefault(s, "POSTGRES_DB", PostgresUser(s))
}

// PostgresDSN is the DSN accessor of the postgres kind.
func PostgresDSN(s Service) string {
	return dsn.Postgres(addr(s, 5432), PostgresUser(s), PostgresPassword(s), PostgresDatabase(s))
}

// BitnamiPostgresUser is the User accessor of the postgres-bitnami kind.
func BitnamiPostgresUser(s Service) string {
	return firstEnv(s, "postgres", "POSTGRESQL_USERNAME", "POSTGRES_USER")
}

// BitnamiPostgresPassword is the Password accessor of the postgres-bitnami
// kind.
func BitnamiPostgresPassword(s Service) string {
	return firstEnv(s, "", "POSTGRESQL_PASSWORD", "POSTGRES_PASSWORD")
}

// BitnamiPostgresDatabase is the Database accessor of the postgres-bitnami
// kind.
func BitnamiPostgresDatabase(s Service) string {
	return firstEnv(s, "postgres", "POSTGRESQL_DATABASE", "POSTGRES_DB")
}

// BitnamiPostgresDSN is the DSN accessor of the postgres-bitnami kind.
func BitnamiPostgresDSN(s Service) string {
	return dsn.Postgres(addr(s, 5432), BitnamiPostgresUser(s), BitnamiPostgresPassword(s), BitnamiPostgresDatabase(s))
}

// mysqlCreds derives the account and database of a MySQL-family image.
type mysqlCreds struct {
	user, password, database string
}

// officialMySQL follows the mysql image's entrypoint: MYSQL_USER is created
// (with access to MYSQL_DATABASE) only when MYSQL_USER and MYSQL_PASSWORD are
// both set; otherwise root with MYSQL_ROOT_PASSWORD (empty with
// MYSQL_ALLOW_EMPTY_PASSWORD). The mariadb image reads MARIADB_X first and
// falls back to MYSQL_X (prefixes in order). Each variable may be given as a
// file in the container by its _FILE variable (MARIADB_PASSWORD_FILE, ...).
func officialMySQL(s Service, prefixes ...string) mysqlCreds {
	get := func(name string) string {
		names := make([]string, len(prefixes))
		for i, p := range prefixes {
			names[i] = p + name
		}
		return firstEnvOrFile(s, "", names...)
	}
	c := mysqlCreds{database: get("DATABASE")}
	if u, p := get("USER"), get("PASSWORD"); u != "" && p != "" {
		c.user, c.password = u, p
	} else {
		c.user, c.password = "root", get("ROOT_PASSWORD")
	}
	return c
}

// bitnamiMySQL follows Bitnami's mysql and mariadb images: the custom user
// PREFIX_USER when set, else PREFIX_ROOT_USER (default root).
func bitnamiMySQL(s Service, prefix string) mysqlCreds {
	c := mysqlCreds{database: s.Env(prefix + "DATABASE")}
	if u := s.Env(prefix + "USER"); u != "" {
		c.user, c.password = u, s.Env(prefix+"PASSWORD")
	} else {
		c.user, c.password = envDefault(s, prefix+"ROOT_USER", "root"), s.Env(prefix+"ROOT_PASSWORD")
	}
	return c
}

// dsn returns the go-sql-driver/mysql DSN (see dsn.MySQL).
func (c mysqlCreds) dsn(host string) string { return dsn.MySQL(host, c.user, c.password, c.database) }

func (c mysqlCreds) url(host string) string {
	return dsn.URL("mysql", dsn.Userinfo(c.user, c.password), host, c.database, "")
}

// MySQLDSN is the DSN accessor of the mysql kind.
func MySQLDSN(s Service) string { return officialMySQL(s, "MYSQL_").dsn(addr(s, 3306)) }

// MySQLURL is the URL accessor of the mysql kind.
func MySQLURL(s Service) string { return officialMySQL(s, "MYSQL_").url(addr(s, 3306)) }

// MySQLUser is the User accessor of the mysql kind.
func MySQLUser(s Service) string { return officialMySQL(s, "MYSQL_").user }

// MySQLPassword is the Password accessor of the mysql kind.
func MySQLPassword(s Service) string { return officialMySQL(s, "MYSQL_").password }

// MySQLDatabase is the Database accessor of the mysql kind.
func MySQLDatabase(s Service) string { return officialMySQL(s, "MYSQL_").database }

// MariaDBDSN is the DSN accessor of the mariadb kind.
func MariaDBDSN(s Service) string {
	return officialMySQL(s, "MARIADB_", "MYSQL_").dsn(addr(s, 3306))
}

// MariaDBURL is the URL accessor of the mariadb kind.
func MariaDBURL(s Service) string {
	return officialMySQL(s, "MARIADB_", "MYSQL_").url(addr(s, 3306))
}

// MariaDBUser is the User accessor of the mariadb kind.
func MariaDBUser(s Service) string { return officialMySQL(s, "MARIADB_", "MYSQL_").user }

// MariaDBPassword is the Password accessor of the mariadb kind.
func MariaDBPassword(s Service) string {
	return officialMySQL(s, "MARIADB_", "MYSQL_").password
}

// MariaDBDatabase is the Database accessor of the mariadb kind.
func MariaDBDatabase(s Service) string {
	return officialMySQL(s, "MARIADB_", "MYSQL_").database
}

// BitnamiMySQLDSN is the DSN accessor of the mysql-bitnami kind.
func BitnamiMySQLDSN(s Service) string { return bitnamiMySQL(s, "MYSQL_").dsn(addr(s, 3306)) }

// BitnamiMySQLURL is the URL accessor of the mysql-bitnami kind.
func BitnamiMySQLURL(s Service) string { return bitnamiMySQL(s, "MYSQL_").url(addr(s, 3306)) }

// BitnamiMySQLUser is the User accessor of the mysql-bitnami kind.
func BitnamiMySQLUser(s Service) string { return bitnamiMySQL(s, "MYSQL_").user }

// BitnamiMySQLPassword is the Password accessor of the mysql-bitnami kind.
func BitnamiMySQLPassword(s Service) string { return bitnamiMySQL(s, "MYSQL_").password }

// BitnamiMySQLDatabase is the Database accessor of the mysql-bitnami kind.
func BitnamiMySQLDatabase(s Service) string { return bitnamiMySQL(s, "MYSQL_").database }

// BitnamiMariaDBDSN is the DSN accessor of the mariadb-bitnami kind.
func BitnamiMariaDBDSN(s Service) string {
	return bitnamiMySQL(s, "MARIADB_").dsn(addr(s, 3306))
}

// BitnamiMariaDBURL is the URL accessor of the mariadb-bitnami kind.
func BitnamiMariaDBURL(s Service) string {
	return bitnamiMySQL(s, "MARIADB_").url(addr(s, 3306))
}

// BitnamiMariaDBUser is the User accessor of the mariadb-bitnami kind.
func BitnamiMariaDBUser(s Service) string { return bitnamiMySQL(s, "MARIADB_").user }

// BitnamiMariaDBPassword is the Password accessor of the mariadb-bitnami kind.
func BitnamiMariaDBPassword(s Service) string { return bitnamiMySQL(s, "MARIADB_").password }

// BitnamiMariaDBDatabase is the Database accessor of the mariadb-bitnami kind.
func BitnamiMariaDBDatabase(s Service) string { return bitnamiMySQL(s, "MARIADB_").database }

// ClickHouseDSN is the DSN accessor of the clickhouse kind.
func ClickHouseDSN(s Service) string {
	user := envDefault(s, "CLICKHOUSE_USER", "default")
	return dsn.URL("clickhouse", dsn.Userinfo(user, s.Env("CLICKHOUSE_PASSWORD")), addr(s, 9000), envDefault(s, "CLICKHOUSE_DB", "default"), "")
}

// ClickHouseHTTPURL is the HTTPURL accessor of the clickhouse kind.
func ClickHouseHTTPURL(s Service) string { return "http://" + addr(s, 8123) }
