package mask

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"POSTGRES_PASSWORD": true, "MYSQL_ROOT_PASSWORD": true, "PGPASSWORD": true, "REDIS_PASSWD": true,
		"JWT_SECRET": true, "GITHUB_TOKEN": true, "AWS_SECRET_ACCESS_KEY": true, "MINIO_ACCESS_KEY": true,
		"API_KEY": true, "STRIPE_APIKEY": true, "DFLY_requirepass": true, "RABBITMQ_DEFAULT_PASS": true,
		"GOOGLE_APPLICATION_CREDENTIALS": true, "SSH_PRIVATE_KEY": true, "BASIC_AUTH": true,
		"POSTGRES_PASSWORD_FILE": false, "POSTGRES_USER": false, "POSTGRES_DB": false, "KEYSPACE": false,
		"MONKEY_NAME": false, "PATH": false, "LANG": false, "PASSAGE": false,
	} {
		if got := SecretName(name); got != want {
			t.Errorf("SecretName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestArgs(t *testing.T) {
	for _, tt := range []struct{ in, want []string }{
		{[]string{"redis-cli", "-a", "TopSecret1", "ping"}, []string{"redis-cli", "-a", Hidden, "ping"}},
		{[]string{"/usr/local/bin/redis-cli", "--pass", "x-y-z", "ping"}, []string{"/usr/local/bin/redis-cli", "--pass", Hidden, "ping"}},
		{[]string{"redis-server", "--requirepass", "hunter22"}, []string{"redis-server", "--requirepass", Hidden}},
		{[]string{"mysqladmin", "ping", "-h", "localhost", "-uroot", "-pR00tpw!"}, []string{"mysqladmin", "ping", "-h", "localhost", "-uroot", "-p" + Hidden}},
		{[]string{"mongosh", "-u", "root", "-p", "mongopw", "--eval", "1"}, []string{"mongosh", "-u", "root", "-p", Hidden, "--eval", "1"}},
		{[]string{"curl", "-fsS", "-u", "admin:adminpw", "http://localhost/"}, []string{"curl", "-fsS", "-u", "admin:" + Hidden, "http://localhost/"}},
		{[]string{"app", "--password=pw123", "--token", "tok456"}, []string{"app", "--password=" + Hidden, "--token", Hidden}},
		{[]string{"sh", "-c", "PGPASSWORD=pgpw psql -h db -c 'select 1'"}, []string{"sh", "-c", "PGPASSWORD=" + Hidden + " psql -h db -c 'select 1'"}},
		{[]string{"sh", "-c", "redis-cli -a 'quoted pw' ping"}, []string{"sh", "-c", "redis-cli -a '" + Hidden + "' ping"}},
		{[]string{"sh", "-c", "mysqladmin ping -uroot -p$MYSQL_ROOT_PASSWORD"}, []string{"sh", "-c", "mysqladmin ping -uroot -p$MYSQL_ROOT_PASSWORD"}},
		{[]string{"redis-cli", "-a", "${REDIS_PASSWORD}", "ping"}, []string{"redis-cli", "-a", "${REDIS_PASSWORD}", "ping"}},
		{[]string{"psql", "postgres://app:s3cret@db:5432/app", "-c", "select 1"}, []string{"psql", "postgres://app:" + Hidden + "@db:5432/app", "-c", "select 1"}},
		// -p is a port for PostgreSQL's tools and -a means something else for curl.
		{[]string{"pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "app"}, []string{"pg_isready", "-h", "127.0.0.1", "-p", "5432", "-U", "app"}},
		{[]string{"curl", "-a", "file"}, []string{"curl", "-a", "file"}},
	} {
		if diff := cmp.Diff(tt.want, Args(tt.in)); diff != "" {
			t.Errorf("Args(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestMasker(t *testing.T) {
	var m Masker
	m.AddEnv(map[string]string{"POSTGRES_PASSWORD": "pg-Secret-1", "POSTGRES_USER": "app", "REDIS_PASSWORD": "r3d", "FEATURE_TOKEN": "true"})
	m.AddArgs([]string{"redis-cli", "-a", "TopSecret-redis", "ping"})
	m.AddVar("DB_ROOT_PASSWORD", "rootpw")
	m.AddVar("HOSTNAME", "rootpw-host") // not a secret name: learns nothing new
	in := `exec ["mysqladmin" "-prootpw"] in db: API error (409): container is paused; env POSTGRES_PASSWORD=pg-Secret-1 app; redis -a TopSecret-redis; r3d; feature true; url redis://:TopSecret-redis@x:1/0 and mysql://u:other@h/db`
	got := m.String(in)
	for _, secret := range []string{"rootpw", "pg-Secret-1", "TopSecret-redis", "r3d", "other"} {
		if strings.Contains(got, secret) {
			t.Errorf("masked text still holds %q: %s", secret, got)
		}
	}
	for _, kept := range []string{"app", "feature true", "mysqladmin", "container is paused", "redis://:****@x:1/0", "mysql://u:****@h/db"} {
		if !strings.Contains(got, kept) {
			t.Errorf("masked text lost %q: %s", kept, got)
		}
	}
	// The longest secret wins where one contains another.
	var n Masker
	n.Add("abc", "abcdef")
	if got := n.String("x abcdef y abc"); got != "x **** y ****" {
		t.Errorf("String = %q", got)
	}
	var nilM *Masker
	if got := nilM.String("a://u:p@h"); got != "a://u:****@h" {
		t.Errorf("nil masker String = %q", got)
	}
}
