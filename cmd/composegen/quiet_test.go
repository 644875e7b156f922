package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
	"github.com/composegen/composegen/cmd/composegen/internal/testcorpus"
)

// maxLine is the longest line a warning or note may print by default.
const maxLine = 160

// generate runs the generator in dir with args (the output goes to a
// temporary file) and returns what it printed.
func generate(t *testing.T, dir string, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := newProc(&out, &errb)
	c.getenv = func(string) string { return "" }
	c.getwd = func() (string, error) { return dir, nil }
	c.environ = []string{}
	args = append([]string{"-o", filepath.Join(t.TempDir(), "compose_gen.go"), "-pkg", "fixtures"}, args...)
	if code := run(context.Background(), args, c); code != 0 {
		t.Fatalf("composegen %s in %s exited %d:\n%s%s", strings.Join(args, " "), dir, code, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

func writeCompose(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// checkLines checks that every line printed by default is one warning or
// note of at most maxLine characters, and returns them.
func checkLines(t *testing.T, name, stderr string) []string {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if stderr == "" {
		return nil
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "composegen: warning: ") && !strings.HasPrefix(l, "composegen: note: ") {
			t.Errorf("%s: not a warning or note line: %q", name, l)
		}
		if n := len([]rune(l)); n > maxLine {
			t.Errorf("%s: line of %d characters (max %d): %s", name, n, maxLine, l)
		}
	}
	return lines
}

// The example's compose file and an idle toolbox have nothing to act on:
// generating them prints nothing.
func TestGenerateQuiet(t *testing.T) {
	root := testcorpus.RepoRoot(t)
	stdout, stderr := generate(t, filepath.Join(root, "example", "itest"), "-f", "../compose.yaml")
	if stdout+stderr != "" {
		t.Errorf("example/compose.yaml printed:\n%s%s", stdout, stderr)
	}
	dir := writeCompose(t, `services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: secret
    ports: ["${DB_PORT:-5432}:5432"]
  toolbox:
    image: postgres:16
    command: sleep infinity
    depends_on: [db]
  cache:
    image: redis:7
    command: redis-server --requirepass secret
  redis-tools:
    image: redis:7
    entrypoint: ["tail", "-f", "/dev/null"]
  mysql-tools:
    image: mariadb:11
    command: ["sh", "-c", "while true; do sleep 30; done"]
  migrate:
    image: postgres:16
    command: psql -h db -U postgres -c 'select 1'
    depends_on: [db]
`)
	stdout, stderr = generate(t, dir)
	if stdout+stderr != "" {
		t.Errorf("a toolbox compose file printed:\n%s%s", stdout, stderr)
	}
	// -v explains each decision, on one line each with its detail below.
	_, verbose := generate(t, dir, "-v")
	for _, want := range []string{
		`composegen: info: compose.yaml:9:5: service "toolbox": command: idles (sleep infinity): a toolbox of the postgres image, without kind`,
		`service "redis-tools": entrypoint: idles (tail -f /dev/null): a toolbox of the redis image`,
		`service "mysql-tools": command: idles`,
		`service "migrate": command: runs psql, a client of kind postgres, not the server: no kind`,
		`    The image postgres:16 is of kind postgres, but its command (sleep infinity) does not run the server, so the service gets no kind: no readiness probe of kind postgres`,
		`service "db": ports[0]: the host port of "${DB_PORT:-5432}:5432" is resolved at generation time`,
	} {
		if !strings.Contains(verbose, want) {
			t.Errorf("-v lacks %q:\n%s", want, verbose)
		}
	}
}

// Each warning and note the generator can print is one line with its fix,
// at most maxLine characters; -v adds the explanation below it.
func TestGenerateOneLine(t *testing.T) {
	dir := writeCompose(t, `services:
  backup:
    image: postgres:16
    command: sh -c '/scripts/backup.sh --password hunter2'
  kafka:
    image: bitnami/kafka:3.7
    environment:
      KAFKA_CFG_ADVERTISED_LISTENERS: PLAINTEXT://kafka:9092
    ports: ["9092"]
  broker:
    image: confluentinc/cp-kafka:7.6.0
    environment:
      KAFKA_ADVERTISED_LISTENERS: PLAINTEXT_HOST://localhost:29092
  web:
    image: nginx
    mac_address: "02:42:ac:11:00:02"
    networks:
      front:
        ipv4_address: 172.28.0.10
    deploy:
      replicas: 0
      resources:
        limits: {cpus: "0.5"}
    ports: [{target: 80, name: "${PORT_NAME}"}]
    healthcheck:
      test: ["CMD", "true"]
      interval: ${INTERVAL:-5s}
networks:
  front:
    ipam:
      config: [{subnet: 172.28.0.0/16}]
`)
	_, stderr := generate(t, dir)
	lines := checkLines(t, "compose.yaml", stderr)
	for _, want := range []string{
		`service "backup": command: runs no postgres server: no kind (set x-composegen.kind: postgres if it does, none if not)`,
		`service "kafka": environment: no localhost listener for Brokers() (add PLAINTEXT_HOST://localhost:9092, publish it)`,
		`service "broker": ports: advertises localhost:29092, not published (add "29092:29092" for Brokers() to work)`,
		`service "web": networks.front: fixed IP addresses are not supported; ignored`,
		`service "web": deploy.replicas: 0 is started as one container (use a profile to keep it from starting by default)`,
		`networks.front.ipam: fixed subnets are not supported; ignored`,
		`service "web": ports[0].name: ${PORT_NAME} is not set: blank (set it in .env or give a default: ${PORT_NAME:-value})`,
		`service "web": healthcheck.interval: "${INTERVAL:-5s}" is resolved at generation time (regenerate when it changes)`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "hunter2") {
		t.Errorf("a secret was printed:\n%s", stderr)
	}
	// An unset variable in a field resolved at generation is one line,
	// not two.
	if n := strings.Count(stderr, "ports[0].name:"); n != 1 {
		t.Errorf("%d lines about ports[0].name, want 1:\n%s", n, stderr)
	}
	// -v prints the same lines, each followed by its detail when it has
	// one.
	_, verbose := generate(t, dir, "-v")
	for _, l := range lines {
		if !strings.Contains(verbose, l+"\n") {
			t.Errorf("-v lacks the line %q", l)
		}
	}
	for _, want := range []string{
		"\n    The image postgres:16 is of kind postgres, but its command (sh -c '/scripts/backup.sh --password ***') does not run the server, so the service gets no kind: no readiness probe of kind postgres, no DSN()",
		"\n    Brokers() will not work from the host: the broker advertises no listener as localhost:<port> (in KAFKA_ADVERTISED_LISTENERS, KAFKA_CFG_ADVERTISED_LISTENERS, command)",
		"\n    The broker advertises localhost:29092 in KAFKA_ADVERTISED_LISTENERS, but no ports entry publishes host port 29092",
		"\n    Every stack instance gets its own network",
		"\n    Compose parses this field when loading the file",
		"\n    \"${PORT_NAME}\" is resolved when generating (compose parses this field when loading), with a blank string in its place",
	} {
		if !strings.Contains(verbose, want) {
			t.Errorf("-v lacks the detail %q:\n%s", want, verbose)
		}
	}
	if strings.Contains(verbose, "hunter2") {
		t.Errorf("a secret was printed with -v:\n%s", verbose)
	}
}

// Generating each compose file of the corpus prints only one-line
// warnings and notes.
func TestGenerateCorpusOneLine(t *testing.T) {
	corpus := testcorpus.Dir(t)
	files := testcorpus.Files(t)
	if len(files) < 39 {
		t.Errorf("found %d corpus files, want at least 39", len(files))
	}
	printed := 0
	for _, f := range files {
		name, _ := filepath.Rel(corpus, f)
		_, stderr := generate(t, filepath.Dir(f), "-f", filepath.Base(f))
		if lines := checkLines(t, name, stderr); len(lines) > 0 {
			printed++
			t.Logf("%s:\n%s", name, stderr)
		}
	}
	t.Logf("%d of %d corpus files printed something", printed, len(files))
}

// report prints each diagnostic on one line, even a message of several
// lines (compose-go's), the Info ones and the details only with -v.
func TestReportLines(t *testing.T) {
	diags := diag.List{
		{Severity: diag.Warning, File: "compose.yaml", Message: "first line\nsecond line", Detail: "why"},
		{Severity: diag.Info, File: "compose.yaml", Service: "toolbox", Message: "idles"},
		{Severity: diag.Note, File: "compose.yaml", Message: "one", Group: "g", Summary: "summary of g"},
		{Severity: diag.Note, File: "compose.yaml", Message: "two", Group: "g", Summary: "summary of g"},
	}
	var out, errb bytes.Buffer
	report(newProc(&out, &errb), diags, false)
	want := "composegen: warning: compose.yaml: first line second line\n" +
		"composegen: note: compose.yaml: summary of g (2 in the file; -v lists them)\n"
	if errb.String() != want || out.Len() != 0 {
		t.Errorf("default:\n%s\nwant:\n%s", errb.String(), want)
	}
	errb.Reset()
	report(newProc(&out, &errb), diags, true)
	want = "composegen: warning: compose.yaml: first line second line\n    why\n" +
		"composegen: info: compose.yaml: service \"toolbox\": idles\n" +
		"composegen: note: compose.yaml: one\ncomposegen: note: compose.yaml: two\n"
	if errb.String() != want {
		t.Errorf("-v:\n%s\nwant:\n%s", errb.String(), want)
	}
}
