package model

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
	"github.com/composegen/composegen/runtime/composeplan"
)

// Lifecycle: does a service run once (a migration, a seed: Start waits
// until it has exited 0) or keep running (a server, a worker: Start waits
// until it answers)? It is decided by what the service is, never by whether
// something depends on it. The first sign that applies decides:
//
//  1. x-composegen: {oneshot: true|false};
//  2. a dependent that waits for it with service_completed_successfully:
//     one-shot;
//  3. a kind (it runs a known server): worker;
//  4. what its entrypoint and command run, "sh -c" scripts included: a
//     database client or migration tool (psql, mysql, mongosh, redis-cli,
//     migrate, goose, flyway, liquibase, atlas, dbmate, alembic, …) or a
//     migration word (db:migrate, manage.py migrate, npm run seed) is a
//     one-shot; an idle toolbox (sleep infinity, tail -f /dev/null), an
//     endless loop, a server program or a long-running word (worker, serve,
//     consumer, daemon, watch, scheduler, …) is a worker; both in one
//     script is a worker (it runs the migration, then the server);
//  5. a migration tool's image (migrate/migrate, flyway/flyway, …):
//     one-shot;
//  6. a healthcheck, ports or expose, restart always or unless-stopped, a
//     terminal (tty, stdin_open), a dependent that waits for
//     service_healthy: worker;
//  7. its name: migrate, seed, init, setup, … one-shot; worker, consumer,
//     scheduler, backend, api, web, app, … worker;
//  8. otherwise it is unclassified (""), and the generator warns.

// dependents maps each service to the first (by name) service
// that waits for it with service_completed_successfully, and healthy to
// the first that waits for service_healthy.
func (b *builder) dependents() (completed, healthy map[string]string) {
	completed, healthy = map[string]string{}, map[string]string{}
	for _, name := range b.r.Project.ServiceNames() {
		for dep, c := range b.r.Project.Services[name].DependsOn {
			m := healthy
			switch c.Condition {
			case types.ServiceConditionCompletedSuccessfully:
				m = completed
			case types.ServiceConditionHealthy:
			default:
				continue
			}
			if _, ok := m[dep]; !ok {
				m[dep] = name // ServiceNames is sorted: the first by name
			}
		}
	}
	return completed, healthy
}

// lifecycle records the service's lifecycle in the plan, a note in its
// type's doc, and a warning when it cannot be told.
func (sb *serviceBuilder) lifecycle() {
	name := sb.s.Name
	life, why := sb.classify()
	if sb.ext.oneshot != nil && !*sb.ext.oneshot {
		if dep, ok := sb.completedBy[name]; ok {
			sb.failHint(name, ExtensionKey+".oneshot", "remove oneshot: false, or make "+strconv.Quote(dep)+" wait with service_started or service_healthy",
				"is false, but service %q waits for it to complete (service_completed_successfully)", dep)
		}
	}
	sb.spec.Lifecycle = life
	switch life {
	case composeplan.LifecycleOneShot:
		sb.ms.Notes = append(sb.ms.Notes, fmt.Sprintf("It runs once (%s): Start returns after it has exited 0.", why))
	case "":
		d := sb.at(diag.Warning, name, "", "cannot tell if it runs once or keeps running; set x-composegen: {oneshot: true|false}")
		d.Detail = fmt.Sprintf("composegen cannot tell whether it runs once (a migration, a seed) or keeps running. Start waits for it to exit until the rest of the stack is ready and it has run %s, then takes it as long-running. Set x-composegen: {oneshot: true} on it if it is a migration or a seed, {oneshot: false} if it keeps running.", composeplan.UnclassifiedGrace)
		sb.diags = append(sb.diags, d)
		sb.ms.Notes = append(sb.ms.Notes, fmt.Sprintf("composegen cannot tell whether it runs once or keeps running: Start waits for it to exit until the rest of the stack is ready and it has run %s, then takes it as long-running. Set x-composegen: {oneshot: true} (or false) on it in the compose file to say which.", composeplan.UnclassifiedGrace))
	}
}

