package docker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/internal/discover"
)

// The ssh transport's own tests are package sshconn's; these check that
// an ssh:// endpoint goes through it and that its errors and clean-up
// reach the engine's callers.

// fakeSSH is an ssh that fails the way FAKE_SSH_MODE says.
const fakeSSH = `#!/bin/sh
for a; do case $a in ControlPath=*) ctl=${a#ControlPath=};; esac; done
case " $* " in *" -G "*) echo "hostname fake.example"; exit 0;; esac
master=0; case " $* " in *" -M "*) master=1;; esac
case $FAKE_SSH_MODE in
auth) echo "root@fake: Permission denied (publickey)." >&2; exit 255;;
nodocker)
	if [ $master = 1 ]; then : > "$ctl"; exec sleep 300; fi
	echo "bash: line 1: docker: command not found" >&2; exit 127;;
esac
`

func sshEndpoint(user, host, port, path string) discover.Endpoint {
	s := &discover.SSH{User: user, Host: host, Port: port, Path: path}
	return discover.Endpoint{Host: s.String(), From: "DOCKER_HOST", Scheme: "ssh", SSH: s, Explicit: true}
}

// TestSSHErrors: ssh's failure, at the master (auth) or at the first
// session (nodocker), is Open's error, and leaves nothing in TMPDIR.
func TestSSHErrors(t *testing.T) {
	for _, tt := range []struct{ mode, want string }{
		{"auth", "ssh authentication to ssh://root@fake failed (ssh runs in batch mode, without prompts: add the key to ssh-agent or name it with IdentityFile in ~/.ssh/config): root@fake: Permission denied (publickey)."},
		{"nodocker", "no docker command on ssh://root@fake: the engine is reached through `docker system dial-stdio` there, so the docker CLI must be on the remote PATH: bash: line 1: docker: command not found"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			bin := t.TempDir()
			if err := os.WriteFile(filepath.Join(bin, "ssh"), []byte(fakeSSH), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			t.Setenv("FAKE_SSH_MODE", tt.mode)
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := openFirst(ctx, []discover.Endpoint{sshEndpoint("root", "fake", "", "")})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("the failed connection left %d entries in TMPDIR (%s...)", len(left), left[0].Name())
			}
		})
	}
}

func TestSSHNotInstalled(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := Connect(context.Background(), sshEndpoint("", "h", "", ""))
	if err == nil || !strings.Contains(err.Error(), "the ssh command was not found in PATH: install the OpenSSH client") {
		t.Errorf("error %v; want one saying that ssh is missing", err)
	}
}

// sshEngine returns the ssh:// endpoint of DOCKER_HOST, skipping the test
// when DOCKER_HOST is not an ssh:// engine.
func sshEngine(t *testing.T) discover.Endpoint {
	eps, err := discover.Candidates(discover.OS())
	if err != nil || len(eps) != 1 || eps[0].Scheme != "ssh" {
		t.Skip("DOCKER_HOST is not an ssh:// engine")
	}
	return eps[0]
}

func TestSSHEngineErrors(t *testing.T) {
	ep := sshEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bad := sshEndpoint("composegen-nobody", ep.SSH.Host, ep.SSH.Port, "")
	if _, err := Connect(ctx, bad); err == nil || !strings.Contains(err.Error(), "ssh authentication to "+bad.Host+" failed") {
		t.Errorf("unknown user: %v; want an authentication failure", err)
	}
	noSock := sshEndpoint(ep.SSH.User, ep.SSH.Host, ep.SSH.Port, "/nonexistent/docker.sock")
	if _, err := Connect(ctx, noSock); err == nil || !strings.Contains(err.Error(), "cannot reach its engine") {
		t.Errorf("remote socket that does not exist: %v; want the remote CLI's failure", err)
	}
}

// TestSSHCloseCleansUp: the engine's Close closes its ssh dialer, which
// removes its private directory (the control sockets) from TMPDIR.
func TestSSHCloseCleansUp(t *testing.T) {
	ep := sshEngine(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := Connect(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) == 0 {
		t.Errorf("no private directory in TMPDIR while the engine is open")
	}
	if _, err := e.Exec(ctx, "composegen-absent", []string{"true"}, nil, nil); err == nil {
		t.Errorf("exec in an absent container succeeded")
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("Close left %d entries in TMPDIR (%s...)", len(left), left[0].Name())
	}
}
