package emit

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/composegen/composegen/cmd/composegen/internal/load"
	"github.com/composegen/composegen/cmd/composegen/internal/model"
	"github.com/composegen/composegen/cmd/composegen/internal/testcorpus"
)

// composeCases lists the projects of testdata/compose.
func composeCases(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("testdata", "compose"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names
}

// loadProject runs load and model.Build on the compose project in dir, with
// an empty environment so that nothing of the machine's leaks in.
func loadProject(dir, pkg string) (*model.Project, error) {
	r, err := load.Load(context.Background(), load.Options{WorkDir: dir, OutDir: dir, Environ: []string{}})
	if err != nil {
		return nil, err
	}
	return model.Build(r, model.BuildOptions{Package: pkg, Version: "(test)", Args: []string{"-pkg", pkg}})
}

func composeProject(t *testing.T, name string) *model.Project {
	t.Helper()
	p, err := loadProject(filepath.Join("testdata", "compose", name), name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return p
}

func TestComposeGolden(t *testing.T) {
	for _, name := range composeCases(t) {
		t.Run(name, func(t *testing.T) {
			got, err := File(composeProject(t, name))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", "compose_"+name+".golden"), got)
		})
	}
}

// corpusRejected lists the corpus projects that the loader or the model
// rightly refuses, with a substring of the expected error.
var corpusRejected = map[string]string{}

// TestCorpusCompiles generates the fixtures of every project of the
// awesome-compose corpus and builds and vets them all in one module.
func TestCorpusCompiles(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module with the go command")
	}
	corpus := testcorpus.Dir(t)
	entries, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	projects := map[string]*model.Project{}
	seen := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		seen++
		name := e.Name()
		pkg := packageName(name)
		p, err := loadProject(filepath.Join(corpus, name), pkg)
		if want, ok := corpusRejected[name]; ok {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: err = %v, want one containing %q", name, err, want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		projects[pkg] = p
	}
	if seen < 39 {
		t.Errorf("found %d corpus projects, want at least 39", seen)
	}
	if t.Failed() {
		return
	}
	checkCompiles(t, projects)
}

// packageName turns a corpus directory name into a package name.
func packageName(dir string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(dir) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		s = "p" + s
	}
	return s
}
