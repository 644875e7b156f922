//go:build sharedsuite

package d

import (
	"testing"

	"github.com/composegen/composegen/runtime/internal/sharedsuite"
)

func TestOwnStack(t *testing.T) {
	sharedsuite.OwnStack(t)
}
