package docker

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// socketPeer returns the pid and uid of the process that serves the unix
// socket at path (SO_PEERCRED); ok is false when they cannot be known (the
// server runs in another pid namespace: pid 0).
func socketPeer(path string) (pid int, uid uint32, ok bool) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return 0, 0, false
	}
	defer c.Close()
	uc, isUnix := c.(*net.UnixConn)
	if !isUnix {
		return 0, 0, false
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, 0, false
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil || cerr != nil || cred == nil || cred.Pid <= 0 {
		return 0, 0, false
	}
	return int(cred.Pid), cred.Uid, true
}

// isPodmanProcess reports whether pid is a podman process of this machine
// (the API service is "podman system service").
var isPodmanProcess = func(pid int) bool {
	comm, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return err == nil && strings.TrimSpace(string(comm)) == "podman"
}
