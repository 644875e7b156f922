package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// On a working engine, doctor names it, makes a real round trip and says
// which images of a compose file are present and which would be pulled.
func TestDoctorCommand(t *testing.T) {
	requireDocker(t)
	dir := t.TempDir()
	compose := "services:\n  db:\n    image: postgres:16\n  gone:\n    image: example.invalid/composegen-doctor:1\n  app:\n    build: ./app\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	c := newProc(&stdout, &stderr)
	c.getwd = func() (string, error) { return dir, nil }
	code := run(context.Background(), []string{"doctor", "-f", "compose.yaml"}, c)
	out := stdout.String()
	if code != 0 {
		t.Fatalf("doctor exited %d:\n%s%s", code, out, stderr.String())
	}
	for _, want := range []string{
		"ok       engine: docker ",
		"ok       round trip: created a container, published a port and got its answer",
		"ok       image postgres:16: present",
		"warning  image example.invalid/composegen-doctor:1: not present: the first start pulls it",
		`note     service "app": built from`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
}
