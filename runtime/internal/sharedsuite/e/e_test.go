//go:build sharedsuite

package e

import (
	"fmt"
	"testing"

	"github.com/composegen/composegen/runtime/internal/sharedsuite"
)

func TestPostgresOnly(t *testing.T) {
	for i := 0; i < 3; i++ {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			sharedsuite.RunPart(t, "e")
		})
	}
}