// classify returns the service's lifecycle and why.
func (sb *serviceBuilder) classify() (life, why string) {
	const oneShot, worker = composeplan.LifecycleOneShot, composeplan.LifecycleWorker
	name, spec := sb.s.Name, &sb.spec
	if o := sb.ext.oneshot; o != nil {
		if *o {
			return oneShot, "x-composegen: {oneshot: true}"
		}
		return worker, "x-composegen: {oneshot: false}"
	}
	if dep, ok := sb.completedBy[name]; ok {
		return oneShot, fmt.Sprintf("%q waits for it to complete", dep)
	}
	if spec.Kind != "" {
		return worker, "it runs the " + spec.Kind + " server"
	}
	var argv []string
	switch {
	case len(spec.Entrypoint) > 0:
		argv = append(slices.Clone(spec.Entrypoint), spec.Command...)
	case len(spec.Command) > 0:
		argv = spec.Command
	}
	if life, why := argvLifecycle(argv, 0); life != "" {
		return life, why
	}
	if img := imageRepo(spec.Image); oneShotImages[img] {
		return oneShot, "its image " + img + " is a migration tool"
	}
	hc := spec.Healthcheck
	switch {
	case hc != nil && !hc.Disable && len(hc.Test) > 0:
		return worker, "it has a healthcheck"
	case len(spec.Ports) > 0:
		return worker, "it declares ports"
	case spec.Restart == "always" || spec.Restart == "unless-stopped":
		return worker, "restart: " + spec.Restart
	case spec.Tty || spec.StdinOpen:
		return worker, "it keeps a terminal open"
	}
	if dep, ok := sb.healthyBy[name]; ok {
		return worker, fmt.Sprintf("%q needs it healthy", dep)
	}
	if life := wordsLifecycle(nameWords, strings.FieldsFunc(strings.ToLower(name), notAlnum)); life != "" {
		return life, "its name"
	}
	return "", ""
}

// Programs whose run is a one-shot: database clients, migration tools,
// object store and broker clients that create what the stack needs.
var oneShotPrograms = words(
	"psql", "pg_restore", "pg_dump", "pg_dumpall", "createdb", "dropdb", "createuser",
	"mysql", "mariadb", "mysqlimport", "mariadb-import", "mysqldump", "mariadb-dump", "mysqladmin", "mariadb-admin",
	"mongosh", "mongo", "mongorestore", "mongoimport",
	"redis-cli", "valkey-cli", "keydb-cli",
	"cqlsh", "clickhouse-client", "sqlcmd", "sqlite3",
	"migrate", "goose", "flyway", "liquibase", "atlas", "dbmate", "sqitch", "alembic", "tern",
	"mc", "aws", "gsutil", "curl", "wget", "kafka-topics", "kafka-topics.sh", "rabbitmqadmin", "etcdctl",
	"terraform", "tofu",
)

// Programs that say nothing about the service: shell builtins, file
// utilities, waits for a port.
var neutralPrograms = words(
	"cd", "echo", "printf", "mkdir", "cp", "mv", "rm", "ln", "chmod", "chown", "touch", "ls", "cat",
	"export", "set", "test", "[", "true", "false", ":", "trap", "wait", "source", ".", "envsubst",
	"sed", "awk", "grep", "find", "xargs", "tee", "id", "date", "nc", "apk", "apt-get", "pip", "install",
)

// Programs whose run is long-running: servers and supervisors.
var workerPrograms = words(
	"nginx", "httpd", "caddy", "haproxy", "envoy", "gunicorn", "uvicorn", "hypercorn", "daphne",
	"puma", "unicorn", "sidekiq", "supervisord", "crond", "cron", "sshd", "php-fpm", "pm2-runtime",
	"nodemon", "watchexec", "dockerd",
)

// Images of migration tools and clients (repository, without registry and
// tag): their entrypoint is the tool, so the command is its arguments.
var oneShotImages = words(
	"migrate/migrate", "flyway/flyway", "redgate/flyway", "liquibase/liquibase", "liquibase",
	"arigaio/atlas", "amacneil/dbmate", "sqitch/sqitch", "minio/mc", "curlimages/curl",
	"amazon/aws-cli", "hashicorp/terraform",
)

// Words of a command (a program's name, its first arguments) and of a
// service's name.
var (
	commandWords = wordSigns{
		oneShot: words("migrate", "migrates", "migration", "migrations", "migrator", "seed", "seeds", "seeder", "seeding", "loaddata", "fixtures"),
		worker: words("worker", "workers", "work", "serve", "server", "runserver", "consumer", "consume", "daemon", "listen", "listener",
			"watch", "watcher", "scheduler", "schedule", "cron", "beat", "poller", "poll", "subscriber", "subscribe", "start", "dev", "forever"),
	}
	nameWords = wordSigns{
		oneShot: words("migrate", "migrates", "migration", "migrations", "migrator", "seed", "seeds", "seeder", "seeding",
			"init", "setup", "bootstrap", "provision", "provisioner", "fixtures", "populate", "createbuckets"),
		worker: words("worker", "workers", "consumer", "scheduler", "cron", "daemon", "listener", "watcher", "poller", "beat", "subscriber", "processor",
			"backend", "frontend", "api", "web", "webapp", "app", "server", "proxy", "gateway", "ui"),
	}
)

type wordSigns struct{ oneShot, worker map[string]bool }

// wordsLifecycle decides by words: one kind of sign only, else "".
func wordsLifecycle(signs wordSigns, words []string) string {
	var once, runs bool
	for _, w := range words {
		once = once || signs.oneShot[w]
		runs = runs || signs.worker[w]
	}
	switch {
	case once && !runs:
		return composeplan.LifecycleOneShot
	case runs && !once:
		return composeplan.LifecycleWorker
	}
	return ""
}

