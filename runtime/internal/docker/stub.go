// Package docker is being written on another branch; this placeholder lets
// the runtime compile until it lands.
package docker

import (
	"context"
	"errors"

	"github.com/composegen/composegen/runtime/engine"
)

// Open connects to the Docker engine.
func Open(ctx context.Context) (engine.Engine, error) { return nil, errors.New("not yet") }
