package templates

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testHost = "127.0.0.1"

// hostPort maps container port p to the host port the test services
// publish it on.
func hostPort(p int) int { return 40000 + p }

// fakeService is a Service with a resolved environment, a command, files
// read at start and ports published on host.
type fakeService struct {
	env        map[string]string
	command    []string
	files      map[string]string
	host       string
	ports      map[int]int // container port → host port
	advertised []string
	name       string // the compose service name ("db" when empty)
}

func (f *fakeService) Env(name string) string { return f.env[name] }
func (f *fakeService) Command() []string      { return f.command }
func (f *fakeService) Advertised() []string   { return f.advertised }

func (f *fakeService) Addr(port int) string {
	hp, ok := f.ports[port]
	if !ok {
		panic(fmt.Sprintf("port %d is not published", port))
	}
	return net.JoinHostPort(f.host, strconv.Itoa(hp))
}

func (f *fakeService) InternalAddr(port int) string {
	name := f.name
	if name == "" {
		name = "db"
	}
	return net.JoinHostPort(name, strconv.Itoa(port))
}

func (f *fakeService) File(path string) (string, bool) {
	c, ok := f.files[path]
	return c, ok
}

// newService returns a service with the given environment and command whose
// every catalog port (and 15672) is published on hostPort.
func newService(env map[string]string, command ...string) *fakeService {
	ports := map[int]int{15672: hostPort(15672)}
	for _, k := range catalog {
		for _, p := range k.Ports {
			ports[p] = hostPort(p)
		}
	}
	if env == nil {
		env = map[string]string{}
	}
	return &fakeService{env: env, command: command, host: testHost, ports: ports}
}

