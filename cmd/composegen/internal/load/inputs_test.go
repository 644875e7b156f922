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
		if strings.Contains(d.Message, "not loaded") {
			t.Errorf("note without -f: %s", d)
		}
	}
}

// TestOverrideNote: with -f, an override file beside the first file that
// is not loaded gets one note that names it and says how to include it.
func TestOverrideNote(t *testing.T) {
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
	notes := func(files ...string) []string {
		t.Helper()
		var out []string
		for _, d := range mustLoad(t, Options{WorkDir: wd, Files: files}).Diagnostics {
			if strings.Contains(d.Message, "not loaded") {
				if d.Severity != diag.Note {
					t.Errorf("%s: severity %s, want note", d, d.Severity)
				}
				out = append(out, d.String())
			}
		}
		return out
	}
	got := notes("../../compose.yaml")
	want := "../../compose.override.yaml is not loaded: -f loads only the files given (to include it: -f ../../compose.yaml -f ../../compose.override.yaml, or no -f)"
	if len(got) != 1 || got[0] != want {
		t.Errorf("notes:\n%q\nwant:\n%q", got, want)
	}
	if got := notes("../../compose.yaml", "../../compose.override.yaml"); len(got) != 0 {
		t.Errorf("override given with -f, notes %q", got)
	}
	if got := notes("../../compose.yaml", "../../docker-compose.override.yml"); len(got) != 0 {
		t.Errorf("another override given with -f, notes %q", got)
	}
	// Only the first file's directory counts.
	if got := notes("../../other/second/compose.ci.yaml", "../../compose.yaml"); len(got) != 0 {
		t.Errorf("override beside a later file, notes %q", got)
	}
	if got := notes(); len(got) != 0 {
		t.Errorf("without -f, notes %q", got)
	}
}
