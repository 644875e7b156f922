package sshconn

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/composegen/composegen/runtime/internal/discover"
)

// Dialer reaches an engine the way the docker CLI's connhelper does:
// every connection is `ssh [-p port] [-l user] host -- docker system
// dial-stdio`, whose stdin and stdout carry the API connection.
//
// Two things make it fast. A ControlMaster, started once in a private
// temporary directory and stopped by Close, carries the sessions over one
// authenticated ssh connection; sshd bounds the sessions of a connection
// (MaxSessions, 10 by default), so when one master carries
// sessionsPerMaster of them, another master is started for the next ones.
// And spare sessions are started ahead of
// need and warmed with a ping: each new API connection (and every exec,
// whose hijacked connection the engine closes at its end) takes a session
// whose remote login is done and whose engine has answered, instead of
// paying for the remote login shell at that moment. There are two spares
// at first; each dial that finds none warm adds one, up to maxSpares, so
// that the pool follows the caller's rate of new connections.
//
// (ssh -W to the remote socket would skip the remote shell altogether,
// but it needs stream forwarding, which hardened sshd configurations
// refuse, and it would bypass the remote docker CLI's choice of engine.)
type Dialer struct {
	spec   *discover.SSH
	bin    string
	dir    string // private directory of the control sockets; "" without multiplexing
	spares int    // sessions kept ready (grows with misses); 0 disables them
	// perMaster bounds the sessions of one master (sessionsPerMaster).
	perMaster int

	// starting serialises the start of masters (before mu).
	starting sync.Mutex

	mu      sync.Mutex
	masters []*master         // oldest first
	pool    []*cmdConn        // warm spares, oldest first
	warming int               // spares being started
	logging map[*cmdConn]bool // the spares being started that have a process
	changed chan struct{}     // closed (and replaced) when a warming spare is done
	// warmFails counts the spares that failed to warm; warmErr is the last
	// failure.
	warmFails int
	warmErr   error
	lastReady time.Time // when a spare last became ready
	closed    bool
}

// master is one ControlMaster: one authenticated ssh connection that
// carries sessions.
type master struct {
	ctlPath  string
	cmd      *exec.Cmd
	done     chan struct{} // closed when it exited
	sessions int           // open sessions (Dialer.mu)
}

