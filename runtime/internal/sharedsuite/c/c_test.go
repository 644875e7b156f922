//go:build sharedsuite

package c

import (
	"fmt"
	"testing"

	"github.com/composegen/composegen/runtime/internal/sharedsuite"
)

func TestShared(t *testing.T) {
	for i := 0; i < 3; i++ {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			sharedsuite.Run(t, "c", false)
		})
	}
}