// argvLifecycle classifies what argv runs (see the package's Lifecycle
// comment), "" when it cannot tell.
func argvLifecycle(argv []string, depth int) (life, why string) {
	for len(argv) > 0 && isAssignment(argv[0]) {
		argv = argv[1:]
	}
	if len(argv) == 0 || depth > 8 {
		return "", ""
	}
	first := unescape(argv[0])
	if words := strings.Fields(first); len(words) > 1 {
		return argvLifecycle(append(words, argv[1:]...), depth+1)
	}
	if strings.HasPrefix(first, "-") || strings.Contains(first, "$") {
		return "", "" // arguments of the image's entrypoint, or a variable
	}
	base := strings.ToLower(path.Base(first))
	rest := argv[1:]
	if neutralPrograms[base] {
		return "", ""
	}
	if n, ok := genericWrappers[base]; ok {
		return argvLifecycle(skipOptions(rest, n), depth+1)
	}
	if slices.Contains(shells, base) {
		if script, ok := shellScript(rest); ok {
			return scriptLifecycle(script, depth+1)
		}
		// A script file: its name may say what it does (migrate.sh).
		return argvLifecycle(skipOptions(rest, 0), depth+1)
	}
	switch {
	case oneShotPrograms[base]:
		return composeplan.LifecycleOneShot, "it runs " + base
	case workerPrograms[base]:
		return composeplan.LifecycleWorker, "it runs " + base
	case base == "sleep" && len(rest) > 0 && longSleep(rest[0]):
		return composeplan.LifecycleWorker, "it sleeps for ever (a toolbox)"
	case base == "tail" && slices.ContainsFunc(rest, func(a string) bool { return a == "-f" || a == "-F" || a == "--follow" }):
		return composeplan.LifecycleWorker, "it runs tail -f (a toolbox)"
	}
	// The program's name and its first three operands ("manage.py
	// migrate", "artisan queue:work", "-A proj worker").
	words := strings.FieldsFunc(base, notAlnum)
	n := 0
	for _, a := range rest {
		if strings.HasPrefix(a, "-") || strings.Contains(a, "://") {
			continue
		}
		if n++; n > 3 {
			break
		}
		words = append(words, strings.FieldsFunc(strings.ToLower(path.Base(a)), notAlnum)...)
	}
	switch wordsLifecycle(commandWords, words) {
	case composeplan.LifecycleOneShot:
		return composeplan.LifecycleOneShot, "it runs " + clip(shellJoin(argv), 40)
	case composeplan.LifecycleWorker:
		return composeplan.LifecycleWorker, "it runs " + clip(shellJoin(argv), 40)
	}
	return "", ""
}

// endlessLoop matches a shell loop that never ends: while true, while :,
// until false.
var endlessLoop = regexp.MustCompile(`(^|[;&|(\n]|\bdo|\bthen)\s*(while\s+(true|:|\[\s*1\s*\])|until\s+false)\s*(;|\n)\s*do\b`)

// scriptLifecycle classifies a shell script by its simple commands: a
// long-running one (or an endless loop) makes it a worker, else a one-shot
// one makes it a one-shot.
func scriptLifecycle(script string, depth int) (life, why string) {
	script = unescape(script)
	if endlessLoop.MatchString(script) {
		return composeplan.LifecycleWorker, "its script loops for ever"
	}
	for _, cmd := range simpleCommands(script) {
		for len(cmd) > 0 && shellKeywords[cmd[0]] {
			cmd = cmd[1:]
		}
		switch l, w := argvLifecycle(cmd, depth); l {
		case composeplan.LifecycleWorker:
			return l, w
		case composeplan.LifecycleOneShot:
			if life == "" {
				life, why = l, w
			}
		}
	}
	return life, why
}

// longSleep reports whether a sleep's argument keeps a toolbox alive:
// infinity, or a minute or more.
func longSleep(arg string) bool {
	arg = strings.ToLower(arg)
	if arg == "infinity" || arg == "inf" {
		return true
	}
	num, unit := arg, "s"
	if n := len(arg); n > 0 && strings.ContainsAny(arg[n-1:], "smhd") {
		num, unit = arg[:n-1], arg[n-1:]
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return false
	}
	return unit != "s" || f >= 60
}

// imageRepo returns an image's repository without registry, tag and digest
// ("ghcr.io/amacneil/dbmate:2" → "amacneil/dbmate").
func imageRepo(image string) string {
	image, _, _ = strings.Cut(image, "@")
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		image = image[:i]
	}
	if first, rest, ok := strings.Cut(image, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		image = rest
	}
	return strings.TrimPrefix(strings.ToLower(image), "library/")
}

func notAlnum(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') }

func words(list ...string) map[string]bool { return setOf(list) }