func TestRepository(t *testing.T) {
	tests := map[string]string{
		"postgres":                                    "postgres",
		"postgres:16":                                 "postgres",
		"postgres:16-alpine@sha256:0123abcd":          "postgres",
		"postgres@sha256:0123abcd":                    "postgres",
		"docker.io/library/postgres:16":               "postgres",
		"library/postgres":                            "postgres",
		"docker.io/bitnami/postgresql:16":             "bitnami/postgresql",
		"ghcr.io/acme/app:v1":                         "acme/app",
		"public.ecr.aws/docker/library/redis:7":       "redis",
		"localhost:5000/redis:7":                      "redis",
		"localhost/redis":                             "redis",
		"registry.example.com:5000/team/mysql:8":      "team/mysql",
		"postgres:${PG_VERSION:-16}":                  "postgres",
		"${REGISTRY:-docker.io}/postgres:16":          "postgres",
		"docker.dragonflydb.io/dragonflydb/dragonfly": "dragonflydb/dragonfly",
		"quay.io/minio/minio:latest":                  "minio/minio",
		"Redis:7":                                     "redis",
		"":                                            "",
	}
	for in, want := range tests {
		if got := Repository(in); got != want {
			t.Errorf("Repository(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMatch(t *testing.T) {
	tests := map[string]string{
		"postgres:16-alpine":                            "postgres",
		"postgis/postgis:16-3.4":                        "postgres",
		"timescale/timescaledb:latest-pg16":             "postgres",
		"timescale/timescaledb-ha:pg16":                 "postgres",
		"pgvector/pgvector:pg16":                        "postgres",
		"bitnami/postgresql:16":                         "postgres-bitnami",
		"docker.io/bitnami/postgresql":                  "postgres-bitnami",
		"mysql:8.4":                                     "mysql",
		"percona:8":                                     "mysql",
		"mariadb:10.6.4-focal":                          "mariadb",
		"bitnami/mysql:8.0":                             "mysql-bitnami",
		"bitnami/mariadb":                               "mariadb-bitnami",
		"redis:alpine":                                  "redis",
		"valkey/valkey:8":                               "redis",
		"eqalpha/keydb":                                 "redis",
		"redislabs/redismod":                            "redis",
		"docker.dragonflydb.io/dragonflydb/dragonfly":   "dragonfly",
		"bitnami/redis:7.2":                             "redis-bitnami",
		"memcached:1.6":                                 "memcached",
		"mongo:4.2.0":                                   "mongo",
		"bitnami/mongodb":                               "mongo-bitnami",
		"rabbitmq:3-management":                         "rabbitmq",
		"bitnami/rabbitmq":                              "rabbitmq-bitnami",
		"nats:2.10":                                     "nats",
		"apache/kafka:3.8.0":                            "kafka",
		"bitnami/kafka":                                 "kafka",
		"confluentinc/cp-kafka:7.6.0":                   "kafka",
		"redpandadata/redpanda":                         "redpanda",
		"docker.redpanda.com/redpandadata/redpanda":     "redpanda",
		"vectorized/redpanda":                           "redpanda",
		"minio/minio":                                   "minio",
		"quay.io/minio/minio":                           "minio",
		"bitnami/minio":                                 "minio-bitnami",
		"elasticsearch:7.16.1":                          "elasticsearch",
		"docker.elastic.co/elasticsearch/elasticsearch": "elasticsearch",
		"opensearchproject/opensearch:2":                "opensearch",
		"clickhouse/clickhouse-server:24.8":             "clickhouse",
		"localstack/localstack":                         "localstack",
		"axllent/mailpit":                               "mailpit",
		"mailhog/mailhog":                               "mailhog",
		"cassandra:5":                                   "cassandra",
		"scylladb/scylla":                               "cassandra",
		"quay.io/coreos/etcd:v3.5.0":                    "etcd",
		"bitnami/etcd":                                  "etcd-bitnami",
		"bitnami/etcd:3.5":                              "etcd-bitnami",
		"bitnamilegacy/etcd:3.5":                        "etcd-bitnami",
		"docker.io/bitnamilegacy/postgresql:16":         "postgres-bitnami",
		"bitnamilegacy/redis":                           "redis-bitnami",
		"gcr.io/etcd-development/etcd:v3.5":             "etcd",
		"nats:2-alpine":                                 "nats",
		"hashicorp/consul":                              "consul",
		"consul:1.15":                                   "consul",
		"hashicorp/vault:1.17":                          "vault",
		"vault":                                         "vault",
		"nginx":                                         "nginx",
		"httpd:2.4":                                     "httpd",
		"caddy:2":                                       "caddy",
		"traefik:2.6":                                   "traefik",
	}
	for image, want := range tests {
		k := Match(image)
		if k == nil {
			t.Errorf("Match(%q) = nil, want %s", image, want)
			continue
		}
		if k.Name != want {
			t.Errorf("Match(%q) = %s, want %s", image, k.Name, want)
		}
	}
	for _, image := range []string{"busybox", "ghcr.io/acme/postgres-tools", "bitnami/postgresql-repmgr", "bitnamilegacy/postgresql-repmgr", "bitnamilegacy", "${IMAGE}", "grafana/grafana", "postgresql"} {
		if k := Match(image); k != nil {
			t.Errorf("Match(%q) = %s, want nil", image, k.Name)
		}
	}
}

func TestByName(t *testing.T) {
	for _, name := range Kinds() {
		if k := ByName(name); k == nil || k.Name != name {
			t.Errorf("ByName(%q) = %v", name, k)
		}
	}
	if k := ByName("nosuch"); k != nil {
		t.Errorf("ByName(nosuch) = %v", k)
	}
}

// TestCatalog checks the catalog's consistency: unique names and images,
// probes on default ports, and every accessor's Func declared in this
// package as func(Service) Result, or func(TB, StackService) Result for a
// per-test accessor.
func TestCatalog(t *testing.T) {
	funcs := accessorFuncs(t)
	kinds := map[string]bool{}
	images := map[string]string{}
	for _, k := range catalog {
		if kinds[k.Name] {
			t.Errorf("kind %s declared twice", k.Name)
		}
		kinds[k.Name] = true
		for _, im := range k.Images {
			if other, ok := images[im]; ok {
				t.Errorf("image %s in kinds %s and %s", im, other, k.Name)
			}
			images[im] = k.Name
			if Repository(im) != im {
				t.Errorf("kind %s: image %q is not a bare repository", k.Name, im)
			}
		}
		if len(k.Ports) == 0 {
			t.Errorf("kind %s has no default port", k.Name)
		}
		if k.Probe != nil {
			if !contains(k.Ports, k.Probe.Port) {
				t.Errorf("kind %s: probe port %d is not a default port", k.Name, k.Probe.Port)
			}
			switch k.Probe.Protocol {
			case "tcp", "http", "postgres", "redis", "mysql", "memcached", "amqp":
			default:
				t.Errorf("kind %s: unknown probe protocol %q", k.Name, k.Probe.Protocol)
			}
			if (k.Probe.Protocol == "http") != (k.Probe.Path != "") {
				t.Errorf("kind %s: probe path %q with protocol %s", k.Name, k.Probe.Path, k.Probe.Protocol)
			}
		}
		names := map[string]bool{}
		for _, a := range k.Accessors {
			if names[a.Name] {
				t.Errorf("kind %s: accessor %s twice", k.Name, a.Name)
			}
			names[a.Name] = true
			if !token.IsExported(a.Name) || a.Doc == "" || !strings.HasSuffix(a.Doc, ".") {
				t.Errorf("kind %s: accessor %q: bad name or doc %q", k.Name, a.Name, a.Doc)
			}
			want, sig := a.Result, "(Service)"
			if a.PerTest {
				want, sig = "per-test "+a.Result, "(TB, StackService)"
			}
			if got, ok := funcs[a.Func]; !ok {
				t.Errorf("kind %s: accessor %s: no func %s%s", k.Name, a.Name, a.Func, sig)
			} else if got != want {
				t.Errorf("kind %s: accessor %s: %s returns %s, want %s", k.Name, a.Name, a.Func, got, want)
			}
		}
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// accessorFuncs parses this package and returns its exported functions of
// one Service parameter, with their result type.
func accessorFuncs(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !fd.Name.IsExported() {
				continue
			}
			ps, rs := fd.Type.Params.List, fd.Type.Results
			if rs == nil || len(rs.List) != 1 {
				continue
			}
			text := func(n ast.Node) string {
				return string(src[fset.Position(n.Pos()).Offset:fset.Position(n.End()).Offset])
			}
			r := text(rs.List[0].Type)
			switch {
			case len(ps) == 1 && len(ps[0].Names) <= 1 && text(ps[0].Type) == "Service":
				out[fd.Name.Name] = r
			case len(ps) == 2 && len(ps[0].Names) <= 1 && text(ps[0].Type) == "TB" && text(ps[1].Type) == "StackService":
				out[fd.Name.Name] = "per-test " + r
			}
		}
	}
	return out
}

// special is a password with every character that needs escaping somewhere.
const special = `p@ss:w/rd?#%&=+ é[]!$'"`

func TestPostgres(t *testing.T) {
	tests := []struct {
		name                string
		env                 map[string]string
		dsn, user, pass, db string
	}{
		{"defaults", nil, "postgres://postgres@127.0.0.1:45432/postgres?sslmode=disable", "postgres", "", "postgres"},
		{"password", map[string]string{"POSTGRES_PASSWORD": "secret"}, "postgres://postgres:secret@127.0.0.1:45432/postgres?sslmode=disable", "postgres", "secret", "postgres"},
		{"user is default db", map[string]string{"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "pw"}, "postgres://app:pw@127.0.0.1:45432/app?sslmode=disable", "app", "pw", "app"},
		{"db", map[string]string{"POSTGRES_USER": "app", "POSTGRES_DB": "shop"}, "postgres://app@127.0.0.1:45432/shop?sslmode=disable", "app", "", "shop"},
		{"empty user means default", map[string]string{"POSTGRES_USER": "", "POSTGRES_DB": ""}, "postgres://postgres@127.0.0.1:45432/postgres?sslmode=disable", "postgres", "", "postgres"},
		{"escaping", map[string]string{"POSTGRES_USER": "us@er", "POSTGRES_PASSWORD": special, "POSTGRES_DB": "my db/x"}, "", "us@er", special, "my db/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newService(tt.env)
			dsn := PostgresDSN(s)
			if tt.dsn != "" && dsn != tt.dsn {
				t.Errorf("DSN = %q, want %q", dsn, tt.dsn)
			}
			if got := [3]string{PostgresUser(s), PostgresPassword(s), PostgresDatabase(s)}; got != [3]string{tt.user, tt.pass, tt.db} {
				t.Errorf("user, password, db = %q, want %q", got, [3]string{tt.user, tt.pass, tt.db})
			}
			checkPostgresDSN(t, dsn, tt.user, tt.pass, tt.db)
		})
	}
}

func TestBitnamiPostgres(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		dsn  string
	}{
		{"defaults", nil, "postgres://postgres@127.0.0.1:45432/postgres?sslmode=disable"},
		{"bitnami names", map[string]string{"POSTGRESQL_USERNAME": "app", "POSTGRESQL_PASSWORD": "pw", "POSTGRESQL_DATABASE": "shop"}, "postgres://app:pw@127.0.0.1:45432/shop?sslmode=disable"},
		{"official aliases", map[string]string{"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "pw", "POSTGRES_DB": "shop"}, "postgres://app:pw@127.0.0.1:45432/shop?sslmode=disable"},
		{"db defaults to postgres, not the user", map[string]string{"POSTGRESQL_USERNAME": "app"}, "postgres://app@127.0.0.1:45432/postgres?sslmode=disable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BitnamiPostgresDSN(newService(tt.env)); got != tt.dsn {
				t.Errorf("DSN = %q, want %q", got, tt.dsn)
			}
		})
	}
	s := newService(map[string]string{"POSTGRESQL_USERNAME": "u", "POSTGRESQL_PASSWORD": special, "POSTGRESQL_DATABASE": "d"})
	checkPostgresDSN(t, BitnamiPostgresDSN(s), "u", special, "d")
}

type mysqlCase struct {
	name                string
	env                 map[string]string
	user, pass, db, dsn string
}

func TestMySQL(t *testing.T) {
	tests := []mysqlCase{
		{"defaults: root without password", nil, "root", "", "", "root@tcp(127.0.0.1:43306)/"},
		{"root password", map[string]string{"MYSQL_ROOT_PASSWORD": "r"}, "root", "r", "", "root:r@tcp(127.0.0.1:43306)/"},
		{"allow empty", map[string]string{"MYSQL_ALLOW_EMPTY_PASSWORD": "yes", "MYSQL_DATABASE": "shop"}, "root", "", "shop", "root@tcp(127.0.0.1:43306)/shop"},
		{"user", map[string]string{"MYSQL_ROOT_PASSWORD": "r", "MYSQL_USER": "app", "MYSQL_PASSWORD": "pw", "MYSQL_DATABASE": "shop"}, "app", "pw", "shop", "app:pw@tcp(127.0.0.1:43306)/shop"},
		{"user without password is not created", map[string]string{"MYSQL_ROOT_PASSWORD": "r", "MYSQL_USER": "app"}, "root", "r", "", "root:r@tcp(127.0.0.1:43306)/"},
		{"mariadb names are not read", map[string]string{"MARIADB_USER": "app", "MARIADB_PASSWORD": "pw"}, "root", "", "", "root@tcp(127.0.0.1:43306)/"},
		{"escaping", map[string]string{"MYSQL_USER": "app", "MYSQL_PASSWORD": special, "MYSQL_DATABASE": "my db"}, "app", special, "my db", ""},
	}
	runMySQL(t, tests, MySQLDSN, MySQLURL, MySQLUser, MySQLPassword, MySQLDatabase)
}

func TestMariaDB(t *testing.T) {
	tests := []mysqlCase{
		{"defaults", nil, "root", "", "", "root@tcp(127.0.0.1:43306)/"},
		{"mariadb root", map[string]string{"MARIADB_ROOT_PASSWORD": "r"}, "root", "r", "", "root:r@tcp(127.0.0.1:43306)/"},
		{"mysql fallbacks", map[string]string{"MYSQL_ROOT_PASSWORD": "r", "MYSQL_USER": "app", "MYSQL_PASSWORD": "pw", "MYSQL_DATABASE": "shop"}, "app", "pw", "shop", "app:pw@tcp(127.0.0.1:43306)/shop"},
		{"mariadb wins", map[string]string{"MARIADB_USER": "m", "MYSQL_USER": "y", "MARIADB_PASSWORD": "mp", "MARIADB_DATABASE": "md", "MYSQL_DATABASE": "yd"}, "m", "mp", "md", "m:mp@tcp(127.0.0.1:43306)/md"},
		{"allow empty root", map[string]string{"MARIADB_ALLOW_EMPTY_ROOT_PASSWORD": "1"}, "root", "", "", "root@tcp(127.0.0.1:43306)/"},
		{"escaping", map[string]string{"MARIADB_ROOT_PASSWORD": special, "MARIADB_DATABASE": "a/b"}, "root", special, "a/b", ""},
	}
	runMySQL(t, tests, MariaDBDSN, MariaDBURL, MariaDBUser, MariaDBPassword, MariaDBDatabase)
}

func TestBitnamiMySQL(t *testing.T) {
	runMySQL(t, []mysqlCase{
		{"defaults", nil, "root", "", "", "root@tcp(127.0.0.1:43306)/"},
		{"root user", map[string]string{"MYSQL_ROOT_USER": "admin", "MYSQL_ROOT_PASSWORD": "r"}, "admin", "r", "", "admin:r@tcp(127.0.0.1:43306)/"},
		{"user without password", map[string]string{"MYSQL_USER": "app", "ALLOW_EMPTY_PASSWORD": "yes", "MYSQL_DATABASE": "d"}, "app", "", "d", "app@tcp(127.0.0.1:43306)/d"},
	}, BitnamiMySQLDSN, BitnamiMySQLURL, BitnamiMySQLUser, BitnamiMySQLPassword, BitnamiMySQLDatabase)
	runMySQL(t, []mysqlCase{
		{"defaults", nil, "root", "", "", "root@tcp(127.0.0.1:43306)/"},
		{"user", map[string]string{"MARIADB_USER": "app", "MARIADB_PASSWORD": "pw", "MARIADB_DATABASE": "d", "MYSQL_USER": "ignored"}, "app", "pw", "d", "app:pw@tcp(127.0.0.1:43306)/d"},
	}, BitnamiMariaDBDSN, BitnamiMariaDBURL, BitnamiMariaDBUser, BitnamiMariaDBPassword, BitnamiMariaDBDatabase)
}

type accessor func(Service) string

func runMySQL(t *testing.T, tests []mysqlCase, dsnF, urlF, userF, passF, dbF accessor) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newService(tt.env)
			if got := [3]string{userF(s), passF(s), dbF(s)}; got != [3]string{tt.user, tt.pass, tt.db} {
				t.Errorf("user, password, db = %q, want %q", got, [3]string{tt.user, tt.pass, tt.db})
			}
			dsn := dsnF(s)
			if tt.dsn != "" && dsn != tt.dsn {
				t.Errorf("DSN = %q, want %q", dsn, tt.dsn)
			}
			checkMySQLDSN(t, dsn, tt.user, tt.pass, tt.db)
			u, err := url.Parse(urlF(s))
			if err != nil {
				t.Fatal(err)
			}
			p, _ := u.User.Password()
			if u.Scheme != "mysql" || u.User.Username() != tt.user || p != tt.pass || strings.TrimPrefix(u.Path, "/") != tt.db || u.Host != "127.0.0.1:43306" {
				t.Errorf("URL %s parses to user %q password %q db %q host %q", u, u.User.Username(), p, u.Path, u.Host)
			}
		})
	}
}

