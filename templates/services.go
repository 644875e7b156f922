package templates

import (
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/composegen/composegen/templates/internal/dsn"
)

// command returns the service's command after interpolation.
func command(s Service) []string { return s.Command() }

// words splits args into words: an argument with spaces (as in
// ["sh", "-c", "redis-server --requirepass x"] or REDIS_ARGS) is split like
// a shell would, quotes removed.
func words(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.ContainsAny(a, " \t\n") {
			out = append(out, shellWords(a)...)
		} else {
			out = append(out, a)
		}
	}
	return out
}

// flagValue returns the value of the last "--name value" or "--name=value"
// among args, "" when none. Arguments are taken as given (exec form, where
// "a b" is one argument) and, when that finds nothing, split into shell words
// (["sh", "-c", "redis-server --requirepass x"], REDIS_ARGS).
func flagValue(args []string, names ...string) string {
	if v := lastFlag(args, names); v != "" {
		return v
	}
	return lastFlag(words(args), names)
}

// commandFlag is flagValue for an option of the service's command. When the
// command runs a shell (sh -c 'exec redis-server --requirepass "$PW"') and
// the option's value is one variable ($PW or ${PW}), the shell passes the
// server the variable's value from the service's environment, and so
// commandFlag returns that value.
func commandFlag(s Service, names ...string) string {
	args := command(s)
	v := flagValue(args, names...)
	if name, ok := shellVariable(v); ok && len(args) > 0 && slices.Contains(shells, path.Base(args[0])) {
		return s.Env(name)
	}
	return v
}

var shells = []string{"sh", "bash", "ash", "dash", "zsh", "ksh"}

// shellVariable returns NAME when v is "$NAME" or "${NAME}".
func shellVariable(v string) (string, bool) {
	name, ok := strings.CutPrefix(v, "$")
	if !ok {
		return "", false
	}
	if inner, ok := strings.CutPrefix(name, "{"); ok {
		if name, ok = strings.CutSuffix(inner, "}"); !ok {
			return "", false
		}
	}
	for i, c := range name {
		if c != '_' && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(i > 0 && c >= '0' && c <= '9') {
			return "", false
		}
	}
	return name, name != ""
}

func lastFlag(ws []string, names []string) string {
	v := ""
	for i, w := range ws {
		for _, n := range names {
			if w == n && i+1 < len(ws) {
				v = ws[i+1]
			} else if strings.HasPrefix(w, n+"=") {
				v = w[len(n)+1:]
			}
		}
	}
	return v
}

func redisURL(host, password string) string {
	u := url.URL{Scheme: "redis", Host: host, Path: "/0"}
	if password != "" {
		u.User = url.UserPassword("", password)
	}
	return u.String()
}

// redisDefaultUserURL is redisURL with the user name "default" before the
// password: redis-cli -u sends the empty user name of redis://:password@
// as a user name, which the server rejects, while Redis 6 and later (and
// Valkey, KeyDB, Dragonfly) take "default" as the requirepass user.
func redisDefaultUserURL(host, password string) string {
	u := url.URL{Scheme: "redis", Host: host, Path: "/0"}
	if password != "" {
		u.User = url.UserPassword("default", password)
	}
	return u.String()
}

// RedisAddr is the Addr accessor of the redis kinds.
func RedisAddr(s Service) string { return addr(s, 6379) }

// RedisPassword is the Password accessor of the redis kind: --requirepass in
// the command (a shell's $VARIABLE resolved from the service's environment),
// or in REDIS_ARGS (read by the redis-stack images).
func RedisPassword(s Service) string {
	if p := commandFlag(s, "--requirepass"); p != "" {
		return p
	}
	return flagValue([]string{s.Env("REDIS_ARGS")}, "--requirepass")
}

// RedisURL is the URL accessor of the redis kind.
func RedisURL(s Service) string { return redisURL(addr(s, 6379), RedisPassword(s)) }

// RedisInternalURL is the InternalURL accessor of the redis kind, called
// with InNetwork(s): RedisURL with the user name "default" (see
// redisDefaultUserURL), so that redis-cli -u takes it.
func RedisInternalURL(s Service) string {
	return redisDefaultUserURL(addr(s, 6379), RedisPassword(s))
}

// BitnamiRedisPassword is the Password accessor of the redis-bitnami kind.
func BitnamiRedisPassword(s Service) string {
	return firstEnv(s, "", "REDIS_PASSWORD", "VALKEY_PASSWORD")
}

// BitnamiRedisURL is the URL accessor of the redis-bitnami kind.
func BitnamiRedisURL(s Service) string {
	return redisURL(addr(s, 6379), BitnamiRedisPassword(s))
}

// BitnamiRedisInternalURL is the InternalURL accessor of the redis-bitnami
// kind, as RedisInternalURL.
func BitnamiRedisInternalURL(s Service) string {
	return redisDefaultUserURL(addr(s, 6379), BitnamiRedisPassword(s))
}

