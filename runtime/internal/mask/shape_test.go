package mask

import (
	"strings"
	"testing"
)

// H is Hidden, short for the table.
const H = Hidden

func TestText(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		// Authorization headers, in a command and in a log line.
		{"curl bearer", `curl -fsS -H "Authorization: Bearer s3cr3t-tok" http://localhost:8080/health`, `curl -fsS -H "Authorization: Bearer ` + H + `" http://localhost:8080/health`},
		{"curl basic single quotes", `curl -H 'Authorization: Basic dXNlcjpwYXNz' http://x/`, `curl -H 'Authorization: Basic ` + H + `' http://x/`},
		{"header unquoted", `exec [curl -H Authorization: Bearer abc.def-ghi http://x] failed`, `exec [curl -H Authorization: Bearer ` + H + ` http://x] failed`},
		{"header no space", `Authorization:Bearer abc123xyz`, `Authorization:Bearer ` + H},
		{"header no scheme", `authorization: rawtoken123 next`, `authorization: ` + H + ` next`},
		{"proxy auth", `Proxy-Authorization: Basic Zm9vOmJhcg==`, `Proxy-Authorization: Basic ` + H},
		{"x-api-key", `wget --header="X-Api-Key: k-123456" -qO- http://x`, `wget --header="X-Api-Key: ` + H + `" -qO- http://x`},
		{"x-auth-token -H", `curl -H "X-Auth-Token: tok tok" http://x`, `curl -H "X-Auth-Token: ` + H + `" http://x`},
		{"token header only with -H", `curl -H 'Token: abcdef' http://x`, `curl -H '` + `Token: ` + H + `' http://x`},
		{"json header", `{"x-api-key": "k-123456", "accept": "json"}`, `{"x-api-key": "` + H + `", "accept": "json"}`},
		{"json keys", `{"user":"app","password":"hunter 2","pin":12,"api_key":123456,"token_type":"bearer"}`, `{"user":"app","password":"` + H + `","pin":12,"api_key":` + H + `,"token_type":"bearer"}`},
		{"json spaced", `{"client_secret": "cs-1", "access_token": "at-2", "expires_in": 3600}`, `{"client_secret": "` + H + `", "access_token": "` + H + `", "expires_in": 3600}`},
		{"go %+v", `config: &{Host:db User:app Password:hunter2 Token:}`, `config: &{Host:db User:app Password:` + H + ` Token:}`},
		{"timestamps and ports", `17:03:38.123 listening on 127.0.0.1:5432 and [::1]:5432`, `17:03:38.123 listening on 127.0.0.1:5432 and [::1]:5432`},
		{"prose token:", `invalid token: expired; error: auth failed`, `invalid token: expired; error: auth failed`},
		{"cookie", `-H "Cookie: session=abc123"`, `-H "Cookie: ` + H + `"`},
		{"bearer in prose", `sending Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig to api`, `sending Bearer ` + H + ` to api`},
		// key=value connection strings.
		{"libpq", `host=db user=app password=hunter2x dbname=app`, `host=db user=app password=` + H + ` dbname=app`},
		{"libpq in a variable", `MY_CONN=host=db user=app password=hunter2x`, `MY_CONN=host=db user=app password=` + H},
		{"libpq quoted", `host=db password='a b c' sslmode=disable`, `host=db password='` + H + `' sslmode=disable`},
		{"libpq quoted escape", `password='it\'s x' user=u`, `password='` + H + `' user=u`},
		{"odbc", `Server=db;Database=app;Uid=sa;Pwd=P@ss;Encrypt=yes`, `Server=db;Database=app;Uid=sa;Pwd=` + H + `;Encrypt=yes`},
		{"azure", `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=K3y==;EndpointSuffix=x`, `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=` + H + `;EndpointSuffix=x`},
		{"case-insensitive", `PASSWORD=Xy1 Secret=s3 TOKEN=t0k api_key=k1 passwd=p2`, `PASSWORD=` + H + ` Secret=` + H + ` TOKEN=` + H + ` api_key=` + H + ` passwd=` + H},
		{"url query", `GET /x?user=a&password=p4ss&x=1`, `GET /x?user=a&password=` + H + `&x=1`},
		{"shell assignment", `sh -c "PGPASSWORD=x9 psql -h db"`, `sh -c "PGPASSWORD=` + H + ` psql -h db"`},
		{"shell assignment quoted", `PGPASSWORD="a b" psql`, `PGPASSWORD="` + H + `" psql`},
		{"flag =", `app --password=pw123 --token=tk`, `app --password=` + H + ` --token=` + H},
		// URL user information.
		{"url", `dial postgres://app:s3cret@db:5432/app failed`, `dial postgres://app:` + H + `@db:5432/app failed`},
		{"url no user", `redis://:r3d@cache:6379/0`, `redis://:` + H + `@cache:6379/0`},
		// Flags.
		{"--password space", `tool --password pw123 -v`, `tool --password ` + H + ` -v`},
		{"--api-key space", `tool --api-key 'k 1'`, `tool --api-key '` + H + `'`},
		{"mysql -p", `mysqladmin ping -h localhost -uroot -pR00tpw!`, `mysqladmin ping -h localhost -uroot -p` + H},
		{"mysql -p in brackets", `exec [mysql -uroot -pR00t] in db`, `exec [mysql -uroot -p` + H + `] in db`},
		{"mariadb -p quoted", `/usr/bin/mariadb -p'a b' -e 'select 1'`, `/usr/bin/mariadb -p'` + H + `' -e 'select 1'`},
		{"redis-cli -a", `redis-cli -a TopSecret1 ping`, `redis-cli -a ` + H + ` ping`},
		{"redis-cli --pass", `redis-cli --pass TopSecret1 ping`, `redis-cli --pass ` + H + ` ping`},
		{"redis-cli in sh -c", `sh -c "redis-cli -a 'quoted pw' ping"`, `sh -c "redis-cli -a '` + H + `' ping"`},
		{"mongosh -p", `mongosh -u root -p mongopw --eval 1`, `mongosh -u root -p ` + H + ` --eval 1`},
		{"curl -u", `curl -u admin:adminpw http://x`, `curl -u admin:` + H + ` http://x`},
		{"wget --user=", `wget --user=admin:pw1 http://x`, `wget --user=admin:` + H + ` http://x`},
		// Negative cases: what looks alike but shows no secret.
		{"psql -p port", `psql -h db -p 5432 -U app`, `psql -h db -p 5432 -U app`},
		{"pg_isready -p", `pg_isready -h 127.0.0.1 -p 5432`, `pg_isready -h 127.0.0.1 -p 5432`},
		{"psql -p attached", `psql -p5432`, `psql -p5432`},
		{"mysql then psql", `mysql -e 'select 1'; psql -p5432`, `mysql -e 'select 1'; psql -p5432`},
		{"mysql -p prompt", `mysql -p app`, `mysql -p app`},
		{"redis-server -p", `redis-cli -p 6379 ping`, `redis-cli -p 6379 ping`},
		{"curl -a", `curl -a file`, `curl -a file`},
		{"docker -u", `docker run -u 1000:1000 img`, `docker run -u 1000:1000 img`},
		{"password_reset_url", `password_reset_url=/reset token_type=bearer auth_method=md5`, `password_reset_url=/reset token_type=bearer auth_method=md5`},
		{"authSource", `mongodb://u@h/db?authSource=admin&authMechanism=SCRAM-SHA-256`, `mongodb://u@h/db?authSource=admin&authMechanism=SCRAM-SHA-256`},
		{"access key id", `AWS_ACCESS_KEY_ID=AKIA123 POSTGRES_PASSWORD_FILE=/run/secrets/pg`, `AWS_ACCESS_KEY_ID=AKIA123 POSTGRES_PASSWORD_FILE=/run/secrets/pg`},
		{"template", `password=$PGPASS token=${TOKEN} mysql -p$MYSQL_PWD`, `password=$PGPASS token=${TOKEN} mysql -p$MYSQL_PWD`},
		{"boolean", `auth=true password=none`, `auth=true password=none`},
		{"bearer prose words", `the Bearer token is missing; Basic authentication failed`, `the Bearer token is missing; Basic authentication failed`},
		{"www-authenticate", `WWW-Authenticate: Bearer realm=api`, `WWW-Authenticate: Bearer realm=api`},
		{"url without password", `http://user@host/x https://example.com/a@b ftp://h:21/`, `http://user@host/x https://example.com/a@b ftp://h:21/`},
		{"plain header", `curl -H "Accept: application/json" -H 'Content-Type: text/plain' http://x`, `curl -H "Accept: application/json" -H 'Content-Type: text/plain' http://x`},
		{"prose with colon", `redis: AUTH failed: WRONGPASS invalid username-password pair`, `redis: AUTH failed: WRONGPASS invalid username-password pair`},
		{"pg log", `FATAL:  password authentication failed for user "app"`, `FATAL:  password authentication failed for user "app"`},
		{"author", `author=bob monkey=1 keyspace=ks`, `author=bob monkey=1 keyspace=ks`},
		{"already masked", `password=**** Authorization: Bearer ****`, `password=**** Authorization: Bearer ****`},
		{"no-auth flag", `server --no-auth --port 1`, `server --no-auth --port 1`},
		{"empty", ``, ``},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.in); got != tt.want {
				t.Errorf("Text(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			// Masking is idempotent.
			if got := Text(Text(tt.in)); got != tt.want {
				t.Errorf("Text twice = %q", got)
			}
		})
	}
}

