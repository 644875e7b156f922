package model

import (
	"strings"
	"testing"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
	"github.com/composegen/composegen/runtime/composeplan"
)

// TestLifecycle: whether a service runs once or keeps running is decided
// by what it is, never by whether something depends on it; idioms from
// real compose files. The service under test is "svc"; "db" is there for
// depends_on.
func TestLifecycle(t *testing.T) {
	const (
		once   = composeplan.LifecycleOneShot
		worker = composeplan.LifecycleWorker
	)
	for _, tc := range []struct {
		name, service string
		want          string
	}{
		// Declared.
		{"declared one-shot", "image: acme/app\n    x-composegen: {oneshot: true}", once},
		{"declared worker", "image: acme/app\n    command: ./migrate\n    x-composegen: {oneshot: false}", worker},
		{"declared as a string", "image: acme/app\n    x-composegen: {oneshot: \"true\"}", once},
		{"declared beats a healthcheck", "image: acme/app\n    healthcheck: {test: [CMD, 'true']}\n    x-composegen: {oneshot: true}", once},
		// Database clients and migration tools, alone or in scripts.
		{"psql, nobody depends on it", `image: postgres:16
    command: ["psql", "postgresql://app:secret@db/app", "-c", "CREATE TABLE audit (id int)"]
    depends_on: {db: {condition: service_healthy}}`, once},
		{"psql in sh -c", `image: postgres:16
    command: ["sh", "-c", "psql -h db -U app -f /migrations/001.sql"]`, once},
		{"wait then psql", `image: postgres:16
    entrypoint: ["sh", "-c"]
    command: ["until pg_isready -h db; do sleep 1; done; psql -h db -U app -c 'select 1'"]`, once},
		{"pg_restore", "image: postgres:16\n    command: pg_restore -h db -d app /dump/app.dump", once},
		{"mysql from a file", "image: mariadb:11\n    command: sh -c \"mysql -h db -uroot -p$$MARIADB_ROOT_PASSWORD < /init.sql\"", once},
		{"mariadb client", "image: mariadb:11\n    command: [mariadb, -h, db, -e, 'CREATE DATABASE x']", once},
		{"mongosh", "image: mongo:7\n    command: mongosh --host mongo --eval 'rs.initiate()'", once},
		{"redis-cli", "image: redis:7\n    command: redis-cli -h cache set warm 1", once},
		{"redis-cli wait loop", "image: redis:7\n    command: sh -c \"while ! redis-cli -h cache ping; do sleep 1; done\"", once},
		{"migrate image", "image: migrate/migrate:v4.17.0\n    command: [-path, /migrations, -database, 'postgres://db/app', up]", once},
		{"flyway image", "image: flyway/flyway:10\n    command: -url=jdbc:postgresql://db/app migrate", once},
		{"liquibase image", "image: liquibase/liquibase\n    command: --changelog-file=changelog.xml update", once},
		{"atlas image", "image: arigaio/atlas:latest\n    command: migrate apply --url postgres://db/app", once},
		{"dbmate image with registry", "image: ghcr.io/amacneil/dbmate:2\n    command: up", once},
		{"goose", "image: acme/tools\n    command: goose -dir /migrations postgres 'host=db' up", once},
		{"alembic", "build: .\n    command: alembic upgrade head", once},
		{"django migrate", "build: .\n    command: python manage.py migrate --noinput", once},
		{"rails db:migrate", "build: .\n    command: bundle exec rails db:migrate", once},
		{"npm run migrate", "build: .\n    command: npm run migrate", once},
		{"prisma", "build: .\n    command: npx prisma migrate deploy", once},
		{"artisan migrate", "build: .\n    command: php artisan migrate --force", once},
		{"app subcommand", "build: .\n    command: [./app, migrate, up]", once},
		{"migration script file", "build: .\n    command: [sh, /scripts/migrate.sh]", once},
		{"seed script", "build: .\n    command: node dist/seed.js", once},
		{"minio client", `image: minio/mc
    entrypoint: >
      /bin/sh -c "mc alias set local http://minio:9000 minio minio123; mc mb -p local/bucket; exit 0"`, once},
		{"kafka topics", `image: confluentinc/cp-kafka:7.6.0
    entrypoint: ["/bin/sh", "-c"]
    command: |
      kafka-topics --bootstrap-server kafka:29092 --create --topic orders`, once},
		{"curl setup", "image: curlimages/curl\n    command: -X PUT http://es:9200/orders", once},
		{"completion dependent", "image: acme/app\n    command: ./prepare", once},
		// Workers.
		{"server of a kind", "image: postgres:16", worker},
		{"client toolbox", "image: postgres:16\n    entrypoint: [sleep, infinity]", worker},
		{"long sleep", "image: busybox\n    command: [sleep, '3600']", worker},
		{"tail -f", "image: busybox\n    command: tail -f /dev/null", worker},
		{"endless loop", "image: busybox\n    command: [sh, -c, 'while true; do date; sleep 5; done']", worker},
		{"endless loop with colon", "image: busybox\n    command: sh -c 'while :; do sleep 1; done'", worker},
		{"migration then server", "build: .\n    command: sh -c './app migrate && exec ./app serve'", worker},
		{"psql then idle", "image: postgres:16\n    command: sh -c 'psql -h db -f /init.sql; sleep infinity'", worker},
		{"celery worker", "build: .\n    command: celery -A proj worker -l info", worker},
		{"queue work", "build: .\n    command: php artisan queue:work", worker},
		{"runserver", "build: .\n    command: python manage.py runserver 0.0.0.0:8000", worker},
		{"gunicorn", "build: .\n    command: gunicorn app:app", worker},
		{"npm start", "build: .\n    command: npm start", worker},
		{"consumer binary", "build: .\n    command: [/bin/consumer, --topic, orders]", worker},
		{"healthcheck", "build: .\n    healthcheck: {test: [CMD, /healthz]}", worker},
		{"ports", "build: .\n    ports: ['8080']", worker},
		{"expose", "build: .\n    expose: ['8080']", worker},
		{"restart always", "build: .\n    restart: always", worker},
		{"restart unless-stopped", "image: busybox\n    command: [./run]\n    restart: unless-stopped", worker},
		{"terminal", "image: busybox\n    stdin_open: true\n    tty: true", worker},
		{"healthy dependent", "image: acme/app\n    command: ./run", worker},
		{"backend by name", "build: {context: backend, target: builder}", worker},
		// Unclassified.
		{"built image without command", "build: .", ""},
		{"unknown program", "build: .\n    command: [./app]", ""},
		{"script file", "image: busybox\n    command: [sh, /app/run.sh]", ""},
		{"short sleep", "image: busybox\n    command: [sleep, '2']", ""},
		{"restart on-failure", "build: .\n    restart: on-failure", ""},
		{"migrate and serve words in one command", "build: .\n    command: [./migrate-server]", ""},
		{"cd is no worker", "build: .\n    command: sh -c 'cd /work && ./app'", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "svc"
			if tc.name == "backend by name" {
				name = "backend"
			}
			compose := "services:\n  db:\n    image: postgres:16\n  " + name + ":\n    " + tc.service + "\n"
			switch tc.name {
			case "completion dependent":
				compose += "  app:\n    image: acme/app\n    command: ./run\n    ports: ['80']\n    depends_on: {svc: {condition: service_completed_successfully}}\n"
			case "healthy dependent":
				compose += "  app:\n    image: acme/app\n    command: ./run\n    ports: ['80']\n    depends_on: {svc: {condition: service_healthy}}\n"
			}
			p := mustBuild(t, compose)
			_, spec := svc(t, p, name)
			if spec.Lifecycle != tc.want {
				t.Errorf("lifecycle %q, want %q", spec.Lifecycle, tc.want)
			}
			var warned []diag.Diagnostic
			for _, d := range p.Diagnostics {
				if d.Service == name && strings.Contains(d.Message, "runs once") {
					warned = append(warned, d)
				}
			}
			if tc.want == "" {
				if len(warned) != 1 {
					t.Fatalf("want one warning, got %v", p.Diagnostics)
				}
			} else if len(warned) > 0 {
				t.Errorf("warned: %v", warned)
			}
		})
	}
}