func TestRedis(t *testing.T) {
	tests := []struct {
		name    string
		f       accessor
		pass    accessor
		env     map[string]string
		command []string
		want    string
	}{
		{"no password", RedisURL, RedisPassword, nil, nil, "redis://127.0.0.1:46379/0"},
		{"requirepass", RedisURL, RedisPassword, nil, []string{"redis-server", "--requirepass", "s3cret"}, "redis://:s3cret@127.0.0.1:46379/0"},
		{"requirepass in one string", RedisURL, RedisPassword, nil, []string{"redis-server --appendonly yes --requirepass s3cret"}, "redis://:s3cret@127.0.0.1:46379/0"},
		{"requirepass in sh -c", RedisURL, RedisPassword, nil, []string{"sh", "-c", "redis-server --requirepass 'a b'"}, "redis://:a%20b@127.0.0.1:46379/0"},
		{"REDIS_ARGS", RedisURL, RedisPassword, map[string]string{"REDIS_ARGS": "--requirepass pw"}, nil, "redis://:pw@127.0.0.1:46379/0"},
		{"official ignores REDIS_PASSWORD", RedisURL, RedisPassword, map[string]string{"REDIS_PASSWORD": "pw"}, nil, "redis://127.0.0.1:46379/0"},
		{"bitnami", BitnamiRedisURL, BitnamiRedisPassword, map[string]string{"REDIS_PASSWORD": "pw"}, nil, "redis://:pw@127.0.0.1:46379/0"},
		{"bitnami valkey", BitnamiRedisURL, BitnamiRedisPassword, map[string]string{"VALKEY_PASSWORD": "pw"}, nil, "redis://:pw@127.0.0.1:46379/0"},
		{"bitnami no password", BitnamiRedisURL, BitnamiRedisPassword, map[string]string{"ALLOW_EMPTY_PASSWORD": "yes"}, nil, "redis://127.0.0.1:46379/0"},
		{"requirepass from the environment by a shell", RedisURL, RedisPassword, map[string]string{"REDIS_PASSWORD": "pw"}, []string{"sh", "-c", `exec redis-server --requirepass "$REDIS_PASSWORD"`}, "redis://:pw@127.0.0.1:46379/0"},
		{"requirepass ${VAR} by bash", RedisURL, RedisPassword, map[string]string{"PW": "pw"}, []string{"/bin/bash", "-c", "redis-server --requirepass ${PW} --appendonly yes"}, "redis://:pw@127.0.0.1:46379/0"},
		{"requirepass unset variable", RedisURL, RedisPassword, nil, []string{"sh", "-c", "redis-server --requirepass $PW"}, "redis://127.0.0.1:46379/0"},
		{"requirepass $ without a shell is literal", RedisURL, RedisPassword, map[string]string{"PW": "pw"}, []string{"redis-server", "--requirepass", "$PW"}, "redis://:$PW@127.0.0.1:46379/0"},
		{"requirepass not one variable", RedisURL, RedisPassword, map[string]string{"PW": "pw"}, []string{"sh", "-c", "redis-server --requirepass x$PW"}, "redis://:x$PW@127.0.0.1:46379/0"},
		{"dragonfly from the environment", DragonflyURL, DragonflyPassword, map[string]string{"PW": "pw"}, []string{"sh", "-c", "dragonfly --requirepass=$PW"}, "redis://:pw@127.0.0.1:46379/0"},
		{"dragonfly flag", DragonflyURL, DragonflyPassword, nil, []string{"--requirepass=pw"}, "redis://:pw@127.0.0.1:46379/0"},
		{"dragonfly env", DragonflyURL, DragonflyPassword, map[string]string{"DFLY_requirepass": "pw"}, nil, "redis://:pw@127.0.0.1:46379/0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newService(tt.env, tt.command...)
			got := tt.f(s)
			if got != tt.want {
				t.Errorf("URL = %q, want %q", got, tt.want)
			}
			checkRedisURL(t, got, tt.pass(s))
		})
	}
	// '$' in the plan's command is a template (a literal '$' is "$$"), so
	// the password has none here.
	noDollar := strings.ReplaceAll(special, "$", "")
	s := newService(nil, "redis-server", "--requirepass", noDollar)
	if got := RedisPassword(s); got != noDollar {
		t.Errorf("Password = %q", got)
	}
	checkRedisURL(t, RedisURL(s), noDollar)
	if got := RedisAddr(s); got != "127.0.0.1:46379" {
		t.Errorf("Addr = %q", got)
	}
}

