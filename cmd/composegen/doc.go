// Composegen generates typed Go test fixtures from docker-compose files.
//
// It is meant to be run by go generate. Add it to the module as a tool
// (Go 1.24+), then put a directive in a Go file of the package that will
// hold the fixtures, usually next to the tests:
//
//	go get -tool github.com/composegen/composegen/cmd/composegen@latest
//
//	//go:generate go tool composegen
//
// go generate runs it in the package's directory, where composegen finds
// the compose file as docker compose does: compose.yaml (or compose.yml,
// docker-compose.yaml, docker-compose.yml) in that directory or the nearest
// parent that has one, plus its override file (compose.override.yaml...)
// beside it. Name the files with -f only when they are elsewhere or named
// otherwise; -f loads only the files given, as docker compose -f does:
// list the override too (-f ../../compose.yaml -f
// ../../compose.override.yaml), or composegen notes that it left it out.
// (Without the tool: //go:generate go run
// github.com/composegen/composegen/cmd/composegen@vX.Y.Z, with the version
// that go.mod requires.) Run "go generate" and use the generated code from
// tests:
//
//	stack := itest.Start(t)
//	db, _ := sql.Open("pgx", stack.Postgres.DSN())
//
//	stack = itest.Start(t, itest.WithServices(itest.ServiceMigrate)) // migrate and what it needs
//
// The generated file (compose_gen.go by default) holds one type per service,
// with a method per declared port, a typed Env, kind accessors (DSN, Addr,
// URL...), Replicas and StartX functions, a typed name per service and
// profile for WithServices and WithProfiles, and a static plan of the
// compose project as Go literals. It imports the composegen runtime: no
// compose file is parsed when tests run. The plan records a hash of each
// compose file it was generated from, and a start whose compose files
// changed since go generate fails at once (see Stale fixtures).
//
// Usage:
//
//	composegen [flags]                 generate the fixtures (what go generate runs)
//	composegen check [-v] [packages]   report stale generated files
//	composegen prune [-engine name] [-project name] [-v]
//	                                   remove kept stacks and leftovers
//	composegen doctor [-engine name] [-f compose.yaml]...
//	                                   say why tests could not start a stack
//	composegen help [command]
//
// # Generating
//
// The flags are:
//
//	-f file
//		A compose file. Repeatable: files are merged in order, like
//		"docker compose -f a.yaml -f b.yaml". Without -f, composegen
//		discovers compose.yaml, compose.yml, docker-compose.yaml or
//		docker-compose.yml (in that order of preference) plus its
//		.override file (compose.override.yaml, ...) in the current
//		directory, then in its parents, exactly like docker compose.
//		With -f, an override file beside the first file that is not
//		given is left out, as docker compose -f does, with a note:
//		"composegen: note: ../../compose.override.yaml is not loaded:
//		-f loads only the files given (to include it: -f
//		../../compose.yaml -f ../../compose.override.yaml, or no -f)".
//	-env-file file
//		An env file used for interpolation instead of the project's .env.
//		Repeatable.
//	-profile name
//		A profile active by default when the stack starts. Repeatable.
//		Every service is generated whatever its profiles.
//	-p name, -project-name name
//		The project name. Default: the name: attribute of the compose file,
//		else the project directory's name.
//	-o file
//		The output file. Default: compose_gen.go in the current directory.
//	-pkg name
//		The package name of the output. Default: $GOPACKAGE (set by go
//		generate), else the output directory's name made into a valid
//		package name.
//	-engine name
//		Link an engine of its own module into the fixtures, besides
//		Docker and Podman (always there): kubernetes adds a blank import
//		of github.com/composegen/composegen/kube, which go.mod must then
//		require. Repeatable.
//	-check
//		Write nothing. Exit with status 1 and print the first changed
//		lines if the output file is missing or differs from what would be
//		generated, 0 if it is up to date.
//	-v
//		Verbose: print the explanation of each warning and note, list the
//		notes summed up by default, and print the informational notes
//		(see Diagnostics).
//	-version
//		Print "composegen <version>" and exit.
//
// Each flag may also be written with two dashes (--env-file).
//
// Variables (${VAR}, ${VAR:-default}, ${VAR:?message}, $VAR) are not
// resolved at generation time: they stay as templates in the generated plan
// and are resolved when the stack starts, from the test process's
// environment and the project's .env, so no secret of the generating machine
// ends up in a committed file. That holds in every field, those the compose
// schema constrains included (container_name, pull_policy, restart,
// network_mode, ipc, pid, platform, user, image tags). The few fields that
// compose itself must parse when loading (published ports, expose,
// durations, sizes, depends_on conditions, volume types, include paths,
// profiles) are resolved at generation time, with a warning for each that
// uses a variable; a variable that is unset there and leaves the field
// invalid is an error that names it.
//
// Paths (bind mounts, env files, build contexts, secret files) are written
// relative to the project directory, which is written relative to the output
// file, so the generated file can be committed.
//
// A service may carry an x-composegen extension:
//
//	services:
//	  db:
//	    image: my-registry/pg-custom:16
//	    x-composegen:
//	      kind: postgres          # use the postgres kind's accessors; none: no kind
//	      accessors:
//	        JDBC: "jdbc:postgresql://{{.Addr 5432}}/app"
//	  migrate:
//	    build: ./migrations
//	    x-composegen:
//	      oneshot: true           # runs once: Start waits until it exits 0
//
// A service's kind is decided by its image and by what runs in it: a service
// of a server's image whose entrypoint or command runs something else (a
// client toolbox, a migration one-shot, a shell script that never starts
// the server) gets no kind, and a warning says so, except when that is
// plainly what the service is for: a toolbox that idles (sleep infinity,
// tail -f /dev/null, a loop of sleeps) or a one-shot of the kind's own
// clients (psql, redis-cli), which -v only mentions. x-composegen's kind
// overrides the decision.
//
// Whether a service runs once (a migration, a seed: Start returns only
// after it has exited 0) or keeps running (Start waits until it answers) is
// decided by what it is, never by whether something depends on it: first
// x-composegen's oneshot, then a dependent that waits for it with
// service_completed_successfully (one-shot), a kind (long-running), what
// its entrypoint and command run, "sh -c" scripts included (psql, mysql,
// mongosh, redis-cli, migrate, goose, flyway, liquibase, atlas, dbmate,
// alembic, db:migrate, manage.py migrate: one-shot; sleep infinity, tail -f,
// an endless loop, worker, serve, consumer, daemon, watch, scheduler:
// long-running), a migration tool's image (migrate/migrate, flyway/flyway,
// …), a healthcheck, ports, restart always or unless-stopped (long-running),
// and last its name (migrate, seed, init, setup; worker, consumer). A
// service that none of these classify gets a one-line warning with the fix;
// Start waits for it to exit until the rest of the stack is ready and it has
// run a few seconds (composeplan.UnclassifiedGrace), then takes it as
// long-running.
//
// # The generated file
//
// The output is gofmt'ed and deterministic, and starts with a header that
// records the committed inputs, the generator's version and its arguments,
// relative to the directory it ran in (the directory is named when it is not
// the file's):
//
//	// Code generated by composegen from ../compose.yaml, ../compose.override.yaml. DO NOT EDIT.
//	// versions:
//	//   composegen v0.4.0
//	// command:
//	//   composegen
//
// Nothing of the generating machine is in the file: no value of the
// environment or of an env file, no absolute path, no local .env. The file
// is written atomically, and nothing is written when any stage fails.
//
// # Stale fixtures
//
// The plan in the generated file records each compose file it was
// generated from (the files given or found, their override files, and the
// files they include or extend; not env files, which are read when the
// stack starts) with the SHA-256 of its content, relative to the generated
// file. When a test starts the stack (Start, Shared, Up, StartX), a file
// that is on disk with other content fails the start before anything is
// created:
//
//	composegen: start orders: ../compose.yaml changed since go generate: run go generate ./... (or set COMPOSEGEN_DRIFT=warn to start the stack of the generated plan anyway)
//
// A file that is not on disk (generated code used elsewhere) is not
// checked. COMPOSEGEN_DRIFT=warn logs a warning instead, once per test
// process and file, and COMPOSEGEN_DRIFT=off skips the check. The files are
// read at start, so go test's cache runs the tests again when one changes.
// In CI, composegen check finds the same drift without starting anything.
//
// # Checking
//
// "composegen check [packages]" finds every file that composegen generated
// in the packages (default ".", as "go list" matches them: "./..." for the
// whole module), regenerates each in memory with the command and from the
// directory its header records, and prints, for each file that differs, its
// first changed lines. It writes nothing and needs no flags: run it from
// anywhere in the module, in CI:
//
//	go tool composegen check ./...
//
// Exit status: 0 when every file is up to date, 1 when one is stale or
// cannot be regenerated (its error is printed), 2 on a usage error. With -v
// it also names the files that are up to date.
//
// # Pruning
//
// "composegen prune" removes from the engine every stack that no running
// process owns: the stacks kept for the next run (COMPOSEGEN_REUSE=1,
// COMPOSEGEN_KEEP=1, runtime.WithKeepOnFailure) and the leftovers of test
// processes that died before their watcher could remove them (a watcher
// itself killed, a machine that rebooted). It prints one line per stack
// removed, with the reason; -v names each container, network and volume;
// -project limits it to one stack instance; -engine selects the engine as
// COMPOSEGEN_ENGINE does. The stack of a process that runs is never
// removed. Exit status: 0 (also when there was nothing to remove), 1 when
// the engine cannot be reached or a removal failed, 2 on a usage error.
//
// # Doctor
//
// "composegen doctor" says, in a few lines, why tests could not start a
// stack: which engine they would use and why (DOCKER_HOST, a docker
// context, a socket found), its version and API, rootless or remote; then
// a real round trip: a stack of one small container (busybox, pulled if
// absent) that serves HTTP, reached from this process through its
// published port, and removed. On a local Podman, it warns when
// aardvark-dns still serves networks that no longer exist (name lookups in
// containers then fail now and then). With -f, each image of the compose file is
// present, or would be pulled at the first start (a warning), and the
// services built or whose image has variables are noted. Exit status: 1
// when anything is a problem, 2 on a usage error, else 0.
//
// # Diagnostics
//
// The generator is quiet: it prints nothing for a compose file with nothing
// to act on. Errors, warnings and notes go to standard error, one line each,
// naming the file, line and column, the service and the field, and saying
// what to do:
//
//	composegen: compose.yaml:4:5: service "api": restart: invalid restart policy "unles-stopped" (did you mean "unless-stopped"? ...)
//	composegen: warning: compose.yaml:12:5: service "api": logging: not supported by composegen; ignored
//	composegen: warning: compose.yaml:8:5: service "backup": command: runs no postgres server: no kind (set x-composegen.kind: postgres if it does, none if not)
//
// Compose text is shown as the container sees it ($$ unescaped). Notes are
// for what may be worth acting on although nothing is wrong; those of a
// group (env files that git ignores) are summed up once per file:
//
//	composegen: note: compose.yaml: git-ignored env files give no Env fields: declare what tests read in environment, or commit them (1 in the file; -v lists them)
//
// With -v, each warning and note is followed by its explanation, indented,
// the notes of a group are listed one by one, and informational notes are
// printed: decisions with nothing to act on, such as an idle toolbox of a
// server's image that gets no kind, or a published host port written with
// a variable (resolved at generation, but bound only with
// runtime.WithFixedPorts):
//
//	composegen: info: compose.yaml:9:5: service "toolbox": command: idles (sleep infinity): a toolbox of the postgres image, without kind
//	    The image postgres:16 is of kind postgres, but its command (sleep infinity) does not run the server, ...
//
// Exit status of the generator: 0 on success, 1 on error or a stale file
// with -check, 2 on a usage error.
package main
