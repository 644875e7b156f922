//go:build !linux

package sshconn

import "syscall"

// childAttr is nil where the parent's death cannot signal a child: ssh
// processes then end when their pipes close.
func childAttr() *syscall.SysProcAttr { return nil }
