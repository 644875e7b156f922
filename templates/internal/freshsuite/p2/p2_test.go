//go:build freshsuite

package p2

import (
	"testing"

	"github.com/composegen/composegen/templates/internal/freshsuite"
)

func TestFresh(t *testing.T) { freshsuite.Run(t, "p2") }
