package templates

import "github.com/composegen/composegen/runtime/composeplan"

// str and strs build accessors returning string and []string.
func str(name, fn, doc string, ports ...int) Accessor {
	return Accessor{Name: name, Doc: doc, Func: fn, Result: "string", Ports: ports}
}

// perTest is a per-test isolation accessor (FreshDSN, FreshURL).
func perTest(name, fn, doc string, port int) Accessor {
	return Accessor{Name: name, Doc: doc, Func: fn, Result: "string", Ports: []int{port}, PerTest: true}
}

// internal is the in-network twin (see Accessor.InNetwork) of the accessor
// name of func fn: "Internal"+name, with an Exec example (see
// Accessor.Example).
func internal(name, fn, example string, ports ...int) Accessor {
	return Accessor{Name: "Internal" + name, Func: fn, Result: "string", Ports: ports, InNetwork: true, Example: example,
		Doc: "returns what " + name + " returns, in the same format, with the address that the other containers of the stack use (the service name and the container port) in place of the published host address."}
}

// redisInternal is the InternalURL of the redis kinds: URL's string, but
// with the user name "default" before a password (redis://default:pw@...),
// which redis-cli -u needs (it sends the empty user name of
// redis://:pw@... as one, which the server rejects); Redis 6 and later take
// it as the requirepass user.
func redisInternal(fn, example string) Accessor {
	a := internal("URL", fn, example, 6379)
	a.Doc = "returns what URL returns, with the address that the other containers of the stack use (the service name and the container port) in place of the published host address, and the user name \"default\" before a password (redis://default:password@host:port/0), which redis-cli -u needs (Redis 6 and later)."
	return a
}

// Exec examples of the in-network accessors (Accessor.Example).
const (
	exPsql     = `"psql", %s, "-c", "select 1"`
	exRedisCLI = `"redis-cli", "-u", %s, "ping"`
	exMongosh  = `"mongosh", %s, "--eval", "db.runCommand({ping: 1})"`
	exWget     = `"wget", "-qO-", %s`
	exCurl     = `"curl", "-fsS", %s`
	exConsul   = `"consul", "members", "-http-addr", %s`
	exVault    = `"vault", "status", "-address", %s`
)

func strs(name, fn, doc string, ports ...int) Accessor {
	return Accessor{Name: name, Doc: doc, Func: fn, Result: "[]string", Ports: ports}
}

// Servers.
const flags = 1

// srv is the Server of an official image: its docker-entrypoint.sh runs the
// command, or the server with the command as arguments when the command is
// flags and f is flags.
func srv(f int, commands []string) *Server {
	return &Server{Commands: commands, Entrypoints: []string{"docker-entrypoint.sh", "entrypoint.sh"}, Flags: f == flags}
}

// bitnami is the Server of a Bitnami image: its entrypoint.sh sets up and
// runs its run.sh, which runs the server.
func bitnami(commands ...string) *Server {
	return &Server{Commands: append([]string{"run.sh"}, commands...), Entrypoints: []string{"entrypoint.sh"}}
}

// withClients sets the kind's client programs, which its images ship and
// compose files run as one-shots (a psql migration, a redis-cli seed).
func withClients(s *Server, clients ...string) *Server {
	s.Clients = clients
	return s
}

// The client programs of kinds with official and Bitnami images.
var (
	pgClients     = []string{"psql", "pg_dump", "pg_dumpall", "pg_restore", "pg_isready", "pg_basebackup", "createdb", "dropdb", "createuser", "dropuser", "vacuumdb"}
	mysqlClients  = []string{"mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlcheck", "mysqlshow", "mariadb", "mariadb-dump", "mariadb-admin", "mariadb-import", "mariadb-check", "mariadb-show"}
	mongoClients  = []string{"mongosh", "mongo", "mongodump", "mongorestore", "mongoimport", "mongoexport"}
	rabbitClients = []string{"rabbitmqctl", "rabbitmqadmin", "rabbitmq-plugins", "rabbitmq-diagnostics", "rabbitmq-queues"}
	redisClients  = []string{"redis-cli", "valkey-cli", "keydb-cli", "redis-benchmark", "valkey-benchmark"}
)

// always is the Server of an image whose entrypoint runs the server
// whatever the command.
var always = &Server{Always: true}

