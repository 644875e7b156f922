package model

import (
	"strings"
	"testing"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
)

// TestKindByCommand: a service gets its image's kind only when its
// entrypoint and command run the kind's server; idioms from real compose
// files.
func TestKindByCommand(t *testing.T) {
	for _, tc := range []struct {
		name, service string
		kind          string // "" for kind-less
	}{
		// PostgreSQL.
		{"default command", "image: postgres:16", "postgres"},
		{"server flags", `image: postgres:16
    command: ["-c", "fsync=off", "-c", "shared_buffers=256MB"]`, "postgres"},
		{"server with flags", "image: postgres:16\n    command: postgres -c max_connections=200", "postgres"},
		{"client toolbox", "image: postgres:16\n    entrypoint: sleep infinity", ""},
		{"client toolbox as command", "image: postgres:16\n    command: [sleep, infinity]", ""},
		{"toolbox tail -f /dev/null", "image: postgres:16\n    command: tail -f /dev/null", ""},
		{"toolbox sleep 1d", "image: postgres:16\n    command: sleep 1d", ""},
		{"toolbox sleep seconds", "image: redis:7\n    command: [sleep, \"86400\"]", ""},
		{"toolbox sleep loop", `image: postgres:16
    command: sh -c "while true; do sleep 3600; done"`, ""},
		{"toolbox sleep loop with colon", `image: mariadb:11
    entrypoint: ["/bin/bash", "-c", "while :; do sleep 1 & wait; done"]`, ""},
		{"toolbox trap sleep wait", `image: postgres:16
    entrypoint: ["/bin/sh", "-c", "trap 'exit 0' TERM; sleep infinity & wait"]`, ""},
		{"toolbox after setup", `image: postgres:16
    command: sh -c 'cat $${CERTS}/*.pem && exec sleep infinity'`, ""},
		{"toolbox through the entrypoint script", "image: postgres:16\n    entrypoint: [docker-entrypoint.sh, tail, -F, /dev/null]", ""},
		{"short sleep is not a toolbox", "image: postgres:16\n    command: sleep 10", ""},
		{"polling loop is not a toolbox", `image: postgres:16
    command: sh -c "while true; do /scripts/backup.sh; sleep 60; done"`, ""},
		{"tail of a log is not a toolbox", "image: postgres:16\n    command: tail -f /var/log/app.log", ""},
		{"sleep before the server", `image: postgres:16
    command: sh -c "sleep 1d && exec postgres"`, "postgres"},
		{"psql one-shot", `image: postgres:16
    command: psql -h db -U app -f /migrations/001.sql`, ""},
		{"psql in a shell", `image: postgres:16
    entrypoint: ["sh", "-c"]
    command: ["until pg_isready -h db; do sleep 1; done; psql -h db -U app -c 'select 1'"]`, ""},
		{"wrapper script execs the server", `image: postgres:16
    entrypoint: ["/bin/bash", "-ec", "chmod 600 /certs/key && exec docker-entrypoint.sh postgres -c ssl=on"]`, "postgres"},
		{"custom entrypoint script file", "image: postgres:16\n    entrypoint: /scripts/start.sh", ""},
		{"shell running a script file", "image: postgres:16\n    entrypoint: [bash, /scripts/start.sh]", ""},
		{"command from a variable with a default", "image: postgres:16\n    command: ${PG_COMMAND:-postgres}", "postgres"},
		{"command from a variable with a client default", "image: postgres:16\n    command: ${PG_COMMAND:-psql}", ""},
		{"command from a variable without default", "image: postgres:16\n    command: ${PG_COMMAND}", "postgres"},
		{"entrypoint cleared, server", "image: postgres:16\n    entrypoint: []\n    command: [postgres]", "postgres"},
		// Redis.
		{"redis flags", "image: redis:7\n    command: --appendonly yes", "redis"},
		{"redis-server with a password", "image: redis:7-alpine\n    command: redis-server --requirepass $${REDIS_PASSWORD}", "redis"},
		{"sh -c exec redis-server", `image: redis:7
    command: sh -c "echo starting && exec redis-server --save '' --appendonly no"`, "redis"},
		{"redis-cli health poller", `image: redis:7
    command: sh -c "while ! redis-cli -h cache ping; do sleep 1; done"`, ""},
		{"redis-cli one-shot", "image: redis:7\n    command: redis-cli -h cache set warm 1", ""},
		// MySQL and MariaDB.
		{"mysqld flags", "image: mysql:8\n    command: --default-authentication-plugin=mysql_native_password", "mysql"},
		{"mysqld", "image: mysql:8\n    command: mysqld --character-set-server=utf8mb4", "mysql"},
		{"mariadbd", "image: mariadb:11\n    command: [mariadbd, --transaction-isolation=READ-COMMITTED]", "mariadb"},
		{"mysql client one-shot", `image: mariadb:11
    command: sh -c "mysql -h db -uroot -p$$MARIADB_ROOT_PASSWORD < /init.sql"`, ""},
		// Others.
		{"mongod replica set", "image: mongo:7\n    command: [--replSet, rs0, --bind_ip_all]", "mongo"},
		{"mongosh init one-shot", "image: mongo:7\n    command: mongosh --host mongo --eval 'rs.initiate()'", ""},
		{"kafka topics one-shot", `image: confluentinc/cp-kafka:7.6.0
    entrypoint: ["/bin/sh", "-c"]
    command: |
      kafka-topics --bootstrap-server kafka:29092 --create --topic orders`, ""},
		{"kafka run after a wait", `image: confluentinc/cp-kafka:7.6.0
    command: sh -c "sleep 2 && /etc/confluent/docker/run"`, "kafka"},
		{"redpanda start", "image: redpandadata/redpanda:v24.1.1\n    command: [redpanda, start, --smp, '1']", "redpanda"},
		{"redpanda start as one item", "image: docker.redpanda.com/vectorized/redpanda:v22.2.2\n    command: [redpanda start, --smp 1, --overprovisioned]", "redpanda"},
		{"rpk topic one-shot", "image: redpandadata/redpanda:v24.1.1\n    entrypoint: rpk\n    command: topic create orders -X brokers=redpanda:9092", ""},
		{"minio server", "image: minio/minio\n    command: server /data --console-address :9001", "minio"},
		{"nats flags", "image: nats:2\n    command: [-js, --user, app]", "nats"},
		{"vault server", "image: hashicorp/vault:1.17\n    command: server -dev", "vault"},
		{"vault init one-shot", "image: hashicorp/vault:1.17\n    command: vault operator init", ""},
		{"nginx templated config", `image: nginx:alpine
    command: /bin/sh -c "envsubst < /tmpl/default.conf > /etc/nginx/conf.d/default.conf && exec nginx -g 'daemon off;'"`, "nginx"},
		{"nginx config test", "image: nginx:alpine\n    command: nginx -t", "nginx"},
		{"traefik flags", "image: traefik:v3.0\n    command: [--api.insecure=true, --providers.docker]", "traefik"},
		{"clickhouse client", "image: clickhouse/clickhouse-server:24.8\n    entrypoint: clickhouse\n    command: client --host ch --query 'select 1'", ""},
		{"gosu wrapper", "image: redis:7\n    command: [gosu, redis, redis-server]", "redis"},
		{"forced kind", "image: postgres:16\n    entrypoint: sleep infinity\n    x-composegen: {kind: postgres}", "postgres"},
		{"forced none", "image: postgres:16\n    x-composegen: {kind: none}", ""},
		{"custom image forced", "image: acme/pg:1\n    x-composegen: {kind: postgres}", "postgres"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := mustBuild(t, "services:\n  svc:\n    "+tc.service+"\n")
			ms, spec := svc(t, p, "svc")
			if spec.Kind != tc.kind || ms.Kind != tc.kind {
				t.Fatalf("kind = %q, want %q", spec.Kind, tc.kind)
			}
			warned, noted, idled := false, "", false
			for _, d := range p.Diagnostics {
				warned = warned || d.Severity == diag.Warning && strings.HasPrefix(d.Message, "runs no "+tc.kind)
				if d.Severity == diag.Info && strings.Contains(d.Message, ", a client of kind ") {
					noted = d.Message
				}
				idled = idled || d.Severity == diag.Info && strings.HasPrefix(d.Message, "idles (")
			}
			// A kind's own client (a psql migration) and an idle toolbox
			// are plainly not the server: Info (-v), not a warning.
			client := clientCases[tc.name]
			idle := strings.HasPrefix(tc.name, "toolbox") || strings.HasPrefix(tc.name, "client toolbox")
			switch {
			case client != "" && (warned || !strings.Contains(noted, "runs "+client+", a client")):
				t.Errorf("want a note naming the client %s and no warning; diagnostics: %v", client, p.Diagnostics)
			case client == "" && noted != "":
				t.Errorf("noted a client although the service runs none: %v", p.Diagnostics)
			case idle && (warned || !idled):
				t.Errorf("want an idle toolbox's info and no warning; diagnostics: %v", p.Diagnostics)
			case !idle && idled:
				t.Errorf("taken for an idle toolbox: %v", p.Diagnostics)
			}
			if tc.kind == "" {
				if spec.Probe != nil && spec.Probe.Protocol != "tcp" || len(spec.FileEnv) > 0 {
					t.Errorf("kind-less service has probe %+v, file env %v", spec.Probe, spec.FileEnv)
				}
				for _, port := range spec.Ports {
					if port.Implicit {
						t.Errorf("kind-less service has the implicit port %d", port.Target)
					}
				}
				for _, m := range ms.Methods {
					if m.Kind == KindAccessor {
						t.Errorf("kind-less service has the accessor %s", m.Name)
					}
				}
				if !warned && client == "" && !idle && !strings.Contains(tc.service, "kind: none") {
					t.Errorf("no warning; diagnostics: %v", p.Diagnostics)
				}
			} else if warned {
				t.Errorf("warned although the service runs the server: %v", p.Diagnostics)
			}
		})
	}
}