func TestSecretsAndLearning(t *testing.T) {
	got := Secrets(`MY_CONN=host=db user=app password=hunter2x; curl -H "Authorization: Bearer s3cr3t-tok" postgres://u:pw9@h`)
	want := map[string]bool{"hunter2x": true, "s3cr3t-tok": true, "pw9": true}
	if len(got) != len(want) {
		t.Errorf("Secrets = %q, want %v", got, want)
	}
	for _, s := range got {
		if !want[s] {
			t.Errorf("Secrets found %q", s)
		}
	}
	// A value learned by shape is then hidden wherever it appears.
	var m Masker
	m.AddVar("MY_CONN", "host=db user=app password=hunter2x")
	m.AddArgs([]string{"CMD", "curl", "-fsS", "-H", "Authorization: Bearer s3cr3t-tok", "http://localhost/"})
	m.AddArgs([]string{"curl", "-H", "X-Api-Key: k-987654", "http://localhost/"})
	out := m.String("echoed hunter2x and s3cr3t-tok and k-987654 alone")
	for _, s := range []string{"hunter2x", "s3cr3t-tok", "k-987654"} {
		if strings.Contains(out, s) {
			t.Errorf("String still shows %q: %s", s, out)
		}
	}
	if got, want := Args([]string{"curl", "-H", "Authorization: Bearer s3cr3t-tok", "http://x"}), "curl -H Authorization: Bearer "+H+" http://x"; strings.Join(got, " ") != want {
		t.Errorf("Args = %q, want %q", got, want)
	}
}

