package sshconn

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/composegen/composegen/runtime/internal/discover"
)

// cmdConn is a net.Conn over a command's stdin and stdout.
type cmdConn struct {
	cmd    *exec.Cmd
	spec   *discover.SSH
	stdin  *os.File
	stdout *os.File
	stderr *tailBuffer
	done   chan struct{} // closed when the command exited
	born   time.Time
	once   sync.Once
	closed chan struct{}
	// buffered holds what the ping read past its answer (normally
	// nothing); Read returns it first.
	buffered *bufio.Reader
}

// loginTimeout bounds a spare's login and first ping, and a dial's wait
// for a spare. A login is slow when the remote host is loaded, or when
// its shell start-up files wait (pyenv's rehash lock: up to 60 s); only a
// session that does not answer for this long is given up.
var loginTimeoutNanos atomic.Int64

func init() { setLoginTimeout(2 * time.Minute) }

// loginTimeout is the bound described above (atomic: a test changes it
// while the goroutines of an earlier test's dialer may still read it).
func loginTimeout() time.Duration { return time.Duration(loginTimeoutNanos.Load()) }

func setLoginTimeout(d time.Duration) { loginTimeoutNanos.Store(int64(d)) }

// ping sends GET /_ping and reads the answer, leaving the connection
// ready for the next request.
func (c *cmdConn) ping() error {
	if err := c.SetDeadline(time.Now().Add(loginTimeout())); err != nil {
		return err
	}
	if _, err := io.WriteString(c, "GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n"); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("ping: %s", resp.Status)
	}
	c.buffered = br
	return errors.Join(err, c.SetDeadline(time.Time{}))
}

func startCmdConn(cmd *exec.Cmd, spec *discover.SSH) (*cmdConn, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	c := &cmdConn{cmd: cmd, spec: spec, stdin: inW, stdout: outR, stderr: &tailBuffer{max: 4096},
		done: make(chan struct{}), born: time.Now(), closed: make(chan struct{})}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, c.stderr
	cmd.SysProcAttr = childAttr()
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("start ssh: %w", err)
	}
	go func() {
		_ = cmd.Wait()
		close(c.done)
		c.trace("exited: %v after %v; stderr %q", cmd.ProcessState, time.Since(c.born).Round(time.Millisecond), strings.TrimSpace(c.stderr.String()))
	}()
	return c, nil
}

// usable reports whether a spare may still be handed out.
func (c *cmdConn) usable() bool {
	select {
	case <-c.done:
		return false
	default:
		return time.Since(c.born) < maxSpareAge
	}
}

// exitError returns ssh's failure when the command failed (waiting a
// moment for it to exit after closing its output), else err.
func (c *cmdConn) exitError(err error) error {
	select {
	case <-c.closed:
		return err
	case <-c.done:
	case <-time.After(time.Second):
		return err
	}
	if st := c.cmd.ProcessState; st.Success() {
		return err
	}
	return sshError(c.spec, c.cmd.ProcessState, c.stderr.String())
}

// Read reads the command's stdout; at its end, a failed ssh becomes an
// error that says why.
func (c *cmdConn) Read(p []byte) (int, error) {
	if c.buffered != nil && c.buffered.Buffered() > 0 {
		return c.buffered.Read(p)
	}
	n, err := c.stdout.Read(p)
	if err == io.EOF {
		err = c.exitError(io.EOF)
	}
	return n, err
}

// Write writes to the command's stdin.
func (c *cmdConn) Write(p []byte) (int, error) {
	n, err := c.stdin.Write(p)
	if err != nil {
		err = c.exitError(err)
	}
	return n, err
}

// CloseWrite closes the command's stdin: the engine sees the end of the
// request stream (hijacked connections need it).
func (c *cmdConn) CloseWrite() error { return c.stdin.Close() }

// Close ends the session.
func (c *cmdConn) Close() error {
	c.once.Do(func() {
		c.trace("closed after %v", time.Since(c.born).Round(time.Millisecond))
		close(c.closed)
		c.stdin.Close()
		c.stdout.Close()
		select {
		case <-c.done:
		default:
			_ = c.cmd.Process.Kill()
		}
	})
	return nil
}

// LocalAddr, RemoteAddr and the deadlines make cmdConn a net.Conn.
func (c *cmdConn) LocalAddr() net.Addr  { return sshAddr("local") }
func (c *cmdConn) RemoteAddr() net.Addr { return sshAddr(c.spec.String()) }

func (c *cmdConn) SetDeadline(t time.Time) error {
	return errors.Join(c.stdout.SetReadDeadline(t), c.stdin.SetWriteDeadline(t))
}
func (c *cmdConn) SetReadDeadline(t time.Time) error  { return c.stdout.SetReadDeadline(t) }
func (c *cmdConn) SetWriteDeadline(t time.Time) error { return c.stdin.SetWriteDeadline(t) }

type sshAddr string

func (a sshAddr) Network() string { return "ssh" }
func (a sshAddr) String() string  { return string(a) }