func (m *master) alive() bool {
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// sessionsPerMaster is how many sessions one master carries at most:
// below sshd's default MaxSessions of 10, with room for sessions that the
// server has not closed yet when their client exits. A remote sshd with a
// lower MaxSessions needs COMPOSEGEN_SSH_SESSIONS.
const sessionsPerMaster = 8

// perMasterFromEnv is sessionsPerMaster, or COMPOSEGEN_SSH_SESSIONS.
func perMasterFromEnv() (int, error) {
	v := os.Getenv("COMPOSEGEN_SSH_SESSIONS")
	if v == "" {
		return sessionsPerMaster, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("COMPOSEGEN_SSH_SESSIONS=%q: want the remote sshd's MaxSessions, a number of at least 1", v)
	}
	return n, nil
}

// maxSpareAge is how long a spare session is trusted: an engine may close
// a connection on which no request arrives (Docker 20.10 and Podman 4.3
// keep them for more than a minute), so an older spare is replaced.
const maxSpareAge = 30 * time.Second

// maxSpares bounds the spare sessions (each holds a remote docker CLI
// process of ~30 MB).
const maxSpares = 6

// maxLogins bounds the sessions that log in at the same time. Remote
// logins contend with each other: each runs the remote user's shell
// start-up files, which may take a lock (pyenv's rehash in ~/.bashrc
// serialises every login on one lock file, and waits up to 60 s for it)
// or just compete for a small host's CPU. Six spares started at once, by
// each engine of a test binary, made logins take 19 s (median; 30 s and
// more for one in ten) on a loaded 2-core machine; logins started two at
// a time finish sooner, in the order they are needed.
const maxLogins = 2

// logins holds a token for each session of this process that is logging
// in: maxLogins bounds them across every engine the process opened (a
// test binary opens several, all on the same remote host).
var logins = make(chan struct{}, maxLogins)

// sshConnectTimeout bounds ssh's own connection set-up.
const sshConnectTimeout = "10"

// ssh's keepalives: a connection whose server has not answered for
// serverAliveInterval × serverAliveCountMax seconds (a remote host or
// network that went away without a reset) ends ssh, and with it every
// session it carries, which then fail with ssh's "Timeout, server not
// responding" instead of waiting for ever (TCP alone would notice after
// hours). Two minutes: a loaded sshd answers within that.
const (
	serverAliveInterval = "30"
	serverAliveCountMax = "4"
)

// New starts the control master (which authenticates, so that
// authentication errors surface here, with ssh's stderr) and the first
// spare sessions.
func New(ctx context.Context, spec *discover.SSH) (*Dialer, error) {
	return NewWith(ctx, spec, Options{})
}

// Options turn off the dialer's speed-ups, for measurements: the zero
// Options are New's.
type Options struct {
	// NoControlMaster makes every session its own ssh connection, as the
	// docker CLI does.
	NoControlMaster bool
	// NoSpares starts each session when a dial asks for it.
	NoSpares bool
}

// NewWith is New with opts.
func NewWith(ctx context.Context, spec *discover.SSH, opts Options) (*Dialer, error) {
	spares := 2
	if opts.NoSpares {
		spares = 0
	}
	mux := !opts.NoControlMaster
	bin, err := exec.LookPath("ssh")
	if err != nil {
		return nil, errors.New("the ssh command was not found in PATH: install the OpenSSH client, or reach the engine with tcp:// and TLS")
	}
	perMaster, err := perMasterFromEnv()
	if err != nil {
		return nil, err
	}
	d := &Dialer{spec: spec, bin: bin, spares: spares, perMaster: perMaster, changed: make(chan struct{})}
	if !mux {
		return d, nil
	}
	if d.dir, err = os.MkdirTemp("", "composegen-ssh-"); err != nil {
		return nil, err
	}
	m, err := d.startMaster(ctx, filepath.Join(d.dir, "ctl"))
	if err != nil {
		os.RemoveAll(d.dir)
		return nil, err
	}
	d.masters = []*master{m}
	d.refill()
	return d, nil
}

// args returns ssh's arguments for the control socket ctlPath ("none"
// without multiplexing), ending with "--", the host and cmd.
func (d *Dialer) args(ctlPath string, extra []string, cmd ...string) []string {
	a := []string{"-o", "BatchMode=yes", "-o", "ConnectTimeout=" + sshConnectTimeout,
		"-o", "ServerAliveInterval=" + serverAliveInterval, "-o", "ServerAliveCountMax=" + serverAliveCountMax,
		"-o", "ControlPath=" + ctlPath}
	a = append(a, extra...)
	if d.spec.Port != "" {
		a = append(a, "-p", d.spec.Port)
	}
	if d.spec.User != "" {
		a = append(a, "-l", d.spec.User)
	}
	a = append(a, "--", d.spec.Host)
	return append(a, cmd...)
}

// startMaster runs a ControlMaster on ctlPath in the foreground of a
// child process (it dies with this process) and waits until its control
// socket exists, which ssh creates once it has authenticated.
func (d *Dialer) startMaster(ctx context.Context, ctlPath string) (*master, error) {
	cmd := exec.Command(d.bin, d.args(ctlPath, []string{"-M", "-N", "-o", "ControlPersist=no"})...)
	stderr := &tailBuffer{max: 4096}
	cmd.Stderr = stderr
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start ssh: %w", err)
	}
	m := &master{ctlPath: ctlPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(m.done)
		traceSSH("master pid %d exited: %v; stderr %q", cmd.Process.Pid, cmd.ProcessState, strings.TrimSpace(stderr.String()))
	}()
	for {
		if _, err := os.Stat(ctlPath); err == nil {
			traceSSH("master pid %d ready on %s", cmd.Process.Pid, filepath.Base(ctlPath))
			return m, nil
		}
		select {
		case <-m.done:
			return nil, sshError(d.spec, cmd.ProcessState, stderr.String())
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-m.done
			return nil, fmt.Errorf("ssh to %s did not authenticate in time: %w (%s)", d.spec.Host, ctx.Err(), strings.TrimSpace(stderr.String()))
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// session reserves a session on a live master that has room, starting
// another master when every one is full (nil without multiplexing).
// release gives the session back.
func (d *Dialer) session() (*master, error) {
	if d.dir == "" {
		return nil, nil
	}
	if m := d.reserve(); m != nil {
		return m, nil
	}
	d.starting.Lock()
	defer d.starting.Unlock()
	if m := d.reserve(); m != nil { // another dial started one meanwhile
		return m, nil
	}
	d.mu.Lock()
	n, closed := len(d.masters), d.closed
	d.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("ssh to %s: the connection to the engine is closed", d.spec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), loginTimeout())
	defer cancel()
	m, err := d.startMaster(ctx, filepath.Join(d.dir, "ctl"+strconv.Itoa(n)))
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		_ = m.cmd.Process.Kill()
		return nil, fmt.Errorf("ssh to %s: the connection to the engine is closed", d.spec)
	}
	m.sessions++
	d.masters = append(d.masters, m)
	return m, nil
}

func (d *Dialer) reserve() *master {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range d.masters {
		if m.sessions < d.perMaster && m.alive() {
			m.sessions++
			return m
		}
	}
	return nil
}

func (d *Dialer) release(m *master) {
	if m == nil {
		return
	}
	d.mu.Lock()
	m.sessions--
	d.mu.Unlock()
}

// remoteCommand is what ssh runs on the remote host.
func (d *Dialer) remoteCommand() []string {
	if d.spec.Path != "" {
		return []string{"docker", "--host", shellQuote("unix://" + d.spec.Path), "system", "dial-stdio"}
	}
	return []string{"docker", "system", "dial-stdio"}
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// DialContext returns a warm spare session, waiting for one when none is
// warm (refill has started some). A spare that is slow to log in is a
// miss, not an error: the dial waits for the first spare that is ready,
// within ctx and loginTimeout. Only a session that failed (ssh exited: no
// route, authentication, no docker there) makes the dial fail, with
// ssh's reason.
func (d *Dialer) DialContext(ctx context.Context) (net.Conn, error) {
	d.mu.Lock()
	spares := d.spares
	d.mu.Unlock()
	if spares == 0 {
		c, err := d.spawn()
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	start := time.Now()
	fails := d.failures()
	grown := false
	d.trace("dial")
	for {
		c, changed := d.takeSpare()
		if c == nil && !grown {
			d.grow()
			grown = true
		}
		d.refill()
		if c != nil {
			return c, nil
		}
		if err := d.failedSince(fails); err != nil {
			return nil, err // the spares it waited for failed: so would a new session
		}
		if changed == nil {
			return nil, fmt.Errorf("ssh to %s: the connection to the engine is closed", d.spec)
		}
		left := loginTimeout() - time.Since(d.since(start))
		if left <= 0 {
			return nil, d.slowError()
		}
		t := time.NewTimer(left)
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
		t.Stop()
	}
}

// since returns the later of t and the last time a spare became ready:
// a dial gives up only when no session at all became ready for
// loginTimeout (while spares come, the remote works, and the dial waits
// for its turn within its ctx).
func (d *Dialer) since(t time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lastReady.After(t) {
		return d.lastReady
	}
	return t
}

func (d *Dialer) trace(format string, args ...any) {
	if sshTrace {
		d.mu.Lock()
		pool, warming := len(d.pool), d.warming
		d.mu.Unlock()
		traceSSH(format+" (pool %d, warming %d)", append(args, pool, warming)...)
	}
}

// slowError says that no session became ready within loginTimeout.
func (d *Dialer) slowError() error {
	d.mu.Lock()
	n := d.warming
	d.mu.Unlock()
	return fmt.Errorf("no ssh session to %s was ready within %v (%d still logging in): the remote login (its shell start-up files, such as ~/.bashrc) or `docker system dial-stdio` there is that slow; log in with `ssh %s docker version` to see where it waits",
		d.spec, loginTimeout(), n, d.spec)
}

// failures returns how many spares failed to warm so far.
func (d *Dialer) failures() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.warmFails
}

// failedSince returns the last warming error when a spare failed after
// the n-th failure.
func (d *Dialer) failedSince(n int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.warmFails > n {
		return d.warmErr
	}
	return nil
}

// takeSpare returns the oldest warm spare that is still usable; without
// one, it returns a channel closed when a warming spare is done (nil when
// none is warming).
func (d *Dialer) takeSpare() (*cmdConn, chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.pool) > 0 {
		c := d.pool[0]
		d.pool = d.pool[1:]
		if c.usable() {
			c.trace("taken (pool %d, warming %d)", len(d.pool), d.warming)
			return c, nil
		}
		c.trace("stale, dropped")
		go c.Close()
	}
	if d.closed {
		return nil, nil
	}
	return nil, d.changed
}

// grow keeps one more spare after a dial found none warm.
func (d *Dialer) grow() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.spares > 0 && d.spares < maxSpares {
		d.spares++
	}
}