// DragonflyPassword is the Password accessor of the dragonfly kind:
// --requirepass in the command, else DFLY_requirepass.
func DragonflyPassword(s Service) string {
	if p := commandFlag(s, "--requirepass"); p != "" {
		return p
	}
	return s.Env("DFLY_requirepass")
}

// DragonflyURL is the URL accessor of the dragonfly kind.
func DragonflyURL(s Service) string {
	return redisURL(addr(s, 6379), DragonflyPassword(s))
}

// DragonflyInternalURL is the InternalURL accessor of the dragonfly kind,
// as RedisInternalURL.
func DragonflyInternalURL(s Service) string {
	return redisDefaultUserURL(addr(s, 6379), DragonflyPassword(s))
}

// MemcachedAddr is the Addr accessor of the memcached kind.
func MemcachedAddr(s Service) string { return addr(s, 11211) }

func mongoURI(host, user, password, authSource string) string {
	u := url.URL{Scheme: "mongodb", Host: host, Path: "/"}
	if user != "" {
		u.User = dsn.Userinfo(user, password)
		u.RawQuery = "authSource=" + url.QueryEscape(authSource)
	}
	return u.String()
}

// MongoURI is the URI accessor of the mongo kind: the root user of
// MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD (created in the
// admin database; each may be given as a file by its _FILE variable), or no
// credentials when they are unset.
func MongoURI(s Service) string {
	return mongoURI(addr(s, 27017), envOrFile(s, "MONGO_INITDB_ROOT_USERNAME"), envOrFile(s, "MONGO_INITDB_ROOT_PASSWORD"), "admin")
}

// BitnamiMongoURI is the URI accessor of the mongo-bitnami kind.
func BitnamiMongoURI(s Service) string {
	host := addr(s, 27017)
	if p := s.Env("MONGODB_ROOT_PASSWORD"); p != "" {
		return mongoURI(host, envDefault(s, "MONGODB_ROOT_USER", "root"), p, "admin")
	}
	if u := s.Env("MONGODB_USERNAME"); u != "" {
		return mongoURI(host, u, s.Env("MONGODB_PASSWORD"), envDefault(s, "MONGODB_DATABASE", "admin"))
	}
	return mongoURI(host, "", "", "")
}

func amqpURL(host, user, password, vhost string) string {
	u := url.URL{Scheme: "amqp", User: url.UserPassword(user, password), Host: host, Path: "/" + vhost, RawPath: "/" + url.PathEscape(vhost)}
	return u.String()
}

// RabbitMQURL is the URL accessor of the rabbitmq kind.
func RabbitMQURL(s Service) string {
	return amqpURL(addr(s, 5672), envDefault(s, "RABBITMQ_DEFAULT_USER", "guest"), envDefault(s, "RABBITMQ_DEFAULT_PASS", "guest"), envDefault(s, "RABBITMQ_DEFAULT_VHOST", "/"))
}

// BitnamiRabbitMQURL is the URL accessor of the rabbitmq-bitnami kind.
func BitnamiRabbitMQURL(s Service) string {
	return amqpURL(addr(s, 5672), envDefault(s, "RABBITMQ_USERNAME", "user"), envDefault(s, "RABBITMQ_PASSWORD", "bitnami"), envDefault(s, "RABBITMQ_VHOST", "/"))
}

// RabbitMQManagementURL is the ManagementURL accessor of the rabbitmq kinds.
func RabbitMQManagementURL(s Service) string { return "http://" + addr(s, 15672) }

// NATSURL is the URL accessor of the nats kind. nats-server parses its
// command line with Go's flag package, so each option may have one dash or
// two (-user, --user); a shell's $VARIABLE is resolved from the service's
// environment.
func NATSURL(s Service) string {
	u := url.URL{Scheme: "nats", Host: addr(s, 4222)}
	if user := commandFlag(s, "--user", "-user"); user != "" {
		u.User = dsn.Userinfo(user, commandFlag(s, "--pass", "-pass"))
	} else if token := commandFlag(s, "--auth", "-auth"); token != "" {
		u.User = url.User(token)
	}
	return u.String()
}

// KafkaBrokers is the Brokers accessor of the kafka and redpanda kinds: the
// ports the broker advertises to host clients, else port 9092.
func KafkaBrokers(s Service) []string {
	if out := s.Advertised(); len(out) > 0 {
		return out
	}
	return []string{addr(s, 9092)}
}

// MinioEndpoint is the Endpoint accessor of the minio kinds.
func MinioEndpoint(s Service) string { return addr(s, 9000) }

// MinioURL is the URL accessor of the minio kinds.
func MinioURL(s Service) string { return "http://" + addr(s, 9000) }

// MinioAccessKey is the AccessKey accessor of the minio kind.
func MinioAccessKey(s Service) string {
	return firstMinioEnv(s, "minioadmin", "MINIO_ROOT_USER", "MINIO_ACCESS_KEY")
}

