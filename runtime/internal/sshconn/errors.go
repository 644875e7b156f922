package sshconn

import (
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/composegen/composegen/runtime/internal/discover"
)

// sshError explains why ssh exited.
func sshError(spec *discover.SSH, st *os.ProcessState, stderr string) error {
	msg := strings.TrimSpace(stderr)
	target := spec.String()
	switch {
	case strings.Contains(msg, "Permission denied") || strings.Contains(msg, "Too many authentication failures"):
		return fmt.Errorf("ssh authentication to %s failed (ssh runs in batch mode, without prompts: add the key to ssh-agent or name it with IdentityFile in ~/.ssh/config): %s", target, msg)
	case strings.Contains(msg, "Host key verification failed") || strings.Contains(msg, "HOST IDENTIFICATION HAS CHANGED"):
		return fmt.Errorf("ssh does not trust the host key of %s (connect once with ssh to check and accept it): %s", target, msg)
	case st != nil && st.ExitCode() == 127 || strings.Contains(msg, "command not found") || strings.Contains(msg, "docker: not found"):
		return fmt.Errorf("no docker command on %s: the engine is reached through `docker system dial-stdio` there, so the docker CLI must be on the remote PATH: %s", target, msg)
	case strings.Contains(msg, "Session open refused") || strings.Contains(msg, "administratively prohibited"):
		return fmt.Errorf("the sshd of %s refused a session: its MaxSessions is lower than the sessions composegen opens per ssh connection (%d unless COMPOSEGEN_SSH_SESSIONS says otherwise); set COMPOSEGEN_SSH_SESSIONS to that MaxSessions: %s", target, sessionsPerMaster, msg)
	case strings.Contains(msg, "Cannot connect to the Docker daemon") || strings.Contains(msg, "raw stream connection") || strings.Contains(msg, "unknown command"):
		return fmt.Errorf("the docker CLI on %s cannot reach its engine (`docker system dial-stdio` needs Docker 18.09 or later and a running engine there): %s", target, msg)
	}
	code := "was killed"
	if st != nil && st.Exited() {
		code = fmt.Sprintf("exited with code %d", st.ExitCode())
	}
	if msg == "" {
		msg = "no message"
	}
	return fmt.Errorf("ssh to %s %s: %s", target, code, msg)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
