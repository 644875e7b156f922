package templates

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// inNetworkFuncs are the accessor funcs of the catalog's in-network
// accessors, by name; TestInternalCatalog checks that it has them all.
// hostFuncs are the host accessors of those whose func is their own.
var hostFuncs = map[string]accessor{
	"RedisInternalURL": RedisURL, "BitnamiRedisInternalURL": BitnamiRedisURL, "DragonflyInternalURL": DragonflyURL,
}

var inNetworkFuncs = map[string]accessor{
	"PostgresDSN": PostgresDSN, "BitnamiPostgresDSN": BitnamiPostgresDSN,
	"MySQLDSN": MySQLDSN, "MySQLURL": MySQLURL, "MariaDBDSN": MariaDBDSN, "MariaDBURL": MariaDBURL,
	"BitnamiMySQLDSN": BitnamiMySQLDSN, "BitnamiMySQLURL": BitnamiMySQLURL,
	"BitnamiMariaDBDSN": BitnamiMariaDBDSN, "BitnamiMariaDBURL": BitnamiMariaDBURL,
	"RedisInternalURL": RedisInternalURL, "BitnamiRedisInternalURL": BitnamiRedisInternalURL, "DragonflyInternalURL": DragonflyInternalURL,
	"MongoURI": MongoURI, "BitnamiMongoURI": BitnamiMongoURI,
	"RabbitMQURL": RabbitMQURL, "BitnamiRabbitMQURL": BitnamiRabbitMQURL,
	"NATSURL": NATSURL, "MinioURL": MinioURL, "ElasticsearchURL": ElasticsearchURL,
	"OpenSearchURL": OpenSearchURL, "ClickHouseDSN": ClickHouseDSN, "ConsulURL": ConsulURL,
	"VaultURL": VaultURL, "HTTPServerURL": HTTPServerURL,
}

// Every DSN, URL and URI accessor has its in-network twin, with the same
// func and ports, and nothing else has one.
func TestInternalCatalog(t *testing.T) {
	for _, k := range catalog {
		byName := map[string]Accessor{}
		for _, a := range k.Accessors {
			byName[a.Name] = a
		}
		for _, a := range k.Accessors {
			switch {
			case a.InNetwork:
				of, ok := byName[strings.TrimPrefix(a.Name, "Internal")]
				sameFunc := of.Func == a.Func || strings.Contains(a.Func, "Internal") && hostFuncs[a.Func] != nil
				if !ok || !strings.HasPrefix(a.Name, "Internal") || !sameFunc || fmt.Sprint(of.Ports) != fmt.Sprint(a.Ports) || of.PerTest || a.Result != "string" {
					t.Errorf("kind %s: %s is not the twin of an accessor of the same func and ports", k.Name, a.Name)
				}
				if _, ok := inNetworkFuncs[a.Func]; !ok {
					t.Errorf("kind %s: %s: add %s to inNetworkFuncs", k.Name, a.Name, a.Func)
				}
				if a.Example != "" && strings.Count(a.Example, "%s") != 1 {
					t.Errorf("kind %s: %s: example %q needs one %%s", k.Name, a.Name, a.Example)
				}
			case a.Name == "DSN" || a.Name == "URL" || a.Name == "URI":
				if tw, ok := byName["Internal"+a.Name]; !ok || !tw.InNetwork {
					t.Errorf("kind %s: %s has no in-network twin Internal%s", k.Name, a.Name, a.Name)
				}
			case a.Example != "":
				t.Errorf("kind %s: %s has an example but is not in-network", k.Name, a.Name)
			}
		}
	}
}

