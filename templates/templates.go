// Package templates is composegen's catalog of known service kinds. A kind is
// recognised by its image; it decides which typed accessors the generated
// service type gets (DSN, Addr, URL, ...), how credentials are derived from
// the service's environment (exactly as the official image derives them),
// the kind's default container ports, and the readiness probe used when the
// compose file declares no healthcheck.
//
// The accessor functions (PostgresDSN, RedisAddr, ...) are called by
// generated code at test time with the running service.
package templates

import (
	"strings"

	"github.com/composegen/composegen/runtime"
)

// Kind is one entry of the catalog.
type Kind struct {
	// Name is the kind's name ("postgres").
	Name string
	// Images are the image repositories recognised, without registry or tag
	// ("postgres", "postgis/postgis", "bitnami/postgresql").
	Images []string
	// Ports are the kind's default container ports (tcp). The generator
	// publishes them even when the compose file does not declare them, so
	// that the accessors work.
	Ports []int
	// Probe is the readiness probe used when the service has no
	// healthcheck; nil to wait only for the container to run.
	Probe *runtime.ProbeSpec
	// Accessors are the typed methods generated for the kind.
	Accessors []Accessor
}

// Accessor is one typed method of a kind.
type Accessor struct {
	// Name is the generated method's name ("DSN").
	Name string
	// Doc is the method's doc comment, without the leading name.
	Doc string
	// Func is the function of this package that the method calls with the
	// running service: func(*runtime.Service) Result.
	Func string
	// Result is the Go result type: "string" or "[]string".
	Result string
}

// Match returns the kind of an image reference (any registry prefix, tag or
// digest), or nil when the image is not in the catalog.
func Match(image string) *Kind {
	repo := Repository(image)
	for i := range catalog {
		for _, im := range catalog[i].Images {
			if im == repo {
				return &catalog[i]
			}
		}
	}
	return nil
}

// Repository strips the registry, the "library/" prefix, the tag and the
// digest from an image reference: "docker.io/library/postgres:16" →
// "postgres".
func Repository(image string) string {
	s := image
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	// A tag is after the last ':' that follows the last '/'.
	slash := strings.LastIndexByte(s, '/')
	if i := strings.LastIndexByte(s, ':'); i > slash {
		s = s[:i]
	}
	// Drop a registry host: the first component if it has a '.' or ':' or is
	// "localhost".
	if i := strings.IndexByte(s, '/'); i >= 0 {
		first := s[:i]
		if first == "localhost" || strings.IndexByte(first, '.') >= 0 || strings.IndexByte(first, ':') >= 0 {
			s = s[i+1:]
		}
	}
	return strings.TrimPrefix(s, "library/")
}

var catalog = []Kind{
	{
		Name: "postgres", Images: []string{"postgres"}, Ports: []int{5432},
		Probe: &runtime.ProbeSpec{Protocol: "postgres", Port: 5432},
		Accessors: []Accessor{
			{Name: "DSN", Doc: "returns the libpq connection URL (postgres://user:password@host:port/db?sslmode=disable).", Func: "PostgresDSN", Result: "string"},
		},
	},
	{
		Name: "redis", Images: []string{"redis"}, Ports: []int{6379},
		Probe: &runtime.ProbeSpec{Protocol: "redis", Port: 6379},
		Accessors: []Accessor{
			{Name: "Addr", Doc: "returns host:port of the Redis server, for go-redis's Options.Addr.", Func: "RedisAddr", Result: "string"},
		},
	},
}

// PostgresDSN is the DSN accessor of the postgres kind.
func PostgresDSN(s *runtime.Service) string {
	user := s.EnvDefault("POSTGRES_USER", "postgres")
	return "postgres://" + user + ":" + s.Env("POSTGRES_PASSWORD") + "@" + s.Port(5432, "tcp").Addr() + "/" + s.EnvDefault("POSTGRES_DB", user) + "?sslmode=disable"
}

// RedisAddr is the Addr accessor of the redis kind.
func RedisAddr(s *runtime.Service) string { return s.Port(6379, "tcp").Addr() }
