//go:build tc

package p6

import (
	"os"
	"testing"

	"github.com/composegen/composegen/bench/suite/internal/tcmain"
)

func TestMain(m *testing.M) { os.Exit(tcmain.Main(m)) }