// clientCases are the cases of TestKindByCommand that run one of the
// kind's clients, with the first one they run.
var clientCases = map[string]string{
	"psql one-shot":   "psql",
	"psql in a shell": "pg_isready",
	"command from a variable with a client default": "psql",
	"redis-cli health poller":                       "redis-cli",
	"redis-cli one-shot":                            "redis-cli",
	"mysql client one-shot":                         "mysql",
	"mongosh init one-shot":                         "mongosh",
	"kafka topics one-shot":                         "kafka-topics",
	"clickhouse client":                             "client",
}

// A one-shot of the kind's client tools is Info (-v only), not a warning,
// with the explanation in its detail and the same doc note on its type.
func TestKindlessClientNote(t *testing.T) {
	p := mustBuild(t, "services:\n  migrate:\n    image: postgres:16\n    command: psql -h db -U app -f /migrations/001.sql\n")
	if len(p.Diagnostics) != 1 || p.Diagnostics[0].Severity != diag.Info {
		t.Fatalf("want one Info diagnostic, got %v", p.Diagnostics)
	}
	d := p.Diagnostics[0]
	if want := `compose.yaml:4:5: service "migrate": command: runs psql, a client of kind postgres, not the server: no kind`; d.String() != want {
		t.Errorf("line = %q, want %q", d.String(), want)
	}
	if want := `The image postgres:16 is of kind postgres, but its command (psql -h db -U app -f /migrations/001.sql) runs psql, a client, not the server, so the service gets no kind: no readiness probe of kind postgres`; !strings.Contains(d.Detail, want) {
		t.Errorf("detail lacks %q:\n%s", want, d.Detail)
	}
	ms, _ := svc(t, p, "migrate")
	if len(ms.Notes) != 2 || !strings.Contains(ms.Notes[0], "does not run the server") || ms.Notes[1] != "It runs once (it runs psql): Start returns after it has exited 0." {
		t.Errorf("notes = %q", ms.Notes)
	}
}