func probe(protocol string, port int, path string) *composeplan.ProbeSpec {
	return &composeplan.ProbeSpec{Protocol: protocol, Port: port, Path: path}
}

// Accessor docs shared by variants of a family.
const (
	docPostgresDSN   = "returns the libpq connection URL postgres://user:password@host:port/db?sslmode=disable, for pgx, lib/pq and database/sql; user, password and database are escaped."
	docMySQLDSN      = "returns the go-sql-driver/mysql DSN user:password@tcp(host:port)/db; append ?parseTime=true or other parameters as needed."
	docMySQLURL      = "returns the URL mysql://user:password@host:port/db with user and password escaped, for tools that take URLs (migrate, atlas)."
	docUser          = "returns the user the accessors connect as, derived from the service's environment as the image does."
	docPassword      = "returns the password of User, derived from the service's environment as the image does (\"\" when none)."
	docDatabase      = "returns the database created by the image, derived from the service's environment."
	docRedisAddr     = "returns host:port of the server, for go-redis's Options.Addr."
	docPostgresFresh = "returns a DSN like DSN's to a new database for test t: a copy (CREATE DATABASE … TEMPLATE) of the service's database as its init scripts and the stack's one-shot services (migrations, seeds) left it, dropped when t ends. Use it on a stack from Shared (or Start) instead of a stack per test: each test sees only its own rows. Safe for parallel tests of many packages."
	docMySQLFresh    = "returns a DSN like DSN's to a new database for test t, with the tables and rows of the service's database as its init scripts and the stack's one-shot services (migrations, seeds) left it, dropped when t ends. Use it on a stack from Shared (or Start) instead of a stack per test. Safe for parallel tests of many packages."
	docRedisFresh    = "returns redis://[:password@]host:port/N, a logical database leased to test t across every test binary sharing the stack, flushed when leased and when t ends; when all are leased it waits (up to t's deadline) rather than share one."
	docRedisURL      = "returns redis://[:password@]host:port/0, for redis.ParseURL."
	docRedisPass     = "returns the server's password (\"\" when none)."
	docAMQPURL       = "returns the AMQP URL amqp://user:password@host:port/vhost with the image's credentials (vhost \"/\" is %2F)."
	docMgmtURL       = "returns http://host:port of the management UI and HTTP API (container port 15672)."
	docBrokers       = "returns the bootstrap addresses (host:port) for a client on the host: the broker's listener advertised as localhost:<published port> (its host port is picked at start and the advertised address rewritten to it), else the published port 9092."
	docMinioEP       = "returns host:port of the S3 API, for minio-go's New."
	docMinioURL      = "returns http://host:port of the S3 API, for AWS SDK endpoints."
	docMinioAK       = "returns the access key (root user) derived from the service's environment as the image does."
	docMinioSK       = "returns the secret key (root password) derived from the service's environment as the image does."
	docFileEnv       = " Each variable may instead be given as a file by its _FILE variable (X_FILE=/run/secrets/x): the runtime reads the file from the container when the stack starts (a file it cannot read fails the start), and trailing newlines are trimmed as the entrypoint does."
	docSearchURL     = "returns the base URL of the REST API on container port 9200, with credentials when the service's environment enables security."
	docHTTPURL       = "returns http://host:port of container port 80."
	docEtcdEndpoints = "returns the host addresses (host:port) of the client port 2379, for clientv3.Config.Endpoints."
	docHostAddrs     = "returns the host addresses (host:port) of the published CQL port 9042, for gocql.NewCluster."
)

