package load

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/composegen/composegen/cmd/composegen/internal/diag"
	"github.com/composegen/composegen/runtime/composeplan"
)

// TestInputs: the compose files read (given or discovered, their override,
// what they include and extend) are inputs with the hash of their content;
// env files are not.
func TestInputs(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml":          "include:\n  - db/compose.yaml\nservices:\n  api:\n    extends:\n      file: base.yaml\n      service: base\n",
		"compose.override.yaml": "services:\n  api:\n    environment:\n      LOG_LEVEL: debug\n",
		"base.yaml":             "services:\n  base:\n    image: nginx\n    env_file: api.env\n",
		"db/compose.yaml":       "services:\n  db:\n    image: postgres:16\n",
		"api.env":               "A=1\n",
		".env":                  "B=2\n",
		"app/itest/doc.go":      "package itest\n",
	})
	r := mustLoad(t, Options{WorkDir: filepath.Join(dir, "app", "itest")})
	var got []string
	for _, in := range r.Inputs {
		rel, _ := filepath.Rel(dir, in.File)
		got = append(got, filepath.ToSlash(rel))
		data, err := os.ReadFile(in.File)
		if err != nil {
			t.Fatal(err)
		}
		if want := composeplan.HashContent(data); in.SHA256 != want {
			t.Errorf("%s: hash %s, want %s", rel, in.SHA256, want)
		}
	}
	if want := "compose.yaml compose.override.yaml db/compose.yaml base.yaml"; strings.Join(got, " ") != want {
		t.Errorf("inputs %q, want %q", strings.Join(got, " "), want)
	}
	for _, d := range r.Diagnostics {
		if d.Severity == diag.Notice {
			t.Errorf("notice without -f: %s", d)
		}
	}
}

// TestOverrideNotice: with -f, an override file beside the first file that
// is not loaded gets one notice that names it and says how to include it.
func TestOverrideNotice(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml":                 "services:\n  api:\n    image: nginx\n",
		"compose.override.yaml":        "services:\n  api:\n    environment:\n      LOG_LEVEL: debug\n",
		"docker-compose.override.yml":  "services: {}\n",
		"internal/itest/doc.go":        "package itest\n",
		"other/compose.override.yaml":  "services: {}\n",
		"other/compose.yaml":           "services:\n  x:\n    image: nginx\n",
		"other/second/compose.ci.yaml": "services: {}\n",
	})
	wd := filepath.Join(dir, "internal", "itest")
	notices := func(files ...string) []string {
		t.Helper()
		var out []string
		for _, d := range mustLoad(t, Options{WorkDir: wd, Files: files}).Diagnostics {
			if d.Severity == diag.Notice {
				out = append(out, d.String())
			}
		}
		return out
	}
	got := notices("../../compose.yaml")
	want := "../../compose.override.yaml is not loaded: with -f only the files given are, as with docker compose -f (to include it: -f ../../compose.yaml -f ../../compose.override.yaml; or no -f: composegen then finds both, as docker compose does)"
	if len(got) != 1 || got[0] != want {
		t.Errorf("notices:\n%q\nwant:\n%q", got, want)
	}
	if got := notices("../../compose.yaml", "../../compose.override.yaml"); len(got) != 0 {
		t.Errorf("override given with -f, notices %q", got)
	}
	if got := notices("../../compose.yaml", "../../docker-compose.override.yml"); len(got) != 0 {
		t.Errorf("another override given with -f, notices %q", got)
	}
	// Only the first file's directory counts.
	if got := notices("../../other/second/compose.ci.yaml", "../../compose.yaml"); len(got) != 0 {
		t.Errorf("override beside a later file, notices %q", got)
	}
	if got := notices(); len(got) != 0 {
		t.Errorf("without -f, notices %q", got)
	}
}
