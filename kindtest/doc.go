// Package kindtest verifies composegen's catalog of kinds on real servers:
// its tests start each service of compose.yaml (one per kind with a server
// image on the test machines, written the way compose files in the wild
// are) through the fixtures that go generate wrote in ./fixtures, and use
// every accessor of the service's kind with the kind's usual Go client:
// pgx, go-sql-driver/mysql, go-redis, amqp091-go, nats.go with JetStream,
// etcd's clientv3, net/http and memcached's text protocol.
//
// It is a module of its own so that those clients (gRPC for etcd, among
// others) never enter the requirements of composegen's main module.
package kindtest
