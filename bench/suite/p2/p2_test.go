package p2

import (
	"testing"

	"github.com/composegen/composegen/bench/suite/internal/work"
)

func TestA(t *testing.T) { work.Run(t) }
func TestB(t *testing.T) { work.Run(t) }
func TestC(t *testing.T) { work.Run(t) }
func TestD(t *testing.T) { work.Run(t) }
func TestE(t *testing.T) { work.Run(t) }
