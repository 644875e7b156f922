package runtime

import "testing"

// COMPOSEGEN_DIR sets the directory the plan's relative paths are resolved
// against, as WithDir does; WithDir wins. (The fidelity and build tests use
// WithDir, so that they can run in parallel.)
func TestDirFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("COMPOSEGEN_DIR", dir)
	if got := callerDir(newConfig(nil)); got != dir {
		t.Errorf("COMPOSEGEN_DIR=%s: plan directory %s", dir, got)
	}
	other := t.TempDir()
	if got := callerDir(newConfig([]Option{WithDir(other)})); got != other {
		t.Errorf("WithDir(%s) with COMPOSEGEN_DIR=%s: plan directory %s, want WithDir's", other, dir, got)
	}
}
