//go:build sharedsuite

package f

import (
	"testing"

	"github.com/composegen/composegen/runtime/internal/sharedsuite"
)

func TestWholeStack(t *testing.T) {
	sharedsuite.RunFull(t, "f")
}

func TestPostgresOnlyToo(t *testing.T) {
	sharedsuite.RunPart(t, "f")
}
