//go:build !tc

package p3

import (
	"os"
	"testing"

	"github.com/composegen/composegen/bench/suite/internal/work"
)

func TestMain(m *testing.M) { os.Exit(work.Main(m)) }
