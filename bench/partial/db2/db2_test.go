// Package db2 is a database-only package of the per-test readiness
// benchmark.
package db2

import (
	"testing"

	"github.com/composegen/composegen/bench/partial/internal/work"
)

func TestA(t *testing.T) { work.Database(t) }
func TestB(t *testing.T) { work.Database(t) }
func TestC(t *testing.T) { work.Database(t) }
