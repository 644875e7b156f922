package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const driftE2ECompose = `services:
  cache:
    image: redis:7-alpine
    ports:
      - target: 6379
        name: resp
`

const driftE2ETest = `package itest

import "testing"

func TestCache(t *testing.T) {
	stack := Start(t)
	if stack.Cache.Addr() == "" {
		t.Fatal("no address")
	}
}
`

// TestDriftEndToEnd is the user's story: go generate, then a port renamed
// in compose.yaml without go generate. go test (its result cache
// included) fails with the file and the fix before any container is
// created; go generate makes it pass again. Without Docker the last go test
// skips the start (it passes either way: the drift check comes first).
func TestDriftEndToEnd(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the go command")
	}
	dir, gocmd := newE2EModule(t, map[string]string{
		"compose.yaml":              driftE2ECompose,
		"internal/itest/doc.go":     "package itest\n\n//go:generate go run github.com/composegen/composegen/cmd/composegen\n",
		"internal/itest/fx_test.go": driftE2ETest,
	}, "COMPOSEGEN_DRIFT")
	gocmd("generate", "./...")
	gen := readFile(t, filepath.Join(dir, "internal", "itest", "compose_gen.go"))
	if !strings.Contains(gen, `{Path: "../../compose.yaml", SHA256: "`) {
		t.Fatalf("the plan records no hash of ../../compose.yaml:\n%s", gen)
	}
	// go test caches a result only when the files the test opened are
	// older than a few seconds: age them, so that a second run is cached.
	age(t, dir, time.Hour)
	gocmd("test", "./...")
	if out := gocmd("test", "./..."); !strings.Contains(out, "(cached)") {
		t.Fatalf("the second go test was not cached (the check below needs it):\n%s", out)
	}

	// The edit, aged too: only compose.yaml differs from the cached run.
	renamed := strings.Replace(driftE2ECompose, "name: resp", "name: redis", 1)
	compose := filepath.Join(dir, "compose.yaml")
	if err := os.WriteFile(compose, []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	edited := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(compose, edited, edited); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "test", "./...")
	cmd.Dir = dir
	// The environment of gocmd's runs: a variable the test reads that
	// changes (even from unset to empty) would miss the cache by itself.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "COMPOSEGEN_DRIFT=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GOFLAGS=-mod=mod", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err == nil {
		t.Fatalf("go test passed on a stale plan:\n%s", out.String())
	}
	want := regexp.MustCompile(`composegen: start \w+: \.\./\.\./compose\.yaml changed since go generate: run go generate \./\.\.\.`)
	if !want.MatchString(out.String()) {
		t.Fatalf("go test output lacks %q:\n%s", want, out.String())
	}
	if strings.Contains(out.String(), "(cached)") {
		t.Errorf("go test reused a cached result:\n%s", out.String())
	}

	gocmd("generate", "./...")
	if again := readFile(t, filepath.Join(dir, "internal", "itest", "compose_gen.go")); !strings.Contains(again, `Name: "redis"`) || again == gen {
		t.Errorf("go generate did not pick up the renamed port")
	}
	out2 := gocmd("test", "-count=1", "-v", "./...")
	switch {
	case strings.Contains(out2, "--- PASS: TestCache"):
	case strings.Contains(out2, "--- SKIP: TestCache") && os.Getenv("CI") != "true":
		t.Logf("no engine: the regenerated stack was not started:\n%s", out2)
	default:
		t.Errorf("go test after go generate:\n%s", out2)
	}
}

// age sets the modification time of every file under dir to d ago.
func age(t *testing.T, dir string, d time.Duration) {
	t.Helper()
	old := time.Now().Add(-d)
	err := filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		return os.Chtimes(p, old, old)
	})
	if err != nil {
		t.Fatal(err)
	}
}
