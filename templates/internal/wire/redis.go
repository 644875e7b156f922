package wire

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// RedisError is an error reply of a Redis server.
type RedisError struct{ Msg string }

func (e *RedisError) Error() string { return "redis: " + e.Msg }

// Redis is a RESP connection to a Redis server (or one that speaks its
// protocol: Valkey, KeyDB, Dragonfly). It is not safe for concurrent use.
type Redis struct {
	conn net.Conn
	r    *bufio.Reader
}

// DialRedis connects and, when password is not empty, authenticates (as
// user, or the default user when user is empty).
func DialRedis(ctx context.Context, addr, user, password string) (*Redis, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c := &Redis{conn: conn, r: bufio.NewReader(conn)}
	if password != "" {
		args := []string{"AUTH", password}
		if user != "" {
			args = []string{"AUTH", user, password}
		}
		if _, err := c.Do(ctx, args...); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return c, nil
}

// Close closes the connection.
func (c *Redis) Close() error { return c.conn.Close() }

// Do sends a command and returns its reply: a string for simple strings,
// bulk strings and integers ("" for nil), a []any for arrays, a
// *RedisError for an error reply.
func (c *Redis) Do(ctx context.Context, args ...string) (any, error) {
	stop := bindConn(ctx, c.conn)
	defer stop()
	var b []byte
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, "\r\n"...)
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, "\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	if _, err := c.conn.Write(b); err != nil {
		return nil, ctxErr(ctx, err)
	}
	v, err := c.reply(0)
	if err != nil {
		var re *RedisError
		if errors.As(err, &re) {
			return nil, err
		}
		return nil, ctxErr(ctx, err)
	}
	return v, nil
}

func (c *Redis) reply(depth int) (any, error) {
	if depth > 8 {
		return nil, errors.New("redis: reply nested too deep")
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return nil, errors.New("redis: empty reply line")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return nil, &RedisError{Msg: line[1:]}
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n > 512<<20 {
			return nil, fmt.Errorf("redis: bad bulk length %q", line)
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(c.r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n > 1<<20 {
			return nil, fmt.Errorf("redis: bad array length %q", line)
		}
		if n < 0 {
			return []any(nil), nil
		}
		out := make([]any, 0, n)
		for i := 0; i < n; i++ {
			v, err := c.reply(depth + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	return nil, fmt.Errorf("redis: unexpected reply %q", line)
}
