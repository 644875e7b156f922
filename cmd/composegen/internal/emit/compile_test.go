package emit

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/composegen/composegen/cmd/composegen/internal/model"
	"github.com/composegen/composegen/cmd/composegen/internal/testcorpus"
	"github.com/composegen/composegen/runtime/composeplan"
)

// repoRoot returns the root of the composegen module, which the temporary
// modules replace github.com/composegen/composegen with.
func repoRoot(t *testing.T) string { return testcorpus.RepoRoot(t) }

// tempModule writes a module "x" that requires composegen (replaced by the
// repository) with the given files (slash paths relative to its root).
func tempModule(t *testing.T, files map[string][]byte) string {
	t.Helper()
	root := repoRoot(t)
	dir := t.TempDir()
	gomod := "module x\n\ngo 1.24.0\n\nrequire github.com/composegen/composegen v0.0.0\n\nreplace github.com/composegen/composegen => " + root + "\n"
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	files["go.mod"] = []byte(gomod)
	files["go.sum"] = sum
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// goCmd runs the go command in dir and returns its standard output.
func goCmd(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// TestGeneratedCodeCompiles builds and vets the output of every case (the
// hand-written models and the compose files of testdata/compose) in one
// temporary module, and checks that each emitted plan evaluates to its model's.
func TestGeneratedCodeCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	projects := map[string]*model.Project{}
	for _, name := range caseNames() {
		projects[name] = cases[name]()
	}
	for _, name := range composeCases(t) {
		projects["compose_"+name] = composeProject(t, name)
	}
	checkCompiles(t, projects)
}

// checkCompiles writes each project's file into its own package of one
// temporary module, runs go build and go vet on it, then runs a program that
// prints every package's plan as JSON and compares it with the models' plans
// (nil and empty slices included).
func checkCompiles(t *testing.T, projects map[string]*model.Project) {
	t.Helper()
	names := make([]string, 0, len(projects))
	for n := range projects {
		names = append(names, n)
	}
	sort.Strings(names)
	files := map[string][]byte{}
	var imports, entries strings.Builder
	want := map[string]composeplan.Plan{}
	for _, name := range names {
		p := projects[name]
		out, err := File(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		files[name+"/compose_gen.go"] = out
		files[name+"/export.go"] = []byte("package " + p.Package + "\n\nimport \"github.com/composegen/composegen/runtime/composeplan\"\n\n// Plan returns the plan, for the test.\nfunc Plan() *composeplan.Plan { return &composePlan }\n")
		imports.WriteString("\t" + name + " \"x/" + name + "\"\n")
		entries.WriteString("\t\t\"" + name + "\": " + name + ".Plan(),\n")
		want[name] = p.Plan
	}
	files["dump/main.go"] = []byte("package main\n\nimport (\n\t\"encoding/json\"\n\t\"os\"\n\n\t\"github.com/composegen/composegen/runtime/composeplan\"\n" + imports.String() +
		")\n\nfunc main() {\n\tm := map[string]*composeplan.Plan{\n" + entries.String() + "\t}\n\tif err := json.NewEncoder(os.Stdout).Encode(m); err != nil {\n\t\tpanic(err)\n\t}\n}\n")
	dir := tempModule(t, files)
	goCmd(t, dir, "build", "./...")
	goCmd(t, dir, "vet", "./...")
	got := goCmd(t, dir, "run", "./dump")
	wantJSON, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(wantJSON, &w); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("emitted plans differ from the models' (-want +got):\n%s", diff)
	}
}
