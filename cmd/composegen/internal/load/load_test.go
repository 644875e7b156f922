package load

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
)

// writeFiles creates files (name → content) under a new temp dir.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustLoad(t *testing.T, opts Options) *Result {
	t.Helper()
	if opts.Environ == nil {
		opts.Environ = []string{}
	}
	r, err := Load(context.Background(), opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return r
}

func service(t *testing.T, r *Result, name string) types.ServiceConfig {
	t.Helper()
	s, ok := r.Project.Services[name]
	if !ok {
		t.Fatalf("no service %q; have %v", name, r.Project.ServiceNames())
	}
	return s
}

func envValue(t *testing.T, r *Result, s types.ServiceConfig, name string) string {
	t.Helper()
	v, ok := s.Environment[name]
	if !ok || v == nil {
		t.Fatalf("service %s: no environment %s", s.Name, name)
	}
	return r.Vars.Template(*v)
}

func TestSubstituteRoundTrip(t *testing.T) {
	v := newVars(func(k string) (string, bool) {
		m := map[string]string{"A": "1", "B": "two"}
		x, ok := m[k]
		return x, ok
	})
	for _, in := range []string{
		"plain",
		"${A}",
		"$A-$B",
		"x${A:-${B}}y",
		"${C:?C is required}",
		"cost $$5 and $ alone",
		"${A}${B}",
		"~/dir",
		"${A:+set}",
	} {
		tok, err := v.substitute(in, nil)
		if err != nil {
			t.Fatalf("substitute(%q): %v", in, err)
		}
		if strings.Contains(strings.ReplaceAll(tok, "$$", ""), "${") {
			t.Errorf("substitute(%q) = %q: expression left", in, tok)
		}
		if got := v.Template(tok); got != in {
			t.Errorf("round trip %q → %q → %q", in, tok, got)
		}
	}
	tok, _ := v.substitute("x${A:-${B}}y$$", nil)
	if got, had, err := v.Resolve(tok); err != nil || !had || got != "x1y$" {
		t.Errorf("Resolve = %q, %v, %v", got, had, err)
	}
	if _, err := v.substitute("${A", nil); err == nil {
		t.Error("unclosed ${ accepted")
	}
	if _, err := v.substitute("${1A}", nil); err == nil {
		t.Error("invalid name accepted")
	}
}