// A long log line with no secret, a typical PostgreSQL line, and one with
// a secret.
var benchLines = []string{
	`2026-12-07 17:03:38.123 UTC [1] LOG:  database system is ready to accept connections; listening on IPv4 address "0.0.0.0", port 5432`,
	`time=2026-12-07T17:03:38Z level=info msg="request served" method=GET path=/healthz status=200 duration=1.2ms remote=172.18.0.1:40312 user-agent=curl/8.5.0`,
	`connecting with host=db user=app password=hunter2x dbname=app sslmode=disable; curl -H "Authorization: Bearer s3cr3t-tok" http://api:8080/`,
}

func BenchmarkText(b *testing.B) {
	for _, l := range benchLines {
		b.Run(l[:12], func(b *testing.B) {
			b.SetBytes(int64(len(l)))
			for b.Loop() {
				_ = Text(l)
			}
		})
	}
}

func BenchmarkMaskerString(b *testing.B) {
	var m Masker
	m.AddEnv(map[string]string{"POSTGRES_PASSWORD": "pg-Secret-1", "REDIS_PASSWORD": "r3d1s", "JWT_SECRET": "jwt-secret-value"})
	for _, l := range benchLines {
		b.Run(l[:12], func(b *testing.B) {
			for b.Loop() {
				_ = m.String(l)
			}
		})
	}
}

func FuzzText(f *testing.F) {
	for _, l := range benchLines {
		f.Add(l)
	}
	f.Add(`-H "Authorization: Bearer x`)
	f.Add(`password='unterminated`)
	f.Fuzz(func(t *testing.T, s string) {
		out := Text(s)
		if again := Text(out); again != out {
			t.Errorf("not idempotent: %q → %q → %q", s, out, again)
		}
	})
}

// BenchmarkTextAdversarial compares 64 KiB lines of unterminated quotes and
// of nothing but secrets with prose: the cost per byte stays of the same
// order (linear), where a quadratic scan would be a thousand times slower.
func BenchmarkTextAdversarial(b *testing.B) {
	for name, unit := range map[string]string{
		"quotes":  `password=" -H "Authorization: `,
		"secrets": `password=x token=y `,
		"prose":   `the quick brown fox jumps over `,
	} {
		line := strings.Repeat(unit, 64<<10/len(unit))
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(line)))
			for b.Loop() {
				_ = Text(line)
			}
		})
	}
}
