package sshconn

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/internal/discover"
)

// fakeSSH is an ssh that fails the way FAKE_SSH_MODE says.
const fakeSSH = `#!/bin/sh
for a; do case $a in ControlPath=*) ctl=${a#ControlPath=};; esac; done
case " $* " in *" -G "*) echo "hostname fake.example"; exit 0;; esac
master=0; case " $* " in *" -M "*) master=1;; esac
case $FAKE_SSH_MODE in
auth) echo "root@fake: Permission denied (publickey)." >&2; exit 255;;
hostkey) echo "Host key verification failed." >&2; exit 255;;
nodocker)
	if [ $master = 1 ]; then : > "$ctl"; exec sleep 300; fi
	echo "bash: line 1: docker: command not found" >&2; exit 127;;
esac
`

// withFakeSSH puts the fake ssh first in PATH and makes TMPDIR private.
func withFakeSSH(t *testing.T, mode string) (tmp string) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(fakeSSH), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_SSH_MODE", mode)
	tmp = t.TempDir()
	t.Setenv("TMPDIR", tmp)
	return tmp
}

func TestNewErrors(t *testing.T) {
	for _, tt := range []struct{ mode, want string }{
		{"auth", "ssh authentication to ssh://root@fake failed (ssh runs in batch mode, without prompts: add the key to ssh-agent or name it with IdentityFile in ~/.ssh/config): root@fake: Permission denied (publickey)."},
		{"hostkey", "ssh does not trust the host key of ssh://root@fake (connect once with ssh to check and accept it): Host key verification failed."},
		{"nodocker", "no docker command on ssh://root@fake: the engine is reached through `docker system dial-stdio` there, so the docker CLI must be on the remote PATH: bash: line 1: docker: command not found"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			tmp := withFakeSSH(t, tt.mode)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// The master fails (auth, hostkey), or the sessions do
			// (nodocker): New or the first dial says why.
			d, err := New(ctx, &discover.SSH{User: "root", Host: "fake"})
			if err == nil {
				var c net.Conn
				if c, err = d.DialContext(ctx); err == nil {
					c.Close()
				}
				d.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("the failed connection left %d entries in TMPDIR (%s...)", len(left), left[0].Name())
			}
		})
	}
}

func TestNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := New(context.Background(), &discover.SSH{Host: "h"})
	if err == nil || !strings.Contains(err.Error(), "the ssh command was not found in PATH: install the OpenSSH client") {
		t.Errorf("error %v; want one saying that ssh is missing", err)
	}
}

func TestArgs(t *testing.T) {
	d := &Dialer{spec: &discover.SSH{User: "ci", Host: "build-1", Port: "2200", Path: "/run/user/1000/docker.sock"}}
	got := strings.Join(d.args("/tmp/x/ctl", []string{"-T"}, d.remoteCommand()...), " ")
	want := "-o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=30 -o ServerAliveCountMax=4 -o ControlPath=/tmp/x/ctl -T -p 2200 -l ci -- build-1 docker --host 'unix:///run/user/1000/docker.sock' system dial-stdio"
	if got != want {
		t.Errorf("ssh args:\n%s\nwant\n%s", got, want)
	}
}

// sshEngine returns the ssh:// spec of DOCKER_HOST, skipping the test
// when DOCKER_HOST is not an ssh:// engine.
func sshEngine(t *testing.T) *discover.SSH {
	eps, err := discover.Candidates(discover.OS())
	if err != nil || len(eps) != 1 || eps[0].Scheme != "ssh" {
		t.Skip("DOCKER_HOST is not an ssh:// engine")
	}
	return eps[0].SSH
}

