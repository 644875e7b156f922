package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuiltBinaryLinksTheRuntime builds the command as users get it and
// runs doctor and prune with an engine it does not link: the test binary
// links more packages than the command (its tests import the runtime), so
// only the built command shows that its own imports implement them.
func TestBuiltBinaryLinksTheRuntime(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the go command")
	}
	bin := filepath.Join(t.TempDir(), "composegen")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"doctor", "-engine", "nonesuch"}, {"prune", "-engine", "nonesuch"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if code := exitCode(err); code != 1 || !strings.Contains(string(out), `engine "nonesuch" is not linked into this binary`) {
			t.Errorf("composegen %s: exit %d, want 1 and the engine named:\n%s", strings.Join(args, " "), code, out)
		}
	}
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
