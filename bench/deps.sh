#!/bin/sh
# Non-standard packages compiled into a test that imports composegen's
# generated fixtures (runtime and templates) versus one that imports
# testcontainers-go's compose module. Run from anywhere: bench/deps.sh
#
# composegen is counted in the main module, with the versions its go.mod
# gives a user. (In this nested module, MVS raises docker/cli to what
# testcontainers-go needs, which drags moby and OpenTelemetry into
# dockertest's closure too: that figure is printed for reference.)
set -eu
cd "$(dirname "$0")"
count() { go list -deps -f '{{if not .Standard}}{{.ImportPath}}{{end}}' "$@" | grep -c .; }
echo "composegen fixtures (example/itest, main module): $(cd .. && count ./example/itest)"
echo "composegen runtime alone (main module):           $(cd .. && count ./runtime)"
echo "testcontainers-go compose module v0.45.0:         $(count github.com/testcontainers/testcontainers-go/modules/compose)"
echo "(composegen fixtures inside bench's module graph: $(count ./fixtures/example))"