func TestURLs(t *testing.T) {
	tests := []struct {
		name string
		f    accessor
		env  map[string]string
		cmd  []string
		want string
	}{
		{"mongo no auth", MongoURI, nil, nil, "mongodb://127.0.0.1:67017/"},
		{"mongo root", MongoURI, map[string]string{"MONGO_INITDB_ROOT_USERNAME": "root", "MONGO_INITDB_ROOT_PASSWORD": "example"}, nil, "mongodb://root:example@127.0.0.1:67017/?authSource=admin"},
		{"mongo escaping", MongoURI, map[string]string{"MONGO_INITDB_ROOT_USERNAME": "a@b", "MONGO_INITDB_ROOT_PASSWORD": "p:/?#[]@"}, nil, "mongodb://a%40b:p%3A%2F%3F%23%5B%5D%40@127.0.0.1:67017/?authSource=admin"},
		{"bitnami mongo root", BitnamiMongoURI, map[string]string{"MONGODB_ROOT_PASSWORD": "pw"}, nil, "mongodb://root:pw@127.0.0.1:67017/?authSource=admin"},
		{"bitnami mongo user", BitnamiMongoURI, map[string]string{"MONGODB_USERNAME": "app", "MONGODB_PASSWORD": "pw", "MONGODB_DATABASE": "shop"}, nil, "mongodb://app:pw@127.0.0.1:67017/?authSource=shop"},
		{"bitnami mongo none", BitnamiMongoURI, map[string]string{"ALLOW_EMPTY_PASSWORD": "yes"}, nil, "mongodb://127.0.0.1:67017/"},
		{"rabbitmq defaults", RabbitMQURL, nil, nil, "amqp://guest:guest@127.0.0.1:45672/%2F"},
		{"rabbitmq env", RabbitMQURL, map[string]string{"RABBITMQ_DEFAULT_USER": "app", "RABBITMQ_DEFAULT_PASS": "p@ss", "RABBITMQ_DEFAULT_VHOST": "shop/v1"}, nil, "amqp://app:p%40ss@127.0.0.1:45672/shop%2Fv1"},
		{"rabbitmq bitnami defaults", BitnamiRabbitMQURL, nil, nil, "amqp://user:bitnami@127.0.0.1:45672/%2F"},
		{"rabbitmq bitnami env", BitnamiRabbitMQURL, map[string]string{"RABBITMQ_USERNAME": "a", "RABBITMQ_PASSWORD": "b", "RABBITMQ_VHOST": "v"}, nil, "amqp://a:b@127.0.0.1:45672/v"},
		{"rabbitmq management", RabbitMQManagementURL, nil, nil, "http://127.0.0.1:55672"},
		{"nats", NATSURL, nil, nil, "nats://127.0.0.1:44222"},
		{"nats user", NATSURL, nil, []string{"--user", "app", "--pass", "p@ss"}, "nats://app:p%40ss@127.0.0.1:44222"},
		{"nats token", NATSURL, nil, []string{"-js", "--auth", "tok"}, "nats://tok@127.0.0.1:44222"},
		// nats-server reads its flags with Go's flag package: one dash or two.
		{"nats user one dash", NATSURL, nil, []string{"-js", "-user", "app", "-pass=p@ss"}, "nats://app:p%40ss@127.0.0.1:44222"},
		{"nats user in one string", NATSURL, nil, []string{"-js -m 8222 -user app -pass pw"}, "nats://app:pw@127.0.0.1:44222"},
		{"nats token one dash", NATSURL, nil, []string{"-auth=tok"}, "nats://tok@127.0.0.1:44222"},
		{"nats credentials from the environment", NATSURL, map[string]string{"NATS_USER": "app", "NATS_PASS": "p@ss"}, []string{"sh", "-c", "exec nats-server -js --user $NATS_USER --pass ${NATS_PASS}"}, "nats://app:p%40ss@127.0.0.1:44222"},
		{"nats no auth flags", NATSURL, nil, []string{"-js", "-users_file", "x", "--cluster_name", "c"}, "nats://127.0.0.1:44222"},
		{"etcd bitnami no auth", BitnamiEtcdUser, map[string]string{"ALLOW_NONE_AUTHENTICATION": "yes"}, nil, ""},
		{"etcd bitnami no password", BitnamiEtcdPassword, map[string]string{"ALLOW_NONE_AUTHENTICATION": "yes"}, nil, ""},
		{"etcd bitnami root", BitnamiEtcdUser, map[string]string{"ETCD_ROOT_PASSWORD": "pw"}, nil, "root"},
		{"etcd bitnami root password", BitnamiEtcdPassword, map[string]string{"ETCD_ROOT_PASSWORD": "pw"}, nil, "pw"},
		{"minio endpoint", MinioEndpoint, nil, nil, "127.0.0.1:49000"},
		{"minio url", MinioURL, nil, nil, "http://127.0.0.1:49000"},
		{"minio access default", MinioAccessKey, nil, nil, "minioadmin"},
		{"minio secret default", MinioSecretKey, nil, nil, "minioadmin"},
		{"minio root user", MinioAccessKey, map[string]string{"MINIO_ROOT_USER": "u", "MINIO_ACCESS_KEY": "old"}, nil, "u"},
		{"minio legacy", MinioSecretKey, map[string]string{"MINIO_SECRET_KEY": "old"}, nil, "old"},
		{"minio bitnami defaults", BitnamiMinioAccessKey, nil, nil, "minio"},
		{"minio bitnami secret", BitnamiMinioSecretKey, nil, nil, "miniosecret"},
		{"elasticsearch default", ElasticsearchURL, nil, nil, "http://127.0.0.1:49200"},
		{"elasticsearch security off", ElasticsearchURL, map[string]string{"xpack.security.enabled": "false", "ELASTIC_PASSWORD": "pw"}, nil, "http://127.0.0.1:49200"},
		{"elasticsearch security on", ElasticsearchURL, map[string]string{"xpack.security.enabled": "true", "ELASTIC_PASSWORD": "p@ss"}, nil, "http://elastic:p%40ss@127.0.0.1:49200"},
		{"elasticsearch tls", ElasticsearchURL, map[string]string{"xpack.security.enabled": "true", "xpack.security.http.ssl.enabled": "true", "ELASTIC_PASSWORD": "pw"}, nil, "https://elastic:pw@127.0.0.1:49200"},
		{"opensearch default", OpenSearchURL, nil, nil, "https://admin:admin@127.0.0.1:49200"},
		{"opensearch password", OpenSearchURL, map[string]string{"OPENSEARCH_INITIAL_ADMIN_PASSWORD": "S3cret!x"}, nil, "https://admin:S3cret%21x@127.0.0.1:49200"},
		{"opensearch disabled", OpenSearchURL, map[string]string{"DISABLE_SECURITY_PLUGIN": "true"}, nil, "http://127.0.0.1:49200"},
		{"clickhouse defaults", ClickHouseDSN, nil, nil, "clickhouse://default@127.0.0.1:49000/default"},
		{"clickhouse env", ClickHouseDSN, map[string]string{"CLICKHOUSE_USER": "app", "CLICKHOUSE_PASSWORD": "p@ss", "CLICKHOUSE_DB": "shop"}, nil, "clickhouse://app:p%40ss@127.0.0.1:49000/shop"},
		{"clickhouse http", ClickHouseHTTPURL, nil, nil, "http://127.0.0.1:48123"},
		{"localstack", LocalStackEndpoint, nil, nil, "http://127.0.0.1:44566"},
		{"smtp", MailSMTPAddr, nil, nil, "127.0.0.1:41025"},
		{"mail web", MailWebURL, nil, nil, "http://127.0.0.1:48025"},
		{"consul addr", ConsulAddr, nil, nil, "127.0.0.1:48500"},
		{"consul url", ConsulURL, nil, nil, "http://127.0.0.1:48500"},
		{"vault addr", VaultAddr, nil, nil, "127.0.0.1:48200"},
		{"vault url", VaultURL, nil, nil, "http://127.0.0.1:48200"},
		{"vault token", VaultToken, map[string]string{"VAULT_DEV_ROOT_TOKEN_ID": "root"}, nil, "root"},
		{"memcached", MemcachedAddr, nil, nil, "127.0.0.1:51211"},
		{"http server", HTTPServerURL, nil, nil, "http://127.0.0.1:40080"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.f(newService(tt.env, tt.cmd...)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	// Passwords survive the round trip through URL parsing.
	for _, tc := range []struct {
		f    accessor
		env  map[string]string
		user string
	}{
		{MongoURI, map[string]string{"MONGO_INITDB_ROOT_USERNAME": "r", "MONGO_INITDB_ROOT_PASSWORD": special}, "r"},
		{RabbitMQURL, map[string]string{"RABBITMQ_DEFAULT_USER": "r", "RABBITMQ_DEFAULT_PASS": special}, "r"},
		{ClickHouseDSN, map[string]string{"CLICKHOUSE_USER": "r", "CLICKHOUSE_PASSWORD": special}, "r"},
		{ElasticsearchURL, map[string]string{"xpack.security.enabled": "true", "ELASTIC_PASSWORD": special}, "elastic"},
	} {
		u, err := url.Parse(tc.f(newService(tc.env)))
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := u.User.Password(); u.User.Username() != tc.user || p != special {
			t.Errorf("%s: user %q password %q", u.Redacted(), u.User.Username(), p)
		}
	}
	// The vhost "/" and a custom one are recovered from the path.
	u, _ := url.Parse(RabbitMQURL(newService(map[string]string{"RABBITMQ_DEFAULT_VHOST": "a/b c"})))
	if u.Path != "/a/b c" {
		t.Errorf("vhost path %q", u.Path)
	}
}

// TestBitnamiEtcdPasswordFile: ETCD_ROOT_PASSWORD_FILE (a Docker secret)
// gives the user root and the file's content.
func TestBitnamiEtcdPasswordFile(t *testing.T) {
	s := newService(map[string]string{"ETCD_ROOT_PASSWORD_FILE": "/run/secrets/etcd_root"})
	if u, p := BitnamiEtcdUser(s), BitnamiEtcdPassword(s); u != "" || p != "" {
		t.Errorf("file not read: User, Password = %q, %q; want none", u, p)
	}
	s.files = map[string]string{"/run/secrets/etcd_root": "fr0m-f1le"}
	if u, p := BitnamiEtcdUser(s), BitnamiEtcdPassword(s); u != "root" || p != "fr0m-f1le" {
		t.Errorf("User, Password = %q, %q; want root and the file's content", u, p)
	}
}

func TestLists(t *testing.T) {
	s := newService(nil)
	for name, tt := range map[string]struct {
		got, want []string
	}{
		"kafka":            {KafkaBrokers(s), []string{"127.0.0.1:49092"}},
		"kafka advertised": {KafkaBrokers(&fakeService{advertised: []string{"127.0.0.1:40001", "127.0.0.1:40002"}}), []string{"127.0.0.1:40001", "127.0.0.1:40002"}},
		"cassandra":        {CassandraHosts(s), []string{"127.0.0.1:49042"}},
		"etcd":             {EtcdEndpoints(s), []string{"127.0.0.1:42379"}},
	} {
		if diff := cmp.Diff(tt.want, tt.got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	if got := HTTPURL(&fakeService{host: "docker.example", ports: map[int]int{8080: 32768}}, 8080); got != "http://docker.example:32768" {
		t.Errorf("HTTPURL = %q", got)
	}
}

func TestIsHTTPHealthcheck(t *testing.T) {
	tests := []struct {
		test []string
		port int
		path string
		ok   bool
	}{
		{[]string{"CMD", "curl", "-f", "http://localhost:8080/health"}, 8080, "/health", true},
		{[]string{"CMD-SHELL", "wget -qO- http://127.0.0.1:3000/ || exit 1"}, 3000, "/", true},
		{[]string{"CMD-SHELL", "curl --silent --fail localhost:9200/_cluster/health || exit 1"}, 9200, "/_cluster/health", true},
		{[]string{"CMD-SHELL", "wget --no-verbose --tries=1 --spider http://localhost:8080/actuator/health || exit 1"}, 8080, "/actuator/health", true},
		{[]string{"CMD", "/usr/bin/curl", "-H", "Host: x", "http://localhost"}, 80, "/", true},
		{[]string{"CMD-SHELL", "curl -fsS 'http://[::1]:9000/ready?full=1'"}, 9000, "/ready", true},
		{[]string{"CMD-SHELL", "curl -o /dev/null -w '%{http_code}' http://0.0.0.0:5000/ping"}, 5000, "/ping", true},
		{[]string{"curl -f http://localhost:7000/health"}, 7000, "/health", true},
		{[]string{"CMD", "pg_isready"}, 0, "", false},
		{[]string{"CMD-SHELL", "curl -f https://localhost:8443/"}, 0, "", false},
		{[]string{"CMD-SHELL", "curl -f http://other-service:8080/"}, 0, "", false},
		{[]string{"CMD-SHELL", "curl -f http://localhost:$${PORT}/"}, 0, "", false},
		{[]string{"CMD-SHELL", "echo http://localhost:8080/ && true"}, 0, "", false},
		{[]string{"CMD-SHELL", "test -f /tmp/ok || curl http://localhost:81/x"}, 81, "/x", true},
		{[]string{"NONE"}, 0, "", false},
		{nil, 0, "", false},
	}
	for _, tt := range tests {
		port, path, ok := IsHTTPHealthcheck(tt.test)
		if port != tt.port || path != tt.path || ok != tt.ok {
			t.Errorf("IsHTTPHealthcheck(%q) = %d, %q, %v; want %d, %q, %v", tt.test, port, path, ok, tt.port, tt.path, tt.ok)
		}
	}
}