// A server image that runs something unknown is warned about in one line
// that says what to do; -v's detail says what the service loses.
func TestKindlessWarning(t *testing.T) {
	p := mustBuild(t, "services:\n  toolbox:\n    image: postgres:16\n    entrypoint: /scripts/start.sh\n")
	if len(p.Diagnostics) != 1 || p.Diagnostics[0].Severity != diag.Warning {
		t.Fatalf("want one warning, got %v", p.Diagnostics)
	}
	d := p.Diagnostics[0]
	if want := `compose.yaml:4:5: service "toolbox": entrypoint: runs no postgres server: no kind (set x-composegen.kind: postgres if it does, none if not)`; d.String() != want {
		t.Errorf("line = %q, want %q", d.String(), want)
	}
	for _, want := range []string{
		"The image postgres:16 is of kind postgres, but its entrypoint (/scripts/start.sh) does not run the server",
		"no readiness probe of kind postgres, no DSN(), InternalDSN(), FreshDSN(), User(), Password(), Database(), no default port 5432",
		"set x-composegen: {kind: postgres}",
		"x-composegen: {kind: none}",
	} {
		if !strings.Contains(d.Detail, want) {
			t.Errorf("detail lacks %q:\n%s", want, d.Detail)
		}
	}
	ms, _ := svc(t, p, "toolbox")
	if len(ms.Notes) != 1 || !strings.Contains(ms.Notes[0], "does not run the server") {
		t.Errorf("notes = %q", ms.Notes)
	}
}