// refill starts warming sessions until spares are warm or warming, at
// most maxLogins at a time.
func (d *Dialer) refill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refillLocked()
}

func (d *Dialer) refillLocked() {
	for !d.closed && len(d.pool)+d.warming < d.spares && d.warming < maxLogins {
		d.warming++
		go d.warm()
	}
}

// warm starts a session and pings the engine through it: a spare is
// handed out only once the remote login is done and the engine answered.
// A session that fails is dropped (the next dial tries again, so a broken
// remote is not retried in a loop).
func (d *Dialer) warm() {
	logins <- struct{}{}
	c, err := d.spawn()
	if err == nil {
		d.mu.Lock()
		if d.logging == nil {
			d.logging = map[*cmdConn]bool{}
		}
		d.logging[c] = true
		closed := d.closed
		d.mu.Unlock()
		if closed {
			c.Close()
		}
		if err = c.ping(); err != nil {
			c.trace("warm failed after %v: %v", time.Since(c.born).Round(time.Millisecond), err)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = fmt.Errorf("the ssh session to %s did not answer within %v: the remote login (its shell start-up files, such as ~/.bashrc) or `docker system dial-stdio` there is that slow; log in with `ssh %s docker version` to see where it waits: %w",
					d.spec, loginTimeout(), d.spec, err)
			}
			c.Close()
		} else {
			c.trace("warm after %v", time.Since(c.born).Round(time.Millisecond))
		}
	}
	<-logins
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.logging, c)
	d.warming--
	close(d.changed) // wake the dials that wait for a spare
	d.changed = make(chan struct{})
	switch {
	case err != nil:
		d.warmFails++
		d.warmErr = err
	case d.closed:
		go c.Close()
	default:
		d.pool = append(d.pool, c)
		d.lastReady = time.Now()
		d.refillLocked() // the spares that maxLogins held back
	}
}

