// Package probe speaks just enough of each service protocol to tell a
// server that accepts connections from a port that only seems open.
//
// docker-proxy (and a port-forward) accepts a connection on the host before
// anything listens in the container, then closes it; a starting database
// answers "starting up". So a plain connect is never taken as ready: the
// server has to answer the protocol's greeting, or at least keep the
// connection open.
package probe

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// Protocols lists the protocols Run speaks.
var Protocols = []string{"tcp", "http", "postgres", "redis", "mysql", "memcached", "amqp"}

// Timeout bounds one probe.
const Timeout = 2 * time.Second

// Run probes the server at addr (host:port) with protocol; path is the URL
// path of an "http" probe. It returns nil when the server answers as a ready
// one does.
func Run(ctx context.Context, protocol, path, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	if protocol == "http" {
		return HTTP(ctx, addr, path)
	}
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	return Conn(ctx, protocol, conn)
}

// Conn runs the probe of protocol (any but "http") on an open connection.
func Conn(ctx context.Context, protocol string, conn net.Conn) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	switch protocol {
	case "postgres":
		return postgres(conn)
	case "redis":
		return redis(conn)
	case "mysql":
		return mysql(conn)
	case "memcached":
		return line(conn, "version\r\n", "VERSION")
	case "amqp":
		return amqp(conn)
	case "tcp", "":
		return tcp(conn)
	default:
		return fmt.Errorf("unknown probe protocol %q", protocol)
	}
}

// tcpQuiet is how long a connection must stay open without data for the
// generic probe to take it as a listening server.
var tcpQuiet = 150 * time.Millisecond

// tcp takes a connection that stays open without data for a moment, or that
// brings data, as a listening server; docker-proxy with nothing behind it
// closes at once.
func tcp(conn net.Conn) error {
	_ = conn.SetReadDeadline(time.Now().Add(tcpQuiet))
	var b [1]byte
	_, err := conn.Read(b[:])
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return fmt.Errorf("connection closed at once (nothing listens in the container yet): %v", err)
}

// HTTP sends GET path to addr and accepts any status below 500.
func HTTP(ctx context.Context, addr, path string) error {
	if path == "" {
		path = "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return nil
}

var httpClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// postgres sends a StartupMessage and accepts any answer but "the database
// system is starting up" (57P03), "shutting down" (57P01/57P02, as during
// the entrypoint's init-only server's stop) or a closed connection.
func postgres(conn net.Conn) error {
	var msg bytes.Buffer
	msg.Write([]byte{0, 0, 0, 0, 0, 3, 0, 0}) // length, protocol 3.0
	msg.WriteString("user\x00composegen_probe\x00database\x00postgres\x00\x00")
	b := msg.Bytes()
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	if _, err := conn.Write(b); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	typ, err := r.ReadByte()
	if err != nil {
		return fmt.Errorf("no answer to startup: %v", err)
	}
	if typ != 'E' {
		return nil // authentication request or parameter status: accepting connections
	}
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint32(lb[:])) - 4
	if n < 0 || n > 1<<16 {
		return errors.New("bad error message")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return err
	}
	var code, text string
	for _, f := range bytes.Split(body, []byte{0}) {
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case 'C':
			code = string(f[1:])
		case 'M':
			text = string(f[1:])
		}
	}
	switch code {
	case "57P03", "57P01", "57P02":
		return fmt.Errorf("%s (%s)", text, code)
	}
	return nil
}

func redis(conn net.Conn) error {
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	l, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no answer to PING: %v", err)
	}
	if strings.HasPrefix(l, "-LOADING") || strings.HasPrefix(l, "-MASTERDOWN") || strings.HasPrefix(l, "-BUSY") {
		return errors.New(strings.TrimSpace(l))
	}
	return nil
}

// mysql reads the server's greeting, which MySQL and MariaDB send as soon
// as they accept connections (not during init, which runs with networking
// off).
func mysql(conn net.Conn) error {
	var hdr [4]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		return fmt.Errorf("no greeting: %v", err)
	}
	n := int(hdr[0]) | int(hdr[1])<<8 | int(hdr[2])<<16
	if n == 0 || n > 1<<16 {
		return errors.New("bad greeting")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return err
	}
	// A greeting, or an error packet such as "host not allowed" or "too
	// many connections": either way the server is up.
	return nil
}

func line(conn net.Conn, send, want string) error {
	if _, err := conn.Write([]byte(send)); err != nil {
		return err
	}
	l, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no answer: %v", err)
	}
	if !strings.HasPrefix(l, want) {
		return fmt.Errorf("unexpected answer %q", strings.TrimSpace(l))
	}
	return nil
}

// amqp sends the AMQP 0-9-1 protocol header; a broker answers with the
// Connection.Start method frame (type 1).
func amqp(conn net.Conn) error {
	if _, err := conn.Write([]byte("AMQP\x00\x00\x09\x01")); err != nil {
		return err
	}
	var b [1]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return fmt.Errorf("no answer to protocol header: %v", err)
	}
	if b[0] != 1 {
		return fmt.Errorf("unexpected frame type %d", b[0])
	}
	return nil
}
