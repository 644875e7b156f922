//go:build freshsuite

package p3

import (
	"testing"

	"github.com/composegen/composegen/templates/internal/fresh/internal/freshsuite"
)

func TestFresh(t *testing.T) { freshsuite.Run(t, "p3") }
