//go:build freshsuite

package p1

import (
	"testing"

	"github.com/composegen/composegen/templates/internal/fresh/internal/freshsuite"
)

func TestFresh(t *testing.T) { freshsuite.Run(t, "p1") }
