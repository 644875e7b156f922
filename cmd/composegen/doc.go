// Composegen generates typed Go test fixtures from docker-compose files.
//
// It is meant to be run by go generate. Put a directive in a Go file of the
// package that will hold the fixtures, usually next to the tests:
//
//	//go:generate go run github.com/composegen/composegen/cmd/composegen -f compose.yaml
//
// then run "go generate" and use the generated code from tests:
//
//	stack := itest.Start(t)
//	db, _ := sql.Open("pgx", stack.Postgres.DSN())
//
// The generated file (compose_gen.go by default) holds a static plan of the
// compose project as Go literals plus one type per service, with a method per
// declared port, a typed Env, kind accessors (DSN, Addr, URL...) and Start
// functions. It imports github.com/composegen/composegen/runtime only: no
// compose file is read when tests run.
//
// Usage:
//
//	composegen [flags]
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
//	-check
//		Write nothing. Exit with status 1 and print a short summary of the
//		difference if the output file is missing or differs from what would
//		be generated, 0 if it is up to date. Use it in CI.
//	-version
//		Print "composegen <version>" and exit.
//
// Each flag may also be written with two dashes (--env-file).
//
// Variables (${VAR}, ${VAR:-default}, ${VAR:?message}, $VAR) are not
// resolved at generation time: they stay as templates in the generated plan
// and are resolved when the stack starts, from the test process's
// environment and the project's .env, so no secret of the generating machine
// ends up in a committed file. The few fields that compose itself must parse
// when loading (published ports, durations, sizes, include paths, profiles)
// are resolved at generation time; composegen prints a warning for each such
// field that uses a variable.
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
//	      kind: postgres          # use the postgres kind's accessors
//	      accessors:
//	        JDBC: "jdbc:postgresql://{{.Addr 5432}}/app"
//
// The output is gofmt'ed and deterministic and starts with "// Code generated
// by composegen from <files>. DO NOT EDIT.". It is written atomically, and
// nothing is written when any stage fails. Warnings (unsupported compose
// attributes, fields fixed at generation time) go to standard error as
//
//	composegen: warning: compose.yaml:12: service "api": logging: not supported by composegen; ignored
//
// Exit status: 0 on success, 1 on error or a stale file with -check, 2 on a
// usage error.
package main
