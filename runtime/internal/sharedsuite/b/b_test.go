//go:build sharedsuite

package b

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/composegen/composegen/runtime/internal/sharedsuite"
)

// TestMain gives this package's binary alone a short -test.timeout in
// timeout mode: its victim sleeps until go test's alarm kills the binary
// (no cleanup runs), while the other packages keep the default timeout to
// start the stack and pass on it, however busy the machine.
func TestMain(m *testing.M) {
	flag.Parse()
	if sharedsuite.Mode() == "timeout" {
		_ = flag.Set("test.timeout", "40s")
	}
	os.Exit(m.Run())
}

func TestShared(t *testing.T) {
	for i := 0; i < 3; i++ {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			sharedsuite.Run(t, "b", i == 1)
		})
	}
}
