package kube

import (
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/engine/enginetest"
)

// TestConformance runs the engine SPI's conformance suite on the test
// cluster. What Kubernetes cannot do is turned off, each for its reason
// (the same list is in the package documentation and docs/engines.md):
//
//   - Pause: Kubernetes cannot freeze a container (Pause and Unpause
//     return an error wrapping errors.ErrUnsupported).
//   - Build: a cluster cannot build images (Info().NoBuild).
//   - Pull: the kubelet pulls a pod's image when it starts the pod; Pull
//     does nothing, so it cannot fail for a missing image (Start does).
//   - SharedNamespaces: a pod cannot join another pod's network, pid or
//     ipc namespace (network_mode, pid, ipc "container:…" are refused).
//   - SharedVolumes: a named volume is an emptyDir of the one pod that
//     mounts it; a second container mounting it is refused.
//   - LogStreams: the pod log API merges stdout and stderr, so Logs
//     writes both to stdout.
//   - Pid: the API does not report a container's process id, and the
//     cluster is not this machine (State.Pid is 0).
//
// Everything else runs: create, start, stop and restart (a recreated
// pod), signals (kill in the container), restart policies, tty output,
// exec, logs, copy, networks and aliases (Services), published ports
// (port-forwards), List and Remove, and Image.
func TestConformance(t *testing.T) {
	eng := testEngine(t)
	t.Parallel() // alongside the package's other cluster tests
	t.Logf("engine: %+v", eng.Info())
	enginetest.Run(t, eng,
		enginetest.Without(
			enginetest.Pause,
			enginetest.Build,
			enginetest.Pull,
			enginetest.SharedNamespaces,
			enginetest.SharedVolumes,
			enginetest.LogStreams,
			enginetest.Pid,
		),
		// A pod is scheduled, its sandbox and network set up and its
		// container started: seconds per step under load, more than
		// Docker's.
		enginetest.WithTimeout(4*time.Minute),
	)
}
