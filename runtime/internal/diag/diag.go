// Package diag writes what a failed start and a failing test show: a
// container state in words, each service's headline (state, ready or not,
// published ports), the failure dump that puts the services in trouble
// first, the tail of the last probe outputs and log lines (cut in lines
// and bytes, control bytes escaped, secrets masked before the cut), the
// timeline of a start, the one-line notices a run prints once, and the
// writers that keep the last bytes of an output or mask secrets line by
// line. It formats plain data and is not the gathering of it: package
// runtime inspects the containers, reads their logs and the replicas'
// state under their locks, and hands the facts to this package, which
// therefore needs no engine and is tested with exact strings.
package diag

import (
	"context"
	"errors"
)

// IsCancel reports whether err is a cancellation or a deadline, which is
// not the failure of a service but the end of the wait for it.
func IsCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
