package sshconn

import "syscall"

// childAttr makes ssh processes die with this process (a killed test
// binary must not leave its ssh sessions behind).
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
