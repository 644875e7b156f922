package runtime

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

	"github.com/composegen/composegen/runtime/composeplan"
)

// probeAddr runs a readiness probe against addr (a published port) speaking
// the service's protocol. docker-proxy accepts connections on the host
// before the container listens and then closes them, so a plain connect is
// never taken as ready: the server has to answer, or at least keep the
// connection open.
func probeAddr(ctx context.Context, p *composeplan.ProbeSpec, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if p.Protocol == "http" {
		return probeHTTP(ctx, addr, p.Path)
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	switch p.Protocol {
	case "postgres":
		return probePostgres(conn)
	case "redis":
		return probeRedis(conn)
	case "mysql":
		return probeMySQL(conn)
	case "memcached":
		return probeLine(conn, "version\r\n", "VERSION")
	case "amqp":
		return probeAMQP(conn)
	default:
		return probeTCP(conn)
	}
}

// probeTCP takes a connection that stays open without data for a moment, or
// that brings data, as a listening server; docker-proxy with nothing behind
// it closes at once.
func probeTCP(conn net.Conn) error {
	_ = conn.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
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

func probeHTTP(ctx context.Context, addr, path string) error {
	if path == "" {
		path = "/"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := probeHTTPClient.Do(req)
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

var probeHTTPClient = &http.Client{
	Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

// probePostgres sends a StartupMessage and accepts any answer but "the
// database system is starting up" (57P03) or a closed connection.
func probePostgres(conn net.Conn) error {
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
	if code == "57P03" {
		return fmt.Errorf("%s", text)
	}
	return nil
}

func probeRedis(conn net.Conn) error {
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no answer to PING: %v", err)
	}
	if strings.HasPrefix(line, "-LOADING") || strings.HasPrefix(line, "-MASTERDOWN") {
		return errors.New(strings.TrimSpace(line))
	}
	return nil
}

// probeMySQL reads the server's greeting, which MySQL and MariaDB send as
// soon as they accept connections (not during init, which runs with
// networking off).
func probeMySQL(conn net.Conn) error {
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

func probeLine(conn net.Conn, send, want string) error {
	if _, err := conn.Write([]byte(send)); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no answer: %v", err)
	}
	if !strings.HasPrefix(line, want) {
		return fmt.Errorf("unexpected answer %q", strings.TrimSpace(line))
	}
	return nil
}

func probeAMQP(conn net.Conn) error {
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
