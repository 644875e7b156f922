package docker

import (
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/composegen/composegen/runtime/internal/discover"
	"github.com/composegen/composegen/runtime/internal/sshconn"
)

// dialer opens a connection to the engine's API. Every connection of the
// engine goes through it: the HTTP transport, the dockertest client's
// streams and the hijacked exec streams.
type dialer interface {
	DialContext(ctx context.Context) (net.Conn, error)
	Close() error
}

// dialTimeout bounds the set-up of one connection (TCP and TLS handshake).
const dialTimeout = 10 * time.Second

// newDialer returns the dialer of an endpoint.
func newDialer(ctx context.Context, ep discover.Endpoint) (dialer, error) {
	switch ep.Scheme {
	case "unix":
		if _, err := os.Stat(ep.Addr); errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("no such socket")
		}
		return &netDialer{network: "unix", addr: ep.Addr}, nil
	case "tcp":
		d := &netDialer{network: "tcp", addr: ep.Addr}
		if ep.TLS != nil {
			host, _, _ := net.SplitHostPort(ep.Addr)
			cfg, err := ep.TLS.Config(host, time.Now())
			if err != nil {
				return nil, err
			}
			d.tls = cfg
		}
		return d, nil
	case "ssh":
		return sshconn.New(ctx, ep.SSH)
	}
	return nil, errors.New("unsupported scheme " + ep.Scheme)
}

// netDialer dials a unix socket or a TCP address, with TLS when tls is set.
type netDialer struct {
	network, addr string
	tls           *tls.Config
}

// DialContext connects, and for TLS completes the handshake, within
// dialTimeout.
func (d *netDialer) DialContext(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	var nd net.Dialer
	c, err := nd.DialContext(ctx, d.network, d.addr)
	if err != nil || d.tls == nil {
		return c, err
	}
	tc := tls.Client(c, d.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, &handshakeError{err: err}
	}
	return tc, nil
}

func (d *netDialer) Close() error { return nil }

// handshakeError marks a failed TLS handshake, which Open explains.
type handshakeError struct{ err error }

func (e *handshakeError) Error() string { return "TLS handshake: " + e.err.Error() }
func (e *handshakeError) Unwrap() error { return e.err }

// dockertestDialer adapts a dialer to the dockertest client, which dials
// with Dial(network, address) for its streams: the address is ignored.
type dockertestDialer struct{ d dialer }

func (a dockertestDialer) Dial(string, string) (net.Conn, error) {
	return a.d.DialContext(context.Background())
}

// newTransport returns an HTTP transport that keeps connections alive
// (each new connection costs a TLS handshake or an ssh session) and dials
// every connection through d. Proxies do not apply: the engine is dialled
// directly.
func newTransport(d dialer, idle int) *http.Transport {
	return &http.Transport{
		DialContext:         func(ctx context.Context, _, _ string) (net.Conn, error) { return d.DialContext(ctx) },
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		IdleConnTimeout:     60 * time.Second,
		DisableCompression:  true,
	}
}
