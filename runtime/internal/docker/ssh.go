package docker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/composegen/composegen/runtime/internal/discover"
)

// sshDialer reaches an engine the way the docker CLI's connhelper does:
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
type sshDialer struct {
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
	sessions int           // open sessions (sshDialer.mu)
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

// newSSHDialer starts the control master (which authenticates, so that
// authentication errors surface here, with ssh's stderr).
func newSSHDialer(ctx context.Context, spec *discover.SSH) (*sshDialer, error) {
	return startSSH(ctx, spec, true, 2)
}

// startSSH is newSSHDialer with multiplexing and spares as options, for
// measurements.
func startSSH(ctx context.Context, spec *discover.SSH, mux bool, spares int) (*sshDialer, error) {
	bin, err := exec.LookPath("ssh")
	if err != nil {
		return nil, errors.New("the ssh command was not found in PATH: install the OpenSSH client, or reach the engine with tcp:// and TLS")
	}
	perMaster, err := perMasterFromEnv()
	if err != nil {
		return nil, err
	}
	d := &sshDialer{spec: spec, bin: bin, spares: spares, perMaster: perMaster, changed: make(chan struct{})}
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
func (d *sshDialer) args(ctlPath string, extra []string, cmd ...string) []string {
	a := []string{"-o", "BatchMode=yes", "-o", "ConnectTimeout=" + sshConnectTimeout, "-o", "ControlPath=" + ctlPath}
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
func (d *sshDialer) startMaster(ctx context.Context, ctlPath string) (*master, error) {
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
func (d *sshDialer) session() (*master, error) {
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

func (d *sshDialer) reserve() *master {
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

func (d *sshDialer) release(m *master) {
	if m == nil {
		return
	}
	d.mu.Lock()
	m.sessions--
	d.mu.Unlock()
}

// remoteCommand is what ssh runs on the remote host.
func (d *sshDialer) remoteCommand() []string {
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
func (d *sshDialer) DialContext(ctx context.Context) (net.Conn, error) {
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
func (d *sshDialer) since(t time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.lastReady.After(t) {
		return d.lastReady
	}
	return t
}

func (d *sshDialer) trace(format string, args ...any) {
	if sshTrace {
		d.mu.Lock()
		pool, warming := len(d.pool), d.warming
		d.mu.Unlock()
		traceSSH(format+" (pool %d, warming %d)", append(args, pool, warming)...)
	}
}

// slowError says that no session became ready within loginTimeout.
func (d *sshDialer) slowError() error {
	d.mu.Lock()
	n := d.warming
	d.mu.Unlock()
	return fmt.Errorf("no ssh session to %s was ready within %v (%d still logging in): the remote login (its shell start-up files, such as ~/.bashrc) or `docker system dial-stdio` there is that slow; log in with `ssh %s docker version` to see where it waits",
		d.spec, loginTimeout(), n, d.spec)
}

// failures returns how many spares failed to warm so far.
func (d *sshDialer) failures() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.warmFails
}

// failedSince returns the last warming error when a spare failed after
// the n-th failure.
func (d *sshDialer) failedSince(n int) error {
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
func (d *sshDialer) takeSpare() (*cmdConn, chan struct{}) {
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
func (d *sshDialer) grow() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.spares > 0 && d.spares < maxSpares {
		d.spares++
	}
}

// refill starts warming sessions until spares are warm or warming, at
// most maxLogins at a time.
func (d *sshDialer) refill() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.refillLocked()
}

func (d *sshDialer) refillLocked() {
	for !d.closed && len(d.pool)+d.warming < d.spares && d.warming < maxLogins {
		d.warming++
		go d.warm()
	}
}

// warm starts a session and pings the engine through it: a spare is
// handed out only once the remote login is done and the engine answered.
// A session that fails is dropped (the next dial tries again, so a broken
// remote is not retried in a loop).
func (d *sshDialer) warm() {
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
func (d *sshDialer) spawn() (*cmdConn, error) {
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
func (d *sshDialer) Close() error {
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

// sshHostname returns the address ssh really connects to for spec (its
// HostName, after ~/.ssh/config), spec.Host when ssh -G cannot say.
func sshHostname(ctx context.Context, spec *discover.SSH) string {
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

// sshError explains why ssh exited.
func sshError(spec *discover.SSH, st *os.ProcessState, stderr string) error {
	msg := strings.TrimSpace(stderr)
	target := spec.String()
	switch {
	case strings.Contains(msg, "Permission denied") || strings.Contains(msg, "Too many authentication failures"):
		return fmt.Errorf("ssh authentication to %s failed (ssh runs in batch mode, without prompts: add the key to ssh-agent or name it with IdentityFile in ~/.ssh/config): %s", target, msg)
	case strings.Contains(msg, "Host key verification failed") || strings.Contains(msg, "HOST IDENTIFICATION HAS CHANGED"):
		return fmt.Errorf("ssh does not trust the host key of %s (connect once with ssh to check and accept it): %s", target, msg)
	case st != nil && st.ExitCode() == 127 || strings.Contains(msg, "command not found") || strings.Contains(msg, "docker: not found"):
		return fmt.Errorf("no docker command on %s: the engine is reached through `docker system dial-stdio` there, so the docker CLI must be on the remote PATH: %s", target, msg)
	case strings.Contains(msg, "Session open refused") || strings.Contains(msg, "administratively prohibited"):
		return fmt.Errorf("the sshd of %s refused a session: its MaxSessions is lower than the sessions composegen opens per ssh connection (%d unless COMPOSEGEN_SSH_SESSIONS says otherwise); set COMPOSEGEN_SSH_SESSIONS to that MaxSessions: %s", target, sessionsPerMaster, msg)
	case strings.Contains(msg, "Cannot connect to the Docker daemon") || strings.Contains(msg, "raw stream connection") || strings.Contains(msg, "unknown command"):
		return fmt.Errorf("the docker CLI on %s cannot reach its engine (`docker system dial-stdio` needs Docker 18.09 or later and a running engine there): %s", target, msg)
	}
	code := "was killed"
	if st != nil && st.Exited() {
		code = fmt.Sprintf("exited with code %d", st.ExitCode())
	}
	if msg == "" {
		msg = "no message"
	}
	return fmt.Errorf("ssh to %s %s: %s", target, code, msg)
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append([]byte(nil), b.buf[len(b.buf)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// sshTrace, when COMPOSEGEN_SSH_TRACE is set, logs every session's
// lifecycle to stderr (for diagnosing stalls).
var sshTrace = os.Getenv("COMPOSEGEN_SSH_TRACE") != ""

var traceStart = time.Now()

var liveSessions atomic.Int64

func traceSSH(format string, args ...any) {
	if sshTrace {
		fmt.Fprintf(os.Stderr, "ssh-trace %8.3f "+format+"\n", append([]any{time.Since(traceStart).Seconds()}, args...)...)
	}
}

func (c *cmdConn) trace(format string, args ...any) {
	if sshTrace {
		traceSSH("pid %d: "+format, append([]any{c.cmd.Process.Pid}, args...)...)
	}
}

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
