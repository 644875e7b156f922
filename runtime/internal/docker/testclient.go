package docker

import (
	"github.com/composegen/composegen/runtime/engine"
	dt "github.com/ory/dockertest/v3/docker"
)

// RawClient returns the Docker client of an engine that Open returned, for
// tests that check what the engine really holds (a container's host
// config, say); nil for another engine.
func RawClient(e engine.Engine) *dt.Client {
	if d, ok := e.(*Engine); ok {
		return d.c
	}
	return nil
}
