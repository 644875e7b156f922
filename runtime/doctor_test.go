package runtime

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestStaleDNS(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"aardvark.pid", "podman", "app_default", "gone_net2", "gone_net1"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("10.89.0.1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A network removed after the directory was read takes its file.
	if err := os.Remove(filepath.Join(dir, "app_default")); err != nil {
		t.Fatal(err)
	}
	got := staleDNS(dir, files, map[string]bool{"podman": true})
	if want := []string{"gone_net1", "gone_net2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("staleDNS = %q, want %q", got, want)
	}
	if got := staleDNS(dir, files, map[string]bool{"podman": true, "gone_net1": true, "gone_net2": true}); got != nil {
		t.Errorf("staleDNS with every network present = %q, want none", got)
	}
}
