//go:build freshsuite

package p2

import (
	"testing"

	"github.com/composegen/composegen/templates/internal/fresh/internal/freshsuite"
)

func TestFresh(t *testing.T) { freshsuite.Run(t, "p2") }
