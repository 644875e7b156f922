package runtime

import (
	"os"

	"github.com/composegen/composegen/runtime/internal/diag"
)

// notice prints a one-line notice (see diag.Notice): to WithLogf's logf,
// else once per process to the standard error of the go command the test
// binary runs under, or to its own. msg must be masked.
func notice(cfg config, msg string) {
	goPid := 0
	if cfg.logf == nil {
		if run := currentRun(); run.viaGo && os.Getppid() == run.id.Pid {
			goPid = run.id.Pid
		}
	}
	diag.Notice(msg, cfg.logf, goPid)
}
