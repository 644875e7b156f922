package emit

import (
	"bytes"
	"context"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/composegen/composegen/cmd/composegen/internal/load"
	"github.com/composegen/composegen/cmd/composegen/internal/model"
	"github.com/composegen/composegen/cmd/composegen/internal/testcorpus"
)

// fuzzSeeds are hand-written cases: odd names, every field kind, variables,
// anchors, and a few malformed files.
var fuzzSeeds = []string{
	"services:\n  web:\n    image: nginx\n",
	"services: {}\n",
	"",
	"services:\n  2fa:\n    image: redis\n  order-db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${PW:-x}\n      POSTGRES_USER: ${U:?user}\n  type:\n    image: busybox\n  Stack:\n    image: busybox\n  up:\n    image: busybox\n",
	"services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n",
	"services:\n  a:\n    image: busybox\n    ports: [\"notaport:80\", \"8080-8081:80-81/udp\", \"127.0.0.1::53/udp\"]\n    expose: [\"9000\"]\n",
	"services:\n  a:\n    image: busybox\n    healthcheck:\n      test: [\"CMD-SHELL\", \"curl -f http://localhost:8080/health || exit 1\"]\n      interval: 1s\n      retries: 0\n      start_period: 1ms\n",
	"x-common: &c\n  image: busybox\n  environment: [A=1, B]\nservices:\n  a: *c\n  b:\n    <<: *c\n    command: echo \"$$HOME ${A}\"\n",
	"services:\n  a:\n    image: busybox\n    x-composegen:\n      kind: postgres\n      accessors:\n        BaseURL: \"http://{{.Host}}:{{.Port 8080}}/api\"\n        Bad: \"{{.Nope\"\n",
	"services:\n  a:\n    build: .\n    volumes: [\"data:/data\", \"./x:/x:ro\", \"/abs:/abs\"]\n    secrets: [s]\n    configs: [c]\nvolumes:\n  data: {}\nsecrets:\n  s:\n    file: ./s.txt\nconfigs:\n  c:\n    content: hi\n",
	"services:\n  a:\n    image: busybox\n    profiles: [debug]\n    network_mode: \"service:b\"\n  b:\n    image: busybox\n    networks:\n      front:\n        aliases: [x]\nnetworks:\n  front:\n    internal: true\n",
	"services:\n  a:\n    image: busybox\n    deploy:\n      replicas: 3\n",
	"services:\n  a:\n    image: busybox\n    image: redis\n",
	"services:\n  a:\n    image: [1, 2]\n",
	"services:\n  a:\n    image: busybox\n    unknown_field: 1\n",
	"services:\n  \"\\u00e9t\\u00e9\":\n    image: busybox\n  \"_\":\n    image: busybox\n  \"a.b\":\n    image: busybox\n",
	"name: ${P:-proj}\nservices:\n  a:\n    image: ${IMG:-busybox}:${TAG:-latest}\n    environment:\n      '': x\n",
	// A "billion laughs" alias bomb: refused at once (issue 13).
	"x-bomb:\n  a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n  b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n  c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n  d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n  e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n  f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n  g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n  h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n  i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\nservices:\n  web:\n    image: nginx\n",
	// Port ranges at and over the limit, variables in constrained fields.
	"services:\n  a:\n    image: busybox\n    ports: [\"8000-8099:8000-8099\", \"1-65535\"]\n",
	"services:\n  a:\n    image: busybox\n    container_name: ${NAME:-app}\n    pull_policy: ${PP}\n    restart: ${R:-always}\n    cgroup: ${CG}\n    deploy:\n      replicas: 3\n",
	// Kinds by command.
	"services:\n  db:\n    image: postgres:16\n    entrypoint: [sh, -c, 'sleep 1; exec \"$$@\"', --, postgres]\n  t:\n    image: redis:7\n    command: sh -c \"redis-cli -h db ping || (echo no; exit 1)\"\n",
}

// FuzzGenerate runs load → model → emit on arbitrary compose files: every
// input yields an error or Go source that parses and is gofmt-clean, never a
// panic.
func FuzzGenerate(f *testing.F) {
	files := testcorpus.Files(f)
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := generate(dir)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "goroutine ") && strings.Contains(msg, ".go:") {
				t.Fatalf("error carries a stack trace:\n%s", msg)
			}
			return
		}
		fset := token.NewFileSet()
		if _, err := parser.ParseFile(fset, "compose_gen.go", src, parser.ParseComments); err != nil {
			t.Fatalf("generated code does not parse: %v\ninput:\n%s\noutput:\n%s", err, data, src)
		}
		formatted, err := format.Source(src)
		if err != nil {
			t.Fatalf("gofmt: %v", err)
		}
		if !bytes.Equal(formatted, src) {
			t.Fatalf("generated code is not gofmt-clean\ninput:\n%s", data)
		}
	})
}

func generate(dir string) ([]byte, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := load.Load(ctx, load.Options{WorkDir: dir, OutDir: dir, Environ: []string{}})
	if err != nil {
		return nil, err
	}
	p, err := model.Build(r, model.BuildOptions{Package: "fixtures"})
	if err != nil {
		return nil, err
	}
	return File(p)
}

// FuzzGenerateOverride is FuzzGenerate with an override file merged over
// the compose file, as docker compose discovers compose.override.yaml: the
// merge paths (lists, maps, extends over overrides) must not panic either.
func FuzzGenerateOverride(f *testing.F) {
	base := "services:\n  web:\n    image: nginx\n    ports: [\"80\"]\n    environment: [A=1]\n    depends_on: [db]\n  db:\n    image: postgres:16\n    healthcheck:\n      test: [\"CMD\", \"pg_isready\"]\n"
	for _, o := range []string{
		"services:\n  web:\n    ports: [\"8080:80\"]\n    environment:\n      B: ${B:-2}\n",
		"services:\n  web:\n    depends_on: !reset []\n  db:\n    healthcheck:\n      disable: true\n",
		"services:\n  web:\n    image: !reset null\n    build: .\n  extra:\n    extends: web\n",
		"services:\n  db:\n    profiles: [x]\n    volumes: [\"data:/var/lib/postgresql/data\"]\nvolumes:\n  data: {}\n",
		"services:\n  web: !override\n    image: redis\n",
		"",
	} {
		f.Add([]byte(base), []byte(o))
	}
	f.Fuzz(func(t *testing.T, compose, override []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), compose, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "compose.override.yaml"), override, 0o644); err != nil {
			t.Fatal(err)
		}
		src, err := generate(dir)
		if err != nil {
			return
		}
		if _, err := parser.ParseFile(token.NewFileSet(), "compose_gen.go", src, parser.ParseComments); err != nil {
			t.Fatalf("generated code does not parse: %v\ncompose:\n%s\noverride:\n%s", err, compose, override)
		}
		if formatted, err := format.Source(src); err != nil || !bytes.Equal(formatted, src) {
			t.Fatalf("generated code is not gofmt-clean (%v)", err)
		}
	})
}
