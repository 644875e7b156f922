package model

import (
	"strings"
	"testing"
)

// TestMaskSecrets: a command shown in a message never shows a password
// written in the compose file; variables stay as written.
func TestMaskSecrets(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"redis-cli", "-a", "TopSecret", "ping"}, "redis-cli -a '***' ping"},
		{[]string{"redis-cli", "-a", "${REDIS_PASSWORD}", "ping"}, "redis-cli -a ${REDIS_PASSWORD} ping"},
		{[]string{"redis-server", "--requirepass", "s3cret"}, "redis-server --requirepass '***'"},
		{[]string{"app", "--db-password=hunter2", "--port=80"}, "app '--db-password=***' '--port=80'"},
		{[]string{"sh", "-c", "mysql -h db -uroot -phunter2 < /init.sql"}, "sh -c 'mysql -h db -uroot -p*** < /init.sql'"},
		{[]string{"sh", "-c", "PGPASSWORD=hunter2 psql -h db -c 'select 1'"}, `sh -c 'PGPASSWORD=*** psql -h db -c '\''select 1'\'''`},
		{[]string{"sh", "-c", "redis-cli -a hunter2 ping && vault login -token=abc"}, "sh -c 'redis-cli -a *** ping && vault login -token=***'"},
		{[]string{"sh", "-c", "psql postgres://u:$${PW}@db/x"}, "sh -c 'psql postgres://u:${PW}@db/x'"},
		{[]string{"sleep", "infinity"}, "sleep infinity"},
	} {
		got := shellJoin(tc.argv)
		if got != tc.want {
			t.Errorf("shellJoin(%q) = %s, want %s", tc.argv, got, tc.want)
		}
		if strings.Contains(got, "hunter2") || strings.Contains(got, "TopSecret") || strings.Contains(got, "s3cret") {
			t.Errorf("secret shown: %s", got)
		}
	}
}