// An unclassified service is named at generation in one line with the
// fix, and its type's doc says what Start does with it.
func TestLifecycleWarning(t *testing.T) {
	p := mustBuild(t, "services:\n  ticker:\n    build: .\n    command: [./ticker]\n")
	var lines, details []string
	for _, d := range p.Diagnostics {
		if d.Severity == diag.Warning {
			lines = append(lines, d.String())
			details = append(details, d.Detail)
		}
	}
	want := `compose.yaml:2:3: service "ticker": cannot tell if it runs once or keeps running; set x-composegen: {oneshot: true|false}`
	if len(lines) != 1 || lines[0] != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(lines, "\n"), want)
	}
	// -v explains the rule.
	if len(details) != 1 || !strings.Contains(details[0], "until the rest of the stack is ready and it has run 5s, then takes it as long-running") {
		t.Errorf("detail = %q", details)
	}
	ms, _ := svc(t, p, "ticker")
	if len(ms.Notes) != 1 || !strings.Contains(ms.Notes[0], "x-composegen: {oneshot: true}") {
		t.Errorf("notes = %q", ms.Notes)
	}
}

// Bad x-composegen oneshot values are errors that name the file, the
// service and the field.
func TestLifecycleExtensionErrors(t *testing.T) {
	for _, tc := range []struct{ service, want string }{
		{"x-composegen: {oneshot: yes}", `compose.yaml:5:20: service "migrate": x-composegen.oneshot: must be true or false, not "yes" (true: it runs once and exits 0, like a migration or a seed, and Start waits for it; false: it keeps running)`},
		{"x-composegen: {oneshot: 1}", `x-composegen.oneshot: must be true or false, not 1`},
		{"x-composegen: {one-shot: true}", `x-composegen.one-shot: unknown key "one-shot" (known: kind, accessors, oneshot)`},
		{"x-composegen: {oneshot: false}\n  app:\n    image: acme/app\n    depends_on: {migrate: {condition: service_completed_successfully}}",
			`service "migrate": x-composegen.oneshot: is false, but service "app" waits for it to complete (service_completed_successfully) (remove oneshot: false, or make "app" wait with service_started or service_healthy)`},
	} {
		_, err := build(t, "services:\n  migrate:\n    image: acme/migrate\n    command: ./migrate\n    "+tc.service+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v\nwant %q", tc.service, err, tc.want)
		}
	}
}