// The in-network accessors return the host accessors' strings, in the same
// format, with the service name and the container port as the address.
func TestInternalAccessors(t *testing.T) {
	pass := map[string]string{"POSTGRES_USER": "app", "POSTGRES_PASSWORD": "secret", "POSTGRES_DB": "app"}
	for _, tt := range []struct {
		name, fn string
		env      map[string]string
		cmd      []string
		want     string
	}{
		{"postgres", "PostgresDSN", pass, nil, "postgres://app:secret@db:5432/app?sslmode=disable"},
		{"postgres escaping", "PostgresDSN", map[string]string{"POSTGRES_USER": "us@er", "POSTGRES_PASSWORD": "p@ss:w/rd", "POSTGRES_DB": "my db"}, nil, "postgres://us%40er:p%40ss%3Aw%2Frd@db:5432/my%20db?sslmode=disable"},
		{"postgres-bitnami", "BitnamiPostgresDSN", map[string]string{"POSTGRESQL_USERNAME": "app", "POSTGRESQL_PASSWORD": "pw"}, nil, "postgres://app:pw@db:5432/postgres?sslmode=disable"},
		{"mysql dsn", "MySQLDSN", map[string]string{"MYSQL_USER": "app", "MYSQL_PASSWORD": "pw", "MYSQL_DATABASE": "shop"}, nil, "app:pw@tcp(db:3306)/shop"},
		{"mysql url", "MySQLURL", map[string]string{"MYSQL_ROOT_PASSWORD": "r"}, nil, "mysql://root:r@db:3306/"},
		{"mariadb dsn", "MariaDBDSN", map[string]string{"MARIADB_ROOT_PASSWORD": "r", "MARIADB_DATABASE": "d"}, nil, "root:r@tcp(db:3306)/d"},
		{"mariadb url", "MariaDBURL", map[string]string{"MARIADB_USER": "u", "MARIADB_PASSWORD": "p", "MARIADB_DATABASE": "d"}, nil, "mysql://u:p@db:3306/d"},
		{"mysql-bitnami", "BitnamiMySQLDSN", map[string]string{"MYSQL_ROOT_PASSWORD": "r"}, nil, "root:r@tcp(db:3306)/"},
		{"mariadb-bitnami", "BitnamiMariaDBURL", map[string]string{"MARIADB_USER": "u", "MARIADB_PASSWORD": "p"}, nil, "mysql://u:p@db:3306/"},
		// redis-cli -u needs the user name default before a password.
		{"redis", "RedisInternalURL", nil, nil, "redis://db:6379/0"},
		{"redis password", "RedisInternalURL", nil, []string{"redis-server", "--requirepass", "s3cret"}, "redis://default:s3cret@db:6379/0"},
		{"redis escaping", "RedisInternalURL", map[string]string{"REDIS_ARGS": "--requirepass p@ss:w/rd"}, nil, "redis://default:p%40ss%3Aw%2Frd@db:6379/0"},
		{"redis-bitnami", "BitnamiRedisInternalURL", map[string]string{"REDIS_PASSWORD": "pw"}, nil, "redis://default:pw@db:6379/0"},
		{"dragonfly", "DragonflyInternalURL", nil, []string{"--requirepass=pw"}, "redis://default:pw@db:6379/0"},
		{"mongo", "MongoURI", map[string]string{"MONGO_INITDB_ROOT_USERNAME": "root", "MONGO_INITDB_ROOT_PASSWORD": "example"}, nil, "mongodb://root:example@db:27017/?authSource=admin"},
		{"mongo-bitnami", "BitnamiMongoURI", map[string]string{"MONGODB_USERNAME": "app", "MONGODB_PASSWORD": "pw", "MONGODB_DATABASE": "shop"}, nil, "mongodb://app:pw@db:27017/?authSource=shop"},
		{"rabbitmq", "RabbitMQURL", nil, nil, "amqp://guest:guest@db:5672/%2F"},
		{"rabbitmq vhost", "RabbitMQURL", map[string]string{"RABBITMQ_DEFAULT_USER": "app", "RABBITMQ_DEFAULT_PASS": "p@ss", "RABBITMQ_DEFAULT_VHOST": "shop/v1"}, nil, "amqp://app:p%40ss@db:5672/shop%2Fv1"},
		{"rabbitmq-bitnami", "BitnamiRabbitMQURL", nil, nil, "amqp://user:bitnami@db:5672/%2F"},
		{"nats", "NATSURL", nil, []string{"--user", "app", "--pass", "pw"}, "nats://app:pw@db:4222"},
		{"minio", "MinioURL", nil, nil, "http://db:9000"},
		{"elasticsearch", "ElasticsearchURL", map[string]string{"xpack.security.enabled": "true", "ELASTIC_PASSWORD": "pw"}, nil, "http://elastic:pw@db:9200"},
		{"opensearch", "OpenSearchURL", nil, nil, "https://admin:admin@db:9200"},
		{"clickhouse", "ClickHouseDSN", map[string]string{"CLICKHOUSE_USER": "app", "CLICKHOUSE_PASSWORD": "pw", "CLICKHOUSE_DB": "shop"}, nil, "clickhouse://app:pw@db:9000/shop"},
		{"consul", "ConsulURL", nil, nil, "http://db:8500"},
		{"vault", "VaultURL", nil, nil, "http://db:8200"},
		{"http server", "HTTPServerURL", nil, nil, "http://db:80"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := inNetworkFuncs[tt.fn]
			s := newService(tt.env, tt.cmd...)
			got := f(InNetwork(s))
			if got != tt.want {
				t.Errorf("%s(InNetwork(s)) = %q, want %q", tt.fn, got, tt.want)
			}
			// The same string as the host accessor's, but for the address
			// (and the redis kinds' user name).
			host := f(s)
			if hf := hostFuncs[tt.fn]; hf != nil {
				host = strings.Replace(hf(s), "redis://:", "redis://default:", 1)
			}
			for _, k := range catalog {
				for _, p := range k.Ports {
					host = strings.Replace(host, fmt.Sprintf("127.0.0.1:%d", hostPort(p)), fmt.Sprintf("db:%d", p), 1)
				}
			}
			if host != got {
				t.Errorf("host form with the address replaced = %q, in-network form = %q", host, got)
			}
		})
	}
	// Service names with hyphens and underscores are the host as they are.
	s := newService(pass)
	s.name = "order-db_1"
	if got := PostgresDSN(InNetwork(s)); got != "postgres://app:secret@order-db_1:5432/app?sslmode=disable" {
		t.Errorf("DSN = %q", got)
	}
	if u, err := url.Parse(RedisInternalURL(InNetwork(s))); err != nil || u.Host != "order-db_1:6379" {
		t.Errorf("redis URL %v, %v", u, err)
	}
	// InNetwork advertises nothing: a broker's advertised host ports are not
	// for the stack's containers.
	s.advertised = []string{"127.0.0.1:40001"}
	if got := InNetwork(s).Advertised(); got != nil {
		t.Errorf("Advertised = %q", got)
	}
}
