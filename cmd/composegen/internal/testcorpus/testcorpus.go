// Package testcorpus locates, for composegen's tests, the repository root
// and the shared corpus of real compose files (docker/awesome-compose, in
// shared/corpus/awesome-compose beside the repository or beside one of its
// parent directories, so that a git worktree finds it too).
package testcorpus

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// RepoRoot returns the directory of the composegen module's go.mod, found
// upwards from the test's working directory.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && isMainModule(b) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("the composegen module's go.mod was not found above the test directory")
		}
		dir = parent
	}
}

func isMainModule(gomod []byte) bool {
	const want = "module github.com/composegen/composegen\n"
	return len(gomod) >= len(want) && string(gomod[:len(want)]) == want
}

// Dir returns the corpus directory: shared/corpus/awesome-compose in the
// parent of the repository or in one of its ancestors. When it is missing the
// test fails under CI=true and is skipped otherwise.
func Dir(tb testing.TB) string {
	tb.Helper()
	root := RepoRoot(tb)
	for d := filepath.Dir(root); ; {
		dir := filepath.Join(d, "shared", "corpus", "awesome-compose")
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			return dir
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("CI=true and the compose corpus (shared/corpus/awesome-compose beside %s or a parent) is missing", root)
	}
	tb.Skipf("compose corpus not found beside %s or a parent", root)
	return ""
}

// Files returns the corpus's compose files (one per project, under any of
// compose's default names), sorted. Missing corpus: as Dir.
func Files(tb testing.TB) []string {
	tb.Helper()
	dir := Dir(tb)
	var files []string
	for _, pat := range []string{"*/compose.yaml", "*/compose.yml", "*/docker-compose.yaml", "*/docker-compose.yml"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		files = append(files, m...)
	}
	sort.Strings(files)
	return files
}