// TestCloseCleansUp: on the ssh:// engine of DOCKER_HOST, Close stops
// the masters and the sessions (warm or in use) and removes the private
// directory.
func TestCloseCleansUp(t *testing.T) {
	spec := sshEngine(t)
	t.Setenv("TMPDIR", t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	d, err := New(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.DialContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.(*cmdConn).ping(); err != nil {
		t.Fatalf("ping over a dialed session: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.dir); !os.IsNotExist(err) {
		t.Errorf("Close left the private directory %s: %v", d.dir, err)
	}
	for _, m := range d.masters {
		if m.alive() {
			t.Errorf("Close left the ControlMaster %s running", m.ctlPath)
		}
	}
	for _, c := range d.pool {
		t.Errorf("Close left a spare session: %v", c)
	}
	// The session in use is the caller's to close; it still ends.
	c.Close()
	select {
	case <-c.(*cmdConn).done:
	case <-time.After(time.Minute):
		t.Errorf("a closed session's ssh did not exit")
	}
}

// slowLoginSSH is an ssh whose sessions log in the way a remote login
// with pyenv in ~/.bashrc does: every login takes one lock (pyenv's
// rehash) for FAKE_SSH_LOGIN seconds, so concurrent logins queue. It
// records how many sessions were logging in when each one started, then
// answers every HTTP request with a ping's answer.
const slowLoginSSH = `#!/bin/sh
for a; do case $a in ControlPath=*) ctl=${a#ControlPath=};; esac; done
case " $* " in *" -G "*) echo "hostname fake.example"; exit 0;; esac
case " $* " in *" -M "*) : > "$ctl"; exec sleep 300;; esac
dir=$FAKE_SSH_DIR
mkdir "$dir/login.$$"
ls -d "$dir"/login.* | wc -l >> "$dir/concurrent"
until mkdir "$dir/lock" 2>/dev/null; do sleep 0.02; done
sleep "$FAKE_SSH_LOGIN"
rmdir "$dir/lock" "$dir/login.$$"
cr=$(printf '\r')
while IFS= read -r line; do
	case ${line%$cr} in
	"") printf 'HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK';;
	esac
done
`

// TestSlowLoginsAreNotErrors: logins that queue on the remote (a lock
// in its ~/.bashrc, a loaded host) make dials wait, not fail, and the
// dialer does not make the queue longer. Before the fix, a burst of dials
// started up to six logins at once; the last of them queued for longer
// than the warm timeout, and its dial failed with "read |0: i/o timeout"
// (the stall seen over ssh:// in the conformance suite, about 1 run in
// 3).
func TestSlowLoginsAreNotErrors(t *testing.T) {
	bin := t.TempDir()
	// Not t.TempDir: the fake's last commands (children of a killed
	// session) may still write there when the test ends.
	dir := lingeringDir(t)
	if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(slowLoginSSH), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_SSH_DIR", dir)
	t.Setenv("FAKE_SSH_LOGIN", "0.4")
	t.Setenv("TMPDIR", t.TempDir())
	defer setLoginTimeout(loginTimeout())
	// Enough for maxLogins queued logins on a loaded machine (a fake login
	// takes up to 1.5 s at a load of 25 on 2 cores); the six logins that
	// the dialer used to start at once queued for more than that.
	setLoginTimeout(6 * time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := New(ctx, &discover.SSH{User: "root", Host: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const dials = 8 // execs started together, as a stack's readiness probes do
	errs := make(chan error, dials)
	for range dials {
		go func() {
			c, err := d.DialContext(ctx)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			errs <- c.(*cmdConn).ping()
		}()
	}
	for range dials {
		if err := <-errs; err != nil {
			t.Errorf("dial: %v", err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "concurrent"))
	if err != nil {
		t.Fatal(err)
	}
	most := 0
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		most = max(most, n)
	}
	if most > maxLogins {
		t.Errorf("%d sessions logged in at the same time; want at most %d", most, maxLogins)
	}
}

// maxSessionsSSH is an ssh whose server allows FAKE_SSH_MAX sessions per
// connection, as sshd's MaxSessions does: a session over a master that
// already carries that many is refused with OpenSSH's message. Each
// session records how many others its master carried when it opened, then
// answers every HTTP request with a ping's answer.
const maxSessionsSSH = `#!/bin/sh
for a; do case $a in ControlPath=*) ctl=${a#ControlPath=};; esac; done
case " $* " in *" -G "*) echo "hostname fake.example"; exit 0;; esac
case " $* " in *" -M "*) mkdir "$ctl.s" && : > "$ctl" && exec sleep 300; exit 255;; esac
i=0
until mkdir "$ctl.lock" 2>/dev/null; do
	i=$((i+1)); [ $i -gt 500 ] && exit 255 # the dialer is gone
	sleep 0.01
done
n=0
for f in "$ctl.s"/*; do [ -e "$f" ] && kill -0 "${f##*/}" 2>/dev/null && n=$((n+1)); done
if [ "$n" -ge "$FAKE_SSH_MAX" ]; then
	rmdir "$ctl.lock"
	echo "mux_client_request_session: session request failed: Session open refused by peer" >&2
	exit 255
fi
: > "$ctl.s/$$"
rmdir "$ctl.lock"
echo "$n" >> "$FAKE_SSH_DIR/open"
cr=$(printf '\r')
while IFS= read -r line; do
	case ${line%$cr} in
	"") printf 'HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK';;
	esac
done
rm -f "$ctl.s/$$"
`

// lingeringDir is a temporary directory removed at the end of the test,
// retrying while processes that the test killed still write there.
func lingeringDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "composegen-fakessh-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50 && os.RemoveAll(dir) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	return dir
}

// TestMaxSessions: sshd refuses the sessions of a connection beyond its
// MaxSessions (10 by default), so a test binary that holds more
// connections at once (exit watchers, execs, log streams of a few stacks)
// needs more than one master. Twenty connections held open at once all
// work, and no master carries more sessions than the server allows; with
// COMPOSEGEN_SSH_SESSIONS, a server that allows fewer works too.
func TestMaxSessions(t *testing.T) {
	for _, tt := range []struct {
		name, serverMax, env string
	}{
		{"sshd default", "10", ""},
		{"MaxSessions 3", "3", "3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bin := t.TempDir()
			// Not t.TempDir: a fake session that the dialer kills at Close
			// may still write there for a moment.
			dir := lingeringDir(t)
			if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(maxSessionsSSH), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			t.Setenv("FAKE_SSH_DIR", dir)
			t.Setenv("FAKE_SSH_MAX", tt.serverMax)
			t.Setenv("COMPOSEGEN_SSH_SESSIONS", tt.env)
			t.Setenv("TMPDIR", lingeringDir(t))
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			d, err := New(ctx, &discover.SSH{User: "root", Host: "fake"})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			const held = 20
			conns := make(chan net.Conn, held)
			errs := make(chan error, held)
			for range held {
				go func() {
					c, err := d.DialContext(ctx)
					if err == nil {
						err = c.(*cmdConn).ping()
						conns <- c
					}
					errs <- err
				}()
			}
			for range held {
				if err := <-errs; err != nil {
					t.Errorf("dial: %v", err)
				}
			}
			close(conns)
			defer func() {
				for c := range conns {
					c.Close()
				}
			}()
			b, err := os.ReadFile(filepath.Join(dir, "open"))
			if err != nil {
				t.Fatal(err)
			}
			most, _ := strconv.Atoi(tt.serverMax)
			for _, f := range strings.Fields(string(b)) {
				if n, _ := strconv.Atoi(f); n >= most {
					t.Errorf("a session opened over a master that carried %d; the server allows %d", n, most)
				}
			}
			d.mu.Lock()
			masters := len(d.masters)
			d.mu.Unlock()
			if want := held / d.perMaster; masters < want {
				t.Errorf("%d masters carry %d sessions; want at least %d", masters, held, want)
			}
		})
	}
	t.Run("invalid", func(t *testing.T) {
		t.Setenv("COMPOSEGEN_SSH_SESSIONS", "many")
		withFakeSSH(t, "auth")
		_, err := New(context.Background(), &discover.SSH{Host: "fake"})
		if err == nil || !strings.Contains(err.Error(), `COMPOSEGEN_SSH_SESSIONS="many": want the remote sshd's MaxSessions`) {
			t.Errorf("error %v; want one naming COMPOSEGEN_SSH_SESSIONS", err)
		}
	})
}
