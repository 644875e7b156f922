package runtime

import (
	"net"
	"strconv"
	"time"
)

// TB is the part of testing.TB that Start uses. *testing.T, *testing.B and
// *testing.F satisfy it.
type TB interface {
	Helper()
	Cleanup(func())
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Failed() bool
	Name() string
}

// Port is a published container port as seen from the test process.
type Port struct {
	// Host is the address to dial: 127.0.0.1 for a local engine, the
	// engine's host for a remote one.
	Host string
	// HostPort is the published port on Host.
	HostPort int
	// Target is the container port, Protocol "tcp" or "udp".
	Target   int
	Protocol string
	// Scheme is the URL scheme used by URL: the port's app_protocol, else
	// "http".
	Scheme string
}

// Addr returns "host:port", ready for net.Dial and most clients.
func (p Port) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.HostPort)) }

// URL returns "scheme://host:port" with the port's scheme (app_protocol,
// else http).
func (p Port) URL() string {
	s := p.Scheme
	if s == "" {
		s = "http"
	}
	return s + "://" + p.Addr()
}

// String returns Addr.
func (p Port) String() string { return p.Addr() }

// Healthcheck is a service's healthcheck as the compose file declares it.
type Healthcheck struct {
	// Test is the compose form: ["CMD", args...], ["CMD-SHELL", cmd] or
	// ["NONE"], with the compose file's ${VAR} templates.
	Test          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
	// Disable is set for disable: true and test: ["NONE"].
	Disable bool
}

// ExecResult is the outcome of Service.Exec.
type ExecResult struct {
	ExitCode int
	Stdout   string
	Stderr   string
}
