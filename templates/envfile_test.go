package templates

import (
	"strings"
	"testing"
)

// Without a container the files of _FILE variables cannot be read: the
// derivations fall back as if the variable were unset, without panicking.
func TestFileVariablesWithoutContainer(t *testing.T) {
	pg := newService(map[string]string{"POSTGRES_USER": "app", "POSTGRES_PASSWORD_FILE": "/run/secrets/db_password"})
	if got := PostgresPassword(pg); got != "" {
		t.Errorf("PostgresPassword = %q", got)
	}
	if got, want := PostgresDSN(pg), "postgres://app@127.0.0.1:45432/app?sslmode=disable"; got != want {
		t.Errorf("PostgresDSN = %q, want %q", got, want)
	}
	// The plain variable wins over _FILE, as in the entrypoints.
	pg = newService(map[string]string{"POSTGRES_PASSWORD": "x", "POSTGRES_PASSWORD_FILE": "/run/secrets/db_password"})
	if got := PostgresPassword(pg); got != "x" {
		t.Errorf("PostgresPassword = %q", got)
	}
	maria := newService(map[string]string{"MARIADB_ROOT_PASSWORD_FILE": "/run/secrets/root", "MARIADB_USER": "u", "MARIADB_PASSWORD_FILE": "/run/secrets/pw"})
	if got := MariaDBUser(maria); got != "root" {
		t.Errorf("MariaDBUser = %q", got)
	}
	if got := MariaDBPassword(maria); got != "" {
		t.Errorf("MariaDBPassword = %q", got)
	}
	minio := newService(map[string]string{"MINIO_ROOT_USER": "admin", "MINIO_ROOT_PASSWORD_FILE": "minio_password"})
	if got := MinioSecretKey(minio); got != "minioadmin" {
		t.Errorf("MinioSecretKey = %q", got)
	}
	if got := MinioAccessKey(minio); got != "admin" {
		t.Errorf("MinioAccessKey = %q", got)
	}
	mongo := newService(map[string]string{"MONGO_INITDB_ROOT_USERNAME": "root", "MONGO_INITDB_ROOT_PASSWORD_FILE": "/run/secrets/pw"})
	if got := MongoURI(mongo); !strings.HasPrefix(got, "mongodb://root@127.0.0.1:") {
		t.Errorf("MongoURI = %q", got)
	}
}
