package templates

import (
	"strings"
	"testing"
)

// Files the runtime did not read (not named by a FileEnv variable, or not
// readable): the derivations fall back as if the variable were unset.
func TestFileVariablesNotRead(t *testing.T) {
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

// Files read at start are used when the plain variable is unset, trimmed as
// the entrypoints trim them; relative MinIO names are secrets.
func TestFileVariablesRead(t *testing.T) {
	pg := newService(map[string]string{"POSTGRES_USER_FILE": "/run/secrets/user", "POSTGRES_PASSWORD_FILE": "/run/secrets/db_password"})
	pg.files = map[string]string{"/run/secrets/user": "app\n", "/run/secrets/db_password": "s3cret\n\n"}
	if got, want := PostgresDSN(pg), "postgres://app:s3cret@127.0.0.1:45432/app?sslmode=disable"; got != want {
		t.Errorf("PostgresDSN = %q, want %q", got, want)
	}
	maria := newService(map[string]string{"MARIADB_USER": "u", "MARIADB_PASSWORD_FILE": "/run/secrets/pw"})
	maria.files = map[string]string{"/run/secrets/pw": "pw\n"}
	if got := MariaDBUser(maria) + ":" + MariaDBPassword(maria); got != "u:pw" {
		t.Errorf("MariaDB user:password = %q", got)
	}
	minio := newService(map[string]string{"MINIO_ROOT_PASSWORD_FILE": "minio_password", "MINIO_ROOT_PASSWORD": "ignored"})
	minio.files = map[string]string{"/run/secrets/minio_password": "  from-secret \n"}
	if got := MinioSecretKey(minio); got != "from-secret" {
		t.Errorf("MinioSecretKey = %q", got)
	}
	for in, want := range map[string]string{"x": "/run/secrets/x", "/a/../b": "/b", "/run/secrets/y": "/run/secrets/y"} {
		if got := SecretPath(in); got != want {
			t.Errorf("SecretPath(%q) = %q, want %q", in, got, want)
		}
	}
}
