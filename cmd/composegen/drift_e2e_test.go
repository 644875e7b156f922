package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
	gocmd("test", "./...") // a cached result, if any, for the run below

	renamed := strings.Replace(driftE2ECompose, "name: resp", "name: redis", 1)
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(renamed), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "test", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off", "COMPOSEGEN_DRIFT=")
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