// An idle toolbox of a server's image (sleep infinity) is expected: Info
// only, and its type's doc says how to use it.
func TestKindlessToolbox(t *testing.T) {
	p := mustBuild(t, "services:\n  toolbox:\n    image: postgres:16\n    entrypoint: sleep infinity\n")
	if len(p.Diagnostics) != 1 || p.Diagnostics[0].Severity != diag.Info {
		t.Fatalf("want one Info diagnostic, got %v", p.Diagnostics)
	}
	if got, want := p.Diagnostics[0].String(), `compose.yaml:4:5: service "toolbox": entrypoint: idles (sleep infinity): a toolbox of the postgres image, without kind`; got != want {
		t.Errorf("line = %q, want %q", got, want)
	}
	ms, spec := svc(t, p, "toolbox")
	if spec.Kind != "" || len(ms.Notes) != 1 || !strings.Contains(ms.Notes[0], "a toolbox") || !strings.Contains(ms.Notes[0], "InternalDSN") {
		t.Errorf("kind %q, notes = %q", spec.Kind, ms.Notes)
	}
}

func TestRestartValidated(t *testing.T) {
	for _, ok := range []string{"no", "always", "on-failure", "on-failure:3", "unless-stopped", "${RESTART:-always}", `"no"`} {
		if _, err := build(t, "services:\n  app:\n    image: busybox\n    restart: "+ok+"\n"); err != nil {
			t.Errorf("restart %s: %v", ok, err)
		}
	}
	for bad, want := range map[string]string{
		"unles-stopped": `compose.yaml:4:5: service "app": restart: invalid restart policy "unles-stopped" (did you mean "unless-stopped"?`,
		"on-failure:x":  `invalid restart policy "on-failure:x" (did you mean "on-failure"?`,
		"sometimes":     `invalid restart policy "sometimes" (use no, always, on-failure[:max-retries] or unless-stopped)`,
	} {
		_, err := build(t, "services:\n  app:\n    image: busybox\n    restart: "+bad+"\n")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("restart %s: err = %v, want %q", bad, err, want)
		}
	}
}
