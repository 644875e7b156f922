package sshconn

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"
)

// sshTrace, when COMPOSEGEN_SSH_TRACE is set, logs every session's
// lifecycle to stderr (for diagnosing stalls).
var sshTrace = os.Getenv("COMPOSEGEN_SSH_TRACE") != ""

var traceStart = time.Now()

var liveSessions atomic.Int64

func traceSSH(format string, args ...any) {
	if sshTrace {
		fmt.Fprintf(os.Stderr, "ssh-trace %8.3f "+format+"\n", append([]any{time.Since(traceStart).Seconds()}, args...)...)
	}
}

func (c *cmdConn) trace(format string, args ...any) {
	if sshTrace {
		traceSSH("pid %d: "+format, append([]any{c.cmd.Process.Pid}, args...)...)
	}
}