// spawn starts one dial-stdio session.
func (d *Dialer) spawn() (*cmdConn, error) {
	m, err := d.session()
	if err != nil {
		return nil, err
	}
	ctl := "none"
	if m != nil {
		ctl = m.ctlPath
	}
	cmd := exec.Command(d.bin, d.args(ctl, []string{"-o", "ControlMaster=no", "-T"}, d.remoteCommand()...)...)
	c, err := startCmdConn(cmd, d.spec)
	if err != nil {
		d.release(m)
		return nil, err
	}
	c.trace("spawned on %s (live %d)", filepath.Base(ctl), liveSessions.Add(1))
	go func() {
		<-c.done
		liveSessions.Add(-1)
		d.release(m)
	}()
	return c, nil
}

// Close stops the spares and the master, and removes the private
// directory.
func (d *Dialer) Close() error {
	d.mu.Lock()
	d.closed = true
	pool := d.pool
	d.pool = nil
	for c := range d.logging {
		pool = append(pool, c)
	}
	masters := d.masters
	d.mu.Unlock()
	for _, c := range pool {
		c.Close()
	}
	for _, m := range masters {
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	if d.dir != "" {
		return os.RemoveAll(d.dir)
	}
	return nil
}

// Hostname returns the address ssh really connects to for spec (its
// HostName, after ~/.ssh/config), spec.Host when ssh -G cannot say.
func Hostname(ctx context.Context, spec *discover.SSH) string {
	args := []string{"-G"}
	if spec.Port != "" {
		args = append(args, "-p", spec.Port)
	}
	if spec.User != "" {
		args = append(args, "-l", spec.User)
	}
	out, err := exec.CommandContext(ctx, "ssh", append(args, "--", spec.Host)...).Output()
	if err != nil {
		return spec.Host
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if h, ok := strings.CutPrefix(sc.Text(), "hostname "); ok && h != "" {
			return h
		}
	}
	return spec.Host
}