func TestNoEnvironmentLeak(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml": `services:
  db:
    image: postgres:${PG_VERSION:-16}
    environment:
      POSTGRES_PASSWORD: ${DB_PASSWORD:-secret}
      FROM_SHELL:
      REQUIRED: ${NEEDED:?set NEEDED}
    labels:
      - "who=$USER"
    ports:
      - "${DB_PORT:-5432}:5432"
`,
	})
	r := mustLoad(t, Options{WorkDir: dir, Environ: []string{"DB_PASSWORD=hunter2", "FROM_SHELL=hunter2", "USER=hunter2", "PG_VERSION=hunter2", "DB_PORT=15432"}})
	s := service(t, r, "db")
	if got := envValue(t, r, s, "POSTGRES_PASSWORD"); got != "${DB_PASSWORD:-secret}" {
		t.Errorf("POSTGRES_PASSWORD = %q", got)
	}
	if got := envValue(t, r, s, "REQUIRED"); got != "${NEEDED:?set NEEDED}" {
		t.Errorf("REQUIRED = %q", got)
	}
	if v := s.Environment["FROM_SHELL"]; v != nil {
		t.Errorf("FROM_SHELL resolved to %q", *v)
	}
	if got := r.Vars.Template(s.Image); got != "postgres:${PG_VERSION:-16}" {
		t.Errorf("image = %q", got)
	}
	if got := r.Vars.Template(s.Labels["who"]); got != "$USER" {
		t.Errorf("label = %q", got)
	}
	// Published ports are structural: resolved, with a warning.
	if len(s.Ports) != 1 || s.Ports[0].Published != "15432" || s.Ports[0].Target != 5432 {
		t.Errorf("ports = %+v", s.Ports)
	}
	found := false
	for _, w := range r.Diagnostics {
		if w.Service == "db" && strings.HasPrefix(w.Field, "ports") && w.Line == 11 {
			found = true
		}
	}
	if !found {
		t.Errorf("no generation-time warning for ports: %+v", r.Diagnostics)
	}
}

func TestRequiredVariableInStructuralField(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: nginx\n    ports:\n      - \"${PORT:?PORT must be set}:80\"\n",
	})
	_, err := Load(context.Background(), Options{WorkDir: dir, Environ: []string{}})
	var le diag.Errors
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want diag.Errors", err)
	}
	msg := err.Error()
	for _, want := range []string{"compose.yaml:", `service "web"`, "ports", "PORT must be set"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

func TestEnvFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: nginx\n    env_file:\n      - web.env\n      - path: opt.env\n        required: false\n    environment:\n      - BARE\n      - X=${TAG}\n    ports:\n      - \"${PORT}:80\"\n",
		".env":         "PORT=8081\nTAG=dotenv-secret\n",
		"other.env":    "PORT=9090\n",
		"web.env":      "IN_FILE=hunter2\n",
	})
	r := mustLoad(t, Options{WorkDir: dir})
	s := service(t, r, "web")
	if s.Ports[0].Published != "8081" {
		t.Errorf("published = %q, want 8081 from .env", s.Ports[0].Published)
	}
	if len(r.EnvFiles) != 0 {
		t.Errorf("EnvFiles = %v, want none (the project's .env is implicit)", r.EnvFiles)
	}
	if len(s.EnvFiles) != 2 || !strings.HasSuffix(s.EnvFiles[0].Path, "web.env") || bool(s.EnvFiles[1].Required) {
		t.Errorf("env_file = %+v", s.EnvFiles)
	}
	if _, ok := s.Environment["IN_FILE"]; ok {
		t.Error("env_file merged into environment")
	}
	if got := envValue(t, r, s, "X"); got != "${TAG}" {
		t.Errorf("X = %q", got)
	}
	r = mustLoad(t, Options{WorkDir: dir, EnvFiles: []string{"other.env"}})
	if got := service(t, r, "web").Ports[0].Published; got != "9090" {
		t.Errorf("published = %q, want 9090 from --env-file", got)
	}
	// The process environment wins over env files.
	r = mustLoad(t, Options{WorkDir: dir, Environ: []string{"PORT=7070"}})
	if got := service(t, r, "web").Ports[0].Published; got != "7070" {
		t.Errorf("published = %q, want 7070 from environment", got)
	}
}

func TestProfilesLoadAllServices(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: nginx\n  debug:\n    image: busybox\n    profiles: [debug]\n",
	})
	r := mustLoad(t, Options{WorkDir: dir, Profiles: []string{"debug"}})
	if got := strings.Join(r.Project.ServiceNames(), ","); got != "debug,web" {
		t.Errorf("services = %s", got)
	}
	if len(r.Profiles) != 1 || r.Profiles[0] != "debug" {
		t.Errorf("profiles = %v", r.Profiles)
	}
	if p := service(t, r, "debug").Profiles; len(p) != 1 || p[0] != "debug" {
		t.Errorf("service profiles = %v", p)
	}
}

func TestOverrideMergeAndDiscovery(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml":          "services:\n  web:\n    image: nginx\n    environment:\n      A: base\n      B: base\n",
		"compose.override.yaml": "services:\n  web:\n    environment:\n      B: override\n",
		"extra.yaml":            "services:\n  web:\n    environment:\n      A: extra\n",
		"sub/deeper/keep":       "",
	})
	// Discovery from a subdirectory finds the file and its override.
	r := mustLoad(t, Options{WorkDir: filepath.Join(dir, "sub", "deeper")})
	if len(r.Files) != 2 || filepath.Base(r.Files[1]) != "compose.override.yaml" {
		t.Fatalf("files = %v", r.Files)
	}
	if r.ProjectDir != dir {
		t.Errorf("project dir = %s, want %s", r.ProjectDir, dir)
	}
	s := service(t, r, "web")
	if got := envValue(t, r, s, "A") + "," + envValue(t, r, s, "B"); got != "base,override" {
		t.Errorf("env = %s", got)
	}
	// -f files merge in order and skip the override.
	r = mustLoad(t, Options{WorkDir: dir, Files: []string{"compose.yaml", "extra.yaml"}})
	s = service(t, r, "web")
	if got := envValue(t, r, s, "A") + "," + envValue(t, r, s, "B"); got != "extra,base" {
		t.Errorf("env = %s", got)
	}
	if r.Project.Name != filepath.Base(dir) && r.Project.Name != strings.ToLower(filepath.Base(dir)) {
		t.Errorf("name = %q", r.Project.Name)
	}
}

func TestDiscoveryPreference(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"docker-compose.yml": "services:\n  old:\n    image: nginx\n",
		"compose.yml":        "services:\n  new:\n    image: nginx\n",
	})
	files, warns, err := Discover(dir)
	if err != nil || len(files) != 1 || filepath.Base(files[0]) != "compose.yml" || len(warns) != 1 {
		t.Errorf("Discover = %v, %v, %v", files, warns, err)
	}
	_, _, err = Discover(t.TempDir())
	if err == nil || !errors.Is(err, ErrNoComposeFile) {
		// A compose file in a parent of the temp dir would be found: only
		// check the error kind when there is one.
		if err != nil {
			t.Errorf("err = %v", err)
		}
	}
}

func TestExtendsIncludeAnchors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml": `include:
  - lib/db.yaml
x-common: &common
  restart: always
  environment:
    LOG: ${LOG_LEVEL:-info}
services:
  web:
    <<: *common
    image: nginx
    extends:
      file: base.yaml
      service: base
    depends_on: [db]
`,
		"base.yaml":   "services:\n  base:\n    image: busybox\n    working_dir: /app\n    volumes:\n      - ./data:/data\n",
		"lib/db.yaml": "services:\n  db:\n    image: postgres\n    volumes:\n      - ./init:/docker-entrypoint-initdb.d\n",
	})
	r := mustLoad(t, Options{WorkDir: dir})
	web := service(t, r, "web")
	if web.Restart != "always" || web.WorkingDir != "/app" || web.Image != "nginx" {
		t.Errorf("web = restart %q workdir %q image %q", web.Restart, web.WorkingDir, web.Image)
	}
	if got := envValue(t, r, web, "LOG"); got != "${LOG_LEVEL:-info}" {
		t.Errorf("LOG = %q", got)
	}
	if len(web.Volumes) != 1 || web.Volumes[0].Source != filepath.Join(dir, "data") {
		t.Errorf("web volumes = %+v", web.Volumes)
	}
	db := service(t, r, "db")
	if len(db.Volumes) != 1 || db.Volumes[0].Source != filepath.Join(dir, "lib", "init") {
		t.Errorf("db volumes = %+v", db.Volumes)
	}
	if pos, ok := r.Positions.Service("db", ""); !ok || filepath.Base(pos.File) != "db.yaml" || pos.Line != 2 {
		t.Errorf("db position = %+v, %v", pos, ok)
	}
}

func TestVolumeFromVariable(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: nginx\n    volumes:\n      - ${DATA:-./data}:/data:ro\n      - ~/.cache:/cache\n      - named:/named\nvolumes:\n  named: {}\n",
	})
	r := mustLoad(t, Options{WorkDir: dir, Environ: []string{"HOME=/home/hunter2"}})
	vols := service(t, r, "web").Volumes
	if len(vols) != 3 {
		t.Fatalf("volumes = %+v", vols)
	}
	if vols[0].Type != "bind" || !vols[0].ReadOnly || r.Vars.Template(vols[0].Source) != filepath.Join(dir, "${DATA:-./data}") {
		t.Errorf("volume 0 = %+v (%s)", vols[0], r.Vars.Template(vols[0].Source))
	}
	if vols[1].Type != "bind" || strings.Contains(vols[1].Source, "hunter2") || r.Vars.Template(vols[1].Source) != filepath.Join(dir, "~/.cache") {
		t.Errorf("volume 1 = %+v (%s)", vols[1], r.Vars.Template(vols[1].Source))
	}
	if vols[2].Type != "volume" || vols[2].Source != "named" {
		t.Errorf("volume 2 = %+v", vols[2])
	}
}

func TestErrorsNameFileLineService(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    image: nginx\n    depends_on: [nope]\n",
	})
	_, err := Load(context.Background(), Options{WorkDir: dir, Environ: []string{}})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{"compose.yaml:", `service "web"`, "nope"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, dir) {
		t.Errorf("error %q has an absolute path", msg)
	}
}