var catalog = []Kind{
	{
		Name:    "postgres",
		Images:  []string{"postgres", "postgis/postgis", "timescale/timescaledb", "timescale/timescaledb-ha", "pgvector/pgvector", "supabase/postgres"},
		Server:  withClients(srv(flags, []string{"postgres"}), pgClients...),
		Ports:   []int{5432},
		Probe:   probe("postgres", 5432, ""),
		FileEnv: []string{"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"},
		Accessors: []Accessor{
			str("DSN", "PostgresDSN", docPostgresDSN, 5432),
			internal("DSN", "PostgresDSN", exPsql, 5432),
			perTest("FreshDSN", "PostgresFreshDSN", docPostgresFresh, 5432),
			str("User", "PostgresUser", "returns POSTGRES_USER (or the content of POSTGRES_USER_FILE), default \"postgres\"."),
			str("Password", "PostgresPassword", "returns POSTGRES_PASSWORD, else the content of the file named by POSTGRES_PASSWORD_FILE, read from the running container with trailing newlines trimmed as the entrypoint does (\"\" when it cannot be read)."),
			str("Database", "PostgresDatabase", "returns POSTGRES_DB (or the content of POSTGRES_DB_FILE), default the user's name."),
		},
	},
	{
		Name:   "postgres-bitnami",
		Images: []string{"bitnami/postgresql"},
		Server: withClients(bitnami("postgres", "postgresql"), pgClients...),
		Ports:  []int{5432},
		Probe:  probe("postgres", 5432, ""),
		Accessors: []Accessor{
			str("DSN", "BitnamiPostgresDSN", docPostgresDSN, 5432),
			internal("DSN", "BitnamiPostgresDSN", exPsql, 5432),
			perTest("FreshDSN", "BitnamiPostgresFreshDSN", docPostgresFresh, 5432),
			str("User", "BitnamiPostgresUser", "returns POSTGRESQL_USERNAME (or POSTGRES_USER), default \"postgres\"."),
			str("Password", "BitnamiPostgresPassword", "returns POSTGRESQL_PASSWORD (or POSTGRES_PASSWORD)."),
			str("Database", "BitnamiPostgresDatabase", "returns POSTGRESQL_DATABASE (or POSTGRES_DB), default \"postgres\"."),
		},
	},
	{
		Name:    "mysql",
		Images:  []string{"mysql", "mysql/mysql-server", "percona", "percona/percona-server"},
		Server:  withClients(srv(flags, []string{"mysqld", "mysqld_safe"}), mysqlClients...),
		Ports:   []int{3306},
		Probe:   probe("mysql", 3306, ""),
		FileEnv: []string{"MYSQL_ROOT_PASSWORD", "MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_DATABASE"},
		Accessors: []Accessor{
			str("DSN", "MySQLDSN", docMySQLDSN, 3306),
			internal("DSN", "MySQLDSN", "", 3306),
			perTest("FreshDSN", "MySQLFreshDSN", docMySQLFresh, 3306),
			str("URL", "MySQLURL", docMySQLURL, 3306),
			internal("URL", "MySQLURL", "", 3306),
			str("User", "MySQLUser", "returns MYSQL_USER when MYSQL_USER and MYSQL_PASSWORD are set (the image creates that user), else \"root\"."),
			str("Password", "MySQLPassword", "returns MYSQL_PASSWORD for MYSQL_USER, else MYSQL_ROOT_PASSWORD (\"\" with MYSQL_ALLOW_EMPTY_PASSWORD; unknown with MYSQL_RANDOM_ROOT_PASSWORD)."+docFileEnv),
			str("Database", "MySQLDatabase", "returns MYSQL_DATABASE (\"\" when none)."),
		},
	},
	{
		Name:    "mariadb",
		Images:  []string{"mariadb"},
		Server:  withClients(srv(flags, []string{"mariadbd", "mysqld", "mariadbd-safe", "mysqld_safe"}), mysqlClients...),
		Ports:   []int{3306},
		Probe:   probe("mysql", 3306, ""),
		FileEnv: []string{"MARIADB_ROOT_PASSWORD", "MARIADB_USER", "MARIADB_PASSWORD", "MARIADB_DATABASE", "MYSQL_ROOT_PASSWORD", "MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_DATABASE"},
		Accessors: []Accessor{
			str("DSN", "MariaDBDSN", docMySQLDSN, 3306),
			internal("DSN", "MariaDBDSN", "", 3306),
			perTest("FreshDSN", "MariaDBFreshDSN", docMySQLFresh, 3306),
			str("URL", "MariaDBURL", docMySQLURL, 3306),
			internal("URL", "MariaDBURL", "", 3306),
			str("User", "MariaDBUser", "returns MARIADB_USER (or MYSQL_USER) when a password is set for it, else \"root\"."),
			str("Password", "MariaDBPassword", "returns MARIADB_PASSWORD for MARIADB_USER, else MARIADB_ROOT_PASSWORD (each falling back to its MYSQL_ name; \"\" with MARIADB_ALLOW_EMPTY_ROOT_PASSWORD)."+docFileEnv),
			str("Database", "MariaDBDatabase", "returns MARIADB_DATABASE (or MYSQL_DATABASE), \"\" when none."),
		},
	},
	{
		Name:   "mysql-bitnami",
		Images: []string{"bitnami/mysql"},
		Server: withClients(bitnami("mysqld", "mysqld_safe"), mysqlClients...),
		Ports:  []int{3306},
		Probe:  probe("mysql", 3306, ""),
		Accessors: []Accessor{
			str("DSN", "BitnamiMySQLDSN", docMySQLDSN, 3306),
			internal("DSN", "BitnamiMySQLDSN", "", 3306),
			perTest("FreshDSN", "BitnamiMySQLFreshDSN", docMySQLFresh, 3306),
			str("URL", "BitnamiMySQLURL", docMySQLURL, 3306),
			internal("URL", "BitnamiMySQLURL", "", 3306),
			str("User", "BitnamiMySQLUser", "returns MYSQL_USER, else MYSQL_ROOT_USER (default \"root\")."),
			str("Password", "BitnamiMySQLPassword", "returns MYSQL_PASSWORD for MYSQL_USER, else MYSQL_ROOT_PASSWORD."),
			str("Database", "BitnamiMySQLDatabase", "returns MYSQL_DATABASE (\"\" when none)."),
		},
	},
	{
		Name:   "mariadb-bitnami",
		Images: []string{"bitnami/mariadb"},
		Server: withClients(bitnami("mariadbd", "mysqld", "mysqld_safe"), mysqlClients...),
		Ports:  []int{3306},
		Probe:  probe("mysql", 3306, ""),
		Accessors: []Accessor{
			str("DSN", "BitnamiMariaDBDSN", docMySQLDSN, 3306),
			internal("DSN", "BitnamiMariaDBDSN", "", 3306),
			perTest("FreshDSN", "BitnamiMariaDBFreshDSN", docMySQLFresh, 3306),
			str("URL", "BitnamiMariaDBURL", docMySQLURL, 3306),
			internal("URL", "BitnamiMariaDBURL", "", 3306),
			str("User", "BitnamiMariaDBUser", "returns MARIADB_USER, else MARIADB_ROOT_USER (default \"root\")."),
			str("Password", "BitnamiMariaDBPassword", "returns MARIADB_PASSWORD for MARIADB_USER, else MARIADB_ROOT_PASSWORD."),
			str("Database", "BitnamiMariaDBDatabase", "returns MARIADB_DATABASE (\"\" when none)."),
		},
	},
	{
		Name:   "redis",
		Images: []string{"redis", "valkey/valkey", "eqalpha/keydb", "redislabs/redismod", "redis/redis-stack", "redis/redis-stack-server"},
		Server: withClients(srv(flags, []string{"redis-server", "valkey-server", "keydb-server", "redis-stack-server"}), redisClients...),
		Ports:  []int{6379},
		Probe:  probe("redis", 6379, ""),
		Accessors: []Accessor{
			str("Addr", "RedisAddr", docRedisAddr, 6379),
			str("URL", "RedisURL", docRedisURL, 6379),
			redisInternal("RedisInternalURL", exRedisCLI),
			perTest("FreshURL", "RedisFreshURL", docRedisFresh, 6379),
			str("Password", "RedisPassword", "returns the password set with --requirepass in the service's command (or REDIS_ARGS for redis-stack), \"\" when none."),
		},
	},
	{
		Name:   "redis-bitnami",
		Images: []string{"bitnami/redis", "bitnami/valkey"},
		Server: withClients(bitnami("redis-server", "valkey-server"), redisClients...),
		Ports:  []int{6379},
		Probe:  probe("redis", 6379, ""),
		Accessors: []Accessor{
			str("Addr", "RedisAddr", docRedisAddr, 6379),
			str("URL", "BitnamiRedisURL", docRedisURL, 6379),
			redisInternal("BitnamiRedisInternalURL", exRedisCLI),
			perTest("FreshURL", "BitnamiRedisFreshURL", docRedisFresh, 6379),
			str("Password", "BitnamiRedisPassword", "returns REDIS_PASSWORD (VALKEY_PASSWORD for valkey), \"\" when none."),
		},
	},
	{
		Name:   "dragonfly",
		Images: []string{"dragonflydb/dragonfly"},
		Server: srv(flags, []string{"dragonfly"}),
		Ports:  []int{6379},
		Probe:  probe("redis", 6379, ""),
		Accessors: []Accessor{
			str("Addr", "RedisAddr", docRedisAddr, 6379),
			str("URL", "DragonflyURL", docRedisURL, 6379),
			redisInternal("DragonflyInternalURL", ""),
			perTest("FreshURL", "DragonflyFreshURL", docRedisFresh, 6379),
			str("Password", "DragonflyPassword", "returns the password set with --requirepass in the service's command or DFLY_requirepass, \"\" when none."),
		},
	},
	{
		Name:   "memcached",
		Images: []string{"memcached", "bitnami/memcached"},
		Server: srv(flags, []string{"memcached"}),
		Ports:  []int{11211},
		Probe:  probe("memcached", 11211, ""),
		Accessors: []Accessor{
			str("Addr", "MemcachedAddr", "returns host:port of the server, for gomemcache's memcache.New.", 11211),
		},
	},
	{
		Name:    "mongo",
		Images:  []string{"mongo", "mongodb/mongodb-community-server", "mongodb/mongodb-enterprise-server"},
		Server:  withClients(srv(flags, []string{"mongod", "mongos"}), mongoClients...),
		Ports:   []int{27017},
		Probe:   probe("tcp", 27017, ""),
		FileEnv: []string{"MONGO_INITDB_ROOT_USERNAME", "MONGO_INITDB_ROOT_PASSWORD"},
		Accessors: []Accessor{
			str("URI", "MongoURI", "returns mongodb://[user:password@]host:port/[?authSource=admin] with the root user of MONGO_INITDB_ROOT_USERNAME and MONGO_INITDB_ROOT_PASSWORD, for mongo-driver's ApplyURI."+docFileEnv, 27017),
			internal("URI", "MongoURI", exMongosh, 27017),
		},
	},
	{
		Name:   "mongo-bitnami",
		Images: []string{"bitnami/mongodb"},
		Server: withClients(bitnami("mongod"), mongoClients...),
		Ports:  []int{27017},
		Probe:  probe("tcp", 27017, ""),
		Accessors: []Accessor{
			str("URI", "BitnamiMongoURI", "returns mongodb://[user:password@]host:port/[?authSource=...] with MONGODB_ROOT_USER (default \"root\") and MONGODB_ROOT_PASSWORD, else MONGODB_USERNAME, MONGODB_PASSWORD and MONGODB_DATABASE.", 27017),
			internal("URI", "BitnamiMongoURI", exMongosh, 27017),
		},
	},
	{
		Name:   "rabbitmq",
		Images: []string{"rabbitmq"},
		Server: withClients(srv(flags, []string{"rabbitmq-server"}), rabbitClients...),
		Ports:  []int{5672},
		Probe:  probe("amqp", 5672, ""),
		Accessors: []Accessor{
			str("URL", "RabbitMQURL", docAMQPURL+" Defaults: RABBITMQ_DEFAULT_USER guest, RABBITMQ_DEFAULT_PASS guest, RABBITMQ_DEFAULT_VHOST /.", 5672),
			internal("URL", "RabbitMQURL", "", 5672),
			str("ManagementURL", "RabbitMQManagementURL", docMgmtURL, 15672),
		},
	},
	{
		Name:   "rabbitmq-bitnami",
		Images: []string{"bitnami/rabbitmq"},
		Server: withClients(bitnami("rabbitmq-server"), rabbitClients...),
		Ports:  []int{5672},
		Probe:  probe("amqp", 5672, ""),
		Accessors: []Accessor{
			str("URL", "BitnamiRabbitMQURL", docAMQPURL+" Defaults: RABBITMQ_USERNAME user, RABBITMQ_PASSWORD bitnami, RABBITMQ_VHOST /.", 5672),
			internal("URL", "BitnamiRabbitMQURL", "", 5672),
			str("ManagementURL", "RabbitMQManagementURL", docMgmtURL, 15672),
		},
	},
	{
		Name:   "nats",
		Images: []string{"nats", "bitnami/nats"},
		Server: always,
		Ports:  []int{4222},
		Probe:  probe("tcp", 4222, ""),
		Accessors: []Accessor{
			str("URL", "NATSURL", "returns nats://[user:password@]host:port, with the credentials of --user/--pass or --auth in the service's command, for nats.Connect.", 4222),
			internal("URL", "NATSURL", "", 4222),
		},
	},
	{
		Name:       "kafka",
		Images:     []string{"apache/kafka", "apache/kafka-native", "bitnami/kafka", "confluentinc/cp-kafka", "confluentinc/confluent-local"},
		Server:     withClients(srv(0, []string{"run", "run.sh", "kafka-server-start.sh", "kafka-server-start", "kafka-server", "launch", "configure"}), "kafka-topics.sh", "kafka-topics", "kafka-console-producer.sh", "kafka-console-producer", "kafka-console-consumer.sh", "kafka-console-consumer", "kafka-configs.sh", "kafka-configs", "kafka-consumer-groups.sh", "kafka-consumer-groups", "kafka-acls.sh", "kafka-acls"),
		Ports:      []int{9092},
		Probe:      probe("tcp", 9092, ""),
		Advertises: []string{"KAFKA_ADVERTISED_LISTENERS", "KAFKA_CFG_ADVERTISED_LISTENERS", "command"},
		Accessors: []Accessor{
			strs("Brokers", "KafkaBrokers", docBrokers, 9092),
		},
	},
	{
		Name:       "redpanda",
		Images:     []string{"redpandadata/redpanda", "vectorized/redpanda"},
		Server:     &Server{Commands: []string{"redpanda"}, Entrypoints: []string{"entrypoint.sh"}, Wrappers: []string{"rpk"}},
		Ports:      []int{9092},
		Probe:      probe("tcp", 9092, ""),
		Advertises: []string{"command"},
		Accessors: []Accessor{
			strs("Brokers", "KafkaBrokers", docBrokers, 9092),
		},
	},
	{
		Name:    "minio",
		Images:  []string{"minio/minio"},
		Server:  always,
		Ports:   []int{9000},
		Probe:   probe("http", 9000, "/minio/health/live"),
		FileEnv: []string{"MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "MINIO_ACCESS_KEY", "MINIO_SECRET_KEY"},
		Accessors: []Accessor{
			str("Endpoint", "MinioEndpoint", docMinioEP, 9000),
			str("URL", "MinioURL", docMinioURL, 9000),
			internal("URL", "MinioURL", "", 9000),
			str("AccessKey", "MinioAccessKey", docMinioAK+" MINIO_ROOT_USER (or the legacy MINIO_ACCESS_KEY), default \"minioadmin\". MINIO_ROOT_USER_FILE (a path, or a secret's name under /run/secrets) wins when set: the file is read from the running container, white space trimmed as MinIO does."),
			str("SecretKey", "MinioSecretKey", docMinioSK+" MINIO_ROOT_PASSWORD (or the legacy MINIO_SECRET_KEY), default \"minioadmin\". MINIO_ROOT_PASSWORD_FILE (a path, or a secret's name under /run/secrets) wins when set: the file is read from the running container, white space trimmed as MinIO does."),
		},
	},
	{
		Name:   "minio-bitnami",
		Images: []string{"bitnami/minio"},
		Server: bitnami("minio"),
		Ports:  []int{9000},
		Probe:  probe("http", 9000, "/minio/health/live"),
		Accessors: []Accessor{
			str("Endpoint", "MinioEndpoint", docMinioEP, 9000),
			str("URL", "MinioURL", docMinioURL, 9000),
			internal("URL", "MinioURL", "", 9000),
			str("AccessKey", "BitnamiMinioAccessKey", docMinioAK+" MINIO_ROOT_USER, default \"minio\"."),
			str("SecretKey", "BitnamiMinioSecretKey", docMinioSK+" MINIO_ROOT_PASSWORD, default \"miniosecret\"."),
		},
	},
	{
		Name:   "elasticsearch",
		Images: []string{"elasticsearch", "elasticsearch/elasticsearch", "bitnami/elasticsearch"},
		Server: &Server{Commands: []string{"eswrapper", "elasticsearch", "run.sh"}, Entrypoints: []string{"docker-entrypoint.sh", "entrypoint.sh", "tini"}},
		Ports:  []int{9200},
		Probe:  probe("tcp", 9200, ""),
		Accessors: []Accessor{
			str("URL", "ElasticsearchURL", docSearchURL+" http://host:port unless xpack.security.enabled is true; then http://elastic:ELASTIC_PASSWORD@host:port (https with xpack.security.http.ssl.enabled).", 9200),
			internal("URL", "ElasticsearchURL", exCurl, 9200),
		},
	},
	{
		Name:   "opensearch",
		Images: []string{"opensearchproject/opensearch", "bitnami/opensearch"},
		Server: &Server{Commands: []string{"opensearch", "opensearch-docker-entrypoint.sh", "run.sh"}, Entrypoints: []string{"entrypoint.sh"}},
		Ports:  []int{9200},
		Probe:  probe("tcp", 9200, ""),
		Accessors: []Accessor{
			str("URL", "OpenSearchURL", docSearchURL+" https://admin:password@host:port (password OPENSEARCH_INITIAL_ADMIN_PASSWORD, default \"admin\"), or http://host:port when DISABLE_SECURITY_PLUGIN or plugins.security.disabled is true.", 9200),
			internal("URL", "OpenSearchURL", "", 9200),
		},
	},
	{
		Name:   "clickhouse",
		Images: []string{"clickhouse/clickhouse-server", "clickhouse", "yandex/clickhouse-server"},
		Server: withClients(&Server{Commands: []string{"clickhouse-server", "server"}, Entrypoints: []string{"entrypoint.sh"}, Wrappers: []string{"clickhouse"}, Flags: true}, "clickhouse-client", "client", "local"),
		Ports:  []int{9000, 8123},
		Probe:  probe("http", 8123, "/ping"),
		Accessors: []Accessor{
			str("DSN", "ClickHouseDSN", "returns clickhouse://user:password@host:port/db on the native protocol port 9000, for clickhouse-go (CLICKHOUSE_USER default \"default\", CLICKHOUSE_PASSWORD, CLICKHOUSE_DB default \"default\").", 9000),
			internal("DSN", "ClickHouseDSN", "", 9000),
			str("HTTPURL", "ClickHouseHTTPURL", "returns http://host:port of the HTTP interface (container port 8123).", 8123),
		},
	},
	{
		Name:   "localstack",
		Images: []string{"localstack/localstack", "localstack/localstack-pro"},
		Server: always,
		Ports:  []int{4566},
		Probe:  probe("http", 4566, "/_localstack/health"),
		Accessors: []Accessor{
			str("Endpoint", "LocalStackEndpoint", "returns http://host:port of the edge port 4566, for the AWS SDK's BaseEndpoint.", 4566),
		},
	},
	{
		Name:   "mailpit",
		Images: []string{"axllent/mailpit"},
		Server: always,
		Ports:  []int{1025, 8025},
		Probe:  probe("http", 8025, "/readyz"),
		Accessors: []Accessor{
			str("SMTPAddr", "MailSMTPAddr", "returns host:port of the SMTP server (container port 1025), for net/smtp.", 1025),
			str("WebURL", "MailWebURL", "returns http://host:port of the web UI and API (container port 8025).", 8025),
		},
	},
	{
		Name:   "mailhog",
		Images: []string{"mailhog/mailhog"},
		Server: always,
		Ports:  []int{1025, 8025},
		Probe:  probe("http", 8025, "/api/v2/messages"),
		Accessors: []Accessor{
			str("SMTPAddr", "MailSMTPAddr", "returns host:port of the SMTP server (container port 1025), for net/smtp.", 1025),
			str("WebURL", "MailWebURL", "returns http://host:port of the web UI and API (container port 8025).", 8025),
		},
	},
	{
		Name:   "cassandra",
		Images: []string{"cassandra", "scylladb/scylla", "bitnami/cassandra"},
		Server: withClients(&Server{Commands: []string{"cassandra", "scylla", "run.sh"}, Entrypoints: []string{"docker-entrypoint.sh", "docker-entrypoint.py", "entrypoint.sh"}, Flags: true}, "cqlsh", "nodetool"),
		Ports:  []int{9042},
		Probe:  probe("tcp", 9042, ""),
		Accessors: []Accessor{
			strs("Hosts", "CassandraHosts", docHostAddrs, 9042),
		},
	},
	{
		Name:   "etcd",
		Images: []string{"coreos/etcd", "etcd-development/etcd"},
		Server: withClients(&Server{Commands: []string{"etcd"}}, "etcdctl", "etcdutl"),
		Ports:  []int{2379},
		Probe:  probe("http", 2379, "/health"),
		Accessors: []Accessor{
			strs("Endpoints", "EtcdEndpoints", docEtcdEndpoints, 2379),
		},
	},
	{
		Name:    "etcd-bitnami",
		Images:  []string{"bitnami/etcd"},
		Server:  withClients(bitnami("etcd"), "etcdctl", "etcdutl"),
		Ports:   []int{2379},
		Probe:   probe("http", 2379, "/health"),
		FileEnv: []string{"ETCD_ROOT_PASSWORD"},
		Accessors: []Accessor{
			strs("Endpoints", "EtcdEndpoints", docEtcdEndpoints, 2379),
			str("User", "BitnamiEtcdUser", "returns \"root\" when ETCD_ROOT_PASSWORD (or ETCD_ROOT_PASSWORD_FILE) is set, as the image then enables authentication for the user root, else \"\" (ALLOW_NONE_AUTHENTICATION=yes), for clientv3.Config.Username."),
			str("Password", "BitnamiEtcdPassword", "returns ETCD_ROOT_PASSWORD (\"\" when authentication is off), for clientv3.Config.Password."+docFileEnv),
		},
	},
	{
		Name:   "consul",
		Images: []string{"hashicorp/consul", "consul", "bitnami/consul"},
		Server: &Server{Commands: []string{"agent", "run.sh"}, Entrypoints: []string{"docker-entrypoint.sh", "entrypoint.sh"}, Wrappers: []string{"consul"}, Flags: true},
		Ports:  []int{8500},
		Probe:  probe("http", 8500, "/v1/status/leader"),
		Accessors: []Accessor{
			str("Addr", "ConsulAddr", "returns host:port of the HTTP API (container port 8500), for the consul API's Config.Address.", 8500),
			str("URL", "ConsulURL", "returns http://host:port of the HTTP API (container port 8500).", 8500),
			internal("URL", "ConsulURL", exConsul, 8500),
		},
	},
	{
		Name:   "vault",
		Images: []string{"hashicorp/vault", "vault", "openbao/openbao"},
		Server: &Server{Commands: []string{"server"}, Entrypoints: []string{"docker-entrypoint.sh"}, Wrappers: []string{"vault", "bao"}, Flags: true},
		Ports:  []int{8200},
		Probe:  probe("http", 8200, "/v1/sys/health"),
		Accessors: []Accessor{
			str("Addr", "VaultAddr", "returns host:port of the API (container port 8200).", 8200),
			str("URL", "VaultURL", "returns http://host:port of the API, the VAULT_ADDR form for the vault API's Config.Address.", 8200),
			internal("URL", "VaultURL", exVault, 8200),
			str("Token", "VaultToken", "returns the dev-mode root token VAULT_DEV_ROOT_TOKEN_ID (\"\" when unset: the server then generates one)."),
		},
	},
	{
		Name:   "nginx",
		Images: []string{"nginx", "nginxinc/nginx"},
		Server: srv(0, []string{"nginx", "nginx-debug", "openresty"}),
		Ports:  []int{80},
		Probe:  probe("http", 80, "/"),
		Accessors: []Accessor{
			str("URL", "HTTPServerURL", docHTTPURL, 80),
			internal("URL", "HTTPServerURL", exWget, 80),
		},
	},
	{
		Name:   "httpd",
		Images: []string{"httpd"},
		Server: srv(0, []string{"httpd-foreground", "httpd", "apachectl", "apache2ctl"}),
		Ports:  []int{80},
		Probe:  probe("http", 80, "/"),
		Accessors: []Accessor{
			str("URL", "HTTPServerURL", docHTTPURL, 80),
			internal("URL", "HTTPServerURL", exWget, 80),
		},
	},
	{
		Name:   "caddy",
		Images: []string{"caddy"},
		Server: srv(0, []string{"caddy"}),
		Ports:  []int{80},
		Probe:  probe("http", 80, "/"),
		Accessors: []Accessor{
			str("URL", "HTTPServerURL", docHTTPURL, 80),
			internal("URL", "HTTPServerURL", exWget, 80),
		},
	},
	{
		Name:   "traefik",
		Images: []string{"traefik"},
		Server: srv(flags, []string{"traefik"}),
		Ports:  []int{80},
		Probe:  probe("http", 80, "/"),
		Accessors: []Accessor{
			str("URL", "HTTPServerURL", docHTTPURL+" Requests are routed by traefik's configuration.", 80),
			internal("URL", "HTTPServerURL", exWget, 80),
		},
	},
}
