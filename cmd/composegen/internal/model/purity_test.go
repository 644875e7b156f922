package model

import (
	"context"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/composegen/composegen/cmd/composegen/internal/load"
)

// TestBuildReadsNoFile: the model's code imports nothing that reaches the
// file system; load reads everything.
func TestBuildReadsNoFile(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		pf, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range pf.Imports {
			switch p, _ := strconv.Unquote(imp.Path.Value); p {
			case "os", "io/fs", "io/ioutil", "os/exec", "net", "net/http":
				t.Errorf("%s imports %s: the model must get everything from load.Result", f, p)
			}
		}
	}
}

// TestBuildIsPure: Build gives the same model from the same Result, with
// the compose project's files gone and from another working directory.
func TestBuildIsPure(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("compose.yaml", "services:\n  api:\n    image: busybox\n    env_file: [api.env]\n    volumes: [./data:/data]\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${PW:-x}\n")
	write("api.env", "TOKEN=secret\n")
	write(".env", "PW=hunter2\n")
	r, err := load.Load(context.Background(), load.Options{WorkDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	first, err := Build(r, BuildOptions{Package: "x"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"compose.yaml", "api.env", ".env"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(t.TempDir())
	second, err := Build(r, BuildOptions{Package: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("two builds of one Result differ:\n%+v\n%+v", first, second)
	}
	if len(first.Services[0].Env) != 1 || first.Services[0].Env[0].Name != "TOKEN" {
		t.Errorf("env_file names = %+v", first.Services[0].Env)
	}
}