// MinioSecretKey is the SecretKey accessor of the minio kind.
func MinioSecretKey(s Service) string {
	return firstMinioEnv(s, "minioadmin", "MINIO_ROOT_PASSWORD", "MINIO_SECRET_KEY")
}

// firstMinioEnv is firstEnv with minioEnv's _FILE handling.
func firstMinioEnv(s Service, def string, names ...string) string {
	for _, n := range names {
		if v := minioEnv(s, n); v != "" {
			return v
		}
	}
	return def
}

// BitnamiMinioAccessKey is the AccessKey accessor of the minio-bitnami kind.
func BitnamiMinioAccessKey(s Service) string {
	return envDefault(s, "MINIO_ROOT_USER", "minio")
}

// BitnamiMinioSecretKey is the SecretKey accessor of the minio-bitnami kind.
func BitnamiMinioSecretKey(s Service) string {
	return envDefault(s, "MINIO_ROOT_PASSWORD", "miniosecret")
}

func isTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "1":
		return true
	}
	return false
}

// ElasticsearchURL is the URL accessor of the elasticsearch kind. Security is
// taken as disabled unless xpack.security.enabled is true (Elasticsearch 8
// enables it by default: set xpack.security.enabled=false, or set it to true
// with ELASTIC_PASSWORD, for a usable URL).
func ElasticsearchURL(s Service) string {
	u := url.URL{Scheme: "http", Host: addr(s, 9200)}
	if isTrue(s.Env("xpack.security.enabled")) {
		if p := s.Env("ELASTIC_PASSWORD"); p != "" {
			u.User = url.UserPassword("elastic", p)
		}
		if isTrue(s.Env("xpack.security.http.ssl.enabled")) {
			u.Scheme = "https"
		}
	}
	return u.String()
}

// OpenSearchURL is the URL accessor of the opensearch kind.
func OpenSearchURL(s Service) string {
	u := url.URL{Scheme: "http", Host: addr(s, 9200)}
	if isTrue(s.Env("DISABLE_SECURITY_PLUGIN")) || isTrue(s.Env("plugins.security.disabled")) {
		return u.String()
	}
	u.Scheme = "https"
	u.User = url.UserPassword("admin", envDefault(s, "OPENSEARCH_INITIAL_ADMIN_PASSWORD", "admin"))
	return u.String()
}

// LocalStackEndpoint is the Endpoint accessor of the localstack kind.
func LocalStackEndpoint(s Service) string { return "http://" + addr(s, 4566) }

// MailSMTPAddr is the SMTPAddr accessor of the mailpit and mailhog kinds.
func MailSMTPAddr(s Service) string { return addr(s, 1025) }

// MailWebURL is the WebURL accessor of the mailpit and mailhog kinds.
func MailWebURL(s Service) string { return "http://" + addr(s, 8025) }

// CassandraHosts is the Hosts accessor of the cassandra kind.
func CassandraHosts(s Service) []string { return []string{addr(s, 9042)} }

// EtcdEndpoints is the Endpoints accessor of the etcd kinds.
func EtcdEndpoints(s Service) []string { return []string{addr(s, 2379)} }

// BitnamiEtcdUser is the User accessor of the etcd-bitnami kind: "root"
// when ETCD_ROOT_PASSWORD is set (the image then creates the user root and
// enables authentication), else "".
func BitnamiEtcdUser(s Service) string {
	if BitnamiEtcdPassword(s) == "" {
		return ""
	}
	return "root"
}

// BitnamiEtcdPassword is the Password accessor of the etcd-bitnami kind:
// ETCD_ROOT_PASSWORD, else the content of the file named by
// ETCD_ROOT_PASSWORD_FILE.
func BitnamiEtcdPassword(s Service) string { return envOrFile(s, "ETCD_ROOT_PASSWORD") }

// ConsulAddr is the Addr accessor of the consul kind.
func ConsulAddr(s Service) string { return addr(s, 8500) }

// ConsulURL is the URL accessor of the consul kind.
func ConsulURL(s Service) string { return "http://" + addr(s, 8500) }

// VaultAddr is the Addr accessor of the vault kind.
func VaultAddr(s Service) string { return addr(s, 8200) }

// VaultURL is the URL accessor of the vault kind.
func VaultURL(s Service) string { return "http://" + addr(s, 8200) }

// VaultToken is the Token accessor of the vault kind.
func VaultToken(s Service) string { return s.Env("VAULT_DEV_ROOT_TOKEN_ID") }

// HTTPServerURL is the URL accessor of the web server kinds (nginx, httpd,
// caddy, traefik): container port 80.
func HTTPServerURL(s Service) string { return HTTPURL(s, 80) }

// HTTPURL returns http://host:port of the service's container port (tcp). The
// generator uses it for services whose healthcheck fetches an HTTP URL (see
// IsHTTPHealthcheck).
func HTTPURL(s Service, port int) string { return "http://" + addr(s, port) }
