package model

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/composegen/composegen/cmd/composegen/internal/load"
)

// The variables of an env file get Env fields by name; their values never
// reach the model.
func TestEnvFileNames(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"compose.yaml": `services:
  api:
    image: busybox
    env_file: [db.env, {path: missing.env, required: false}]
    environment:
      API_PORT: "8080"
      DB_HOST: override
`,
		"db.env": "# database\nDB_HOST=db\nDB_PASSWORD=hunter2-from-file\nexport DB_USER=app\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := load.Load(context.Background(), load.Options{WorkDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := Build(r, BuildOptions{Package: "fixtures"})
	if err != nil {
		t.Fatal(err)
	}
	ms, spec := svc(t, p, "api")
	got := map[string]EnvField{}
	for _, e := range ms.Env {
		got[e.Name] = e
	}
	if e := got["DB_PASSWORD"]; e.Field != "DBPassword" || !strings.Contains(e.Doc, `from env_file "db.env"`) {
		t.Errorf("DB_PASSWORD = %+v, want field DBPassword from db.env without a value", e)
	}
	if e := got["DB_USER"]; !strings.Contains(e.Doc, `"db.env"`) {
		t.Errorf("DB_USER = %+v", e)
	}
	if e := got["DB_HOST"]; strings.Contains(e.Doc, "env_file") || !strings.Contains(e.Doc, `"override"`) {
		t.Errorf("DB_HOST = %+v, want the environment entry", e)
	}
	if len(spec.Environment) != 2 {
		t.Errorf("plan environment = %+v, want only the two declared entries", spec.Environment)
	}
	if strings.Contains(fmt.Sprintf("%#v", *p), "hunter2") {
		t.Error("an env file's value reached the model")
	}
}
