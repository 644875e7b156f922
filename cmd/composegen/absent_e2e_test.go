package main

import (
	"os/exec"
	"strings"
	"testing"
)

const absentCompose = `services:
  app:
    image: busybox
    command: ["sleep", "300"]
  cache:
    image: busybox
    command: ["sleep", "300"]
  psql:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: secret
    ports: ["5432"]
    profiles: [tools]
`

const absentTest = `package fixtures

import "testing"

// Runs: a nil field still means "not run", as before.
func TestNilCheck(t *testing.T) {
	stack := Start(t)
	if stack.Psql != nil {
		t.Error("service of an inactive profile was started")
	}
	if stack.App == nil || stack.Cache == nil {
		t.Error("a service without profile is nil")
	}
}

// Fails: psql's profile is not active.
func TestPsqlWithoutProfile(t *testing.T) {
	stack := Start(t)
	t.Log(stack.Psql.DSN())
}

// Fails: WithServices leaves cache out.
func TestCacheLeftOut(t *testing.T) {
	stack := Start(t, WithServices(ServiceApp))
	t.Log(stack.Cache.Service().ContainerID())
}
`

// TestAbsentServiceE2E: using a service that the stack instance does not
// run fails the test with the service, why and the typed option that adds
// it, not with a nil pointer dereference; comparing the field with nil
// keeps its meaning.
func TestAbsentServiceE2E(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("needs a container engine and runs the go command; skipped with -short")
	}
	requireDocker(t)
	dir, gocmd := newE2EModule(t, map[string]string{
		"compose.yaml":        absentCompose,
		"fixtures/gen.go":     "package fixtures\n\n//go:generate go run github.com/composegen/composegen/cmd/composegen -f ../compose.yaml\n",
		"fixtures/fx_test.go": absentTest,
	})
	gocmd("generate", "./...")
	gocmd("vet", "./...")
	if out := gocmd("test", "-count=1", "-run", "^TestNilCheck$", "./fixtures"); !strings.Contains(out, "ok") {
		t.Errorf("TestNilCheck:\n%s", out)
	}
	for _, tc := range []struct {
		test string
		want []string
	}{
		{"TestPsqlWithoutProfile", []string{
			`composegen: Stack.Psql is nil: this stack instance does not run service "psql": it has profile "tools", which was not active, or WithServices left it out; start the stack with WithProfiles(ProfileTools), or add ServicePsql to WithServices`,
			"--- FAIL: TestPsqlWithoutProfile", "fx_test.go:19"}},
		{"TestCacheLeftOut", []string{
			`composegen: Stack.Cache is nil: this stack instance does not run service "cache" because WithServices left it out; add ServiceCache to WithServices`,
			"--- FAIL: TestCacheLeftOut", "fx_test.go:25"}},
	} {
		t.Run(tc.test, func(t *testing.T) {
			out, err := goTestFails(dir, tc.test)
			if err == nil {
				t.Fatalf("go test -run %s passed:\n%s", tc.test, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "nil pointer dereference") {
				t.Errorf("a nil pointer dereference:\n%s", out)
			}
		})
	}
}

// goTestFails runs one test of the module's fixtures, expected to fail
// (newE2EModule's go command fails the test on error), and returns its
// output and the go command's error.
func goTestFails(dir, test string) (string, error) {
	cmd := exec.Command("go", "test", "-count=1", "-run", "^"+test+"$", "./fixtures")
	cmd.Dir = dir
	cmd.Env = append(cmd.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
