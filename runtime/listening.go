package runtime

import "github.com/composegen/composegen/runtime/internal/readiness"

// listening returns the TCP ports on which the container's processes
// listen (see readiness.Listening). ok is false where that cannot be read:
// a remote engine, another OS, no permission.
func (s *replica) listening() (ports map[int]bool, ok bool) {
	if !s.stack.info.Local {
		return nil, false
	}
	s.mu.Lock()
	pid := s.pid
	s.mu.Unlock()
	return readiness.Listening(pid)
}
