// Package broker is the package of the per-test readiness benchmark that
// needs the whole stack, the broker included.
package broker

import (
	"testing"

	"github.com/composegen/composegen/bench/partial/internal/work"
)

func TestBroker(t *testing.T) { work.Broker(t) }
