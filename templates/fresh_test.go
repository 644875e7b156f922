package templates

import (
	"testing"

	"github.com/composegen/composegen/templates/internal/fresh"
)

// The login that MySQL-family FreshDSN creates databases as: root's, when
// the environment gives its password (or allows an empty one) as the
// images' entrypoints read it; nil otherwise, so that package fresh
// creates them as DSN's user.
func TestMySQLFreshRoot(t *testing.T) {
	withFile := newService(map[string]string{"MYSQL_ROOT_PASSWORD_FILE": "/run/secrets/root_pw"})
	withFile.files = map[string]string{"/run/secrets/root_pw": "from-file\n"}
	for _, tc := range []struct {
		name string
		got  *fresh.Login
		want *fresh.Login
	}{
		{"mysql", officialMySQLRoot(newService(map[string]string{"MYSQL_ROOT_PASSWORD": "r00t"}), "MYSQL_"), &fresh.Login{User: "root", Password: "r00t"}},
		{"mysql file", officialMySQLRoot(withFile, "MYSQL_"), &fresh.Login{User: "root", Password: "from-file"}},
		{"mysql empty allowed", officialMySQLRoot(newService(map[string]string{"MYSQL_ALLOW_EMPTY_PASSWORD": "yes"}), "MYSQL_"), &fresh.Login{User: "root"}},
		{"mysql empty not allowed", officialMySQLRoot(newService(map[string]string{"MYSQL_ALLOW_EMPTY_PASSWORD": "no"}), "MYSQL_"), nil},
		{"mysql random", officialMySQLRoot(newService(map[string]string{"MYSQL_RANDOM_ROOT_PASSWORD": "1", "MYSQL_PASSWORD": "app"}), "MYSQL_"), nil},
		{"mariadb first", officialMySQLRoot(newService(map[string]string{"MARIADB_ROOT_PASSWORD": "m", "MYSQL_ROOT_PASSWORD": "y"}), "MARIADB_", "MYSQL_"), &fresh.Login{User: "root", Password: "m"}},
		{"mariadb fallback", officialMySQLRoot(newService(map[string]string{"MYSQL_ROOT_PASSWORD": "y"}), "MARIADB_", "MYSQL_"), &fresh.Login{User: "root", Password: "y"}},
		{"mariadb empty allowed", officialMySQLRoot(newService(map[string]string{"MARIADB_ALLOW_EMPTY_ROOT_PASSWORD": "1"}), "MARIADB_", "MYSQL_"), &fresh.Login{User: "root"}},
		{"bitnami", bitnamiMySQLRoot(newService(map[string]string{"MARIADB_ROOT_USER": "admin", "MARIADB_ROOT_PASSWORD": "b"}), "MARIADB_"), &fresh.Login{User: "admin", Password: "b"}},
		{"bitnami default user", bitnamiMySQLRoot(newService(map[string]string{"MYSQL_ROOT_PASSWORD": "b"}), "MYSQL_"), &fresh.Login{User: "root", Password: "b"}},
		{"bitnami no password", bitnamiMySQLRoot(newService(map[string]string{"MYSQL_ROOT_USER": "admin"}), "MYSQL_"), nil},
	} {
		if (tc.got == nil) != (tc.want == nil) || tc.got != nil && *tc.got != *tc.want {
			t.Errorf("%s: root login %+v, want %+v", tc.name, tc.got, tc.want)
		}
	}
}
