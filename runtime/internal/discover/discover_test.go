package discover

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The fixtures under testdata were written by the docker CLI (gen.sh).

// env returns an Env with the variables of vars, home as home directory
// and uid 0.
func env(home string, vars map[string]string) Env {
	return Env{Getenv: func(k string) string { return vars[k] }, Home: home}
}

// homeWithConfig returns a temporary home whose ~/.docker is a copy of the
// CLI's fixture configuration.
func homeWithConfig(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	if err := os.CopyFS(filepath.Join(home, ".docker"), os.DirFS("testdata/dockerconfig")); err != nil {
		t.Fatal(err)
	}
	return home
}

func only(t *testing.T, e Env) Endpoint {
	t.Helper()
	eps, err := Candidates(e)
	if err != nil {
		t.Fatalf("Candidates: %v", err)
	}
	if len(eps) != 1 || !eps[0].Explicit {
		t.Fatalf("got %d candidates (%+v), want one explicit", len(eps), eps)
	}
	return eps[0]
}

func TestDockerHost(t *testing.T) {
	home := t.TempDir()
	certs := filepath.Join(home, "certs")
	tests := []struct {
		name string
		vars map[string]string
		want Endpoint
	}{
		{"unix", map[string]string{"DOCKER_HOST": "unix:///tmp/d.sock"},
			Endpoint{Host: "unix:///tmp/d.sock", Scheme: "unix", Addr: "/tmp/d.sock"}},
		{"unix default path", map[string]string{"DOCKER_HOST": "unix://"},
			Endpoint{Host: "unix:///var/run/docker.sock", Scheme: "unix", Addr: "/var/run/docker.sock"}},
		{"podman socket", map[string]string{"DOCKER_HOST": "unix:///run/podman/podman.sock"},
			Endpoint{Host: "unix:///run/podman/podman.sock", Scheme: "unix", Addr: "/run/podman/podman.sock", Podman: true}},
		{"tcp default port", map[string]string{"DOCKER_HOST": "tcp://10.1.2.3"},
			Endpoint{Host: "tcp://10.1.2.3:2375", Scheme: "tcp", Addr: "10.1.2.3:2375"}},
		{"no scheme is tcp", map[string]string{"DOCKER_HOST": "10.1.2.3:2377"},
			Endpoint{Host: "tcp://10.1.2.3:2377", Scheme: "tcp", Addr: "10.1.2.3:2377"}},
		{"tcp without host", map[string]string{"DOCKER_HOST": "tcp://:2375"},
			Endpoint{Host: "tcp://localhost:2375", Scheme: "tcp", Addr: "localhost:2375"}},
		{"ipv6", map[string]string{"DOCKER_HOST": "tcp://[::1]:2375"},
			Endpoint{Host: "tcp://[::1]:2375", Scheme: "tcp", Addr: "[::1]:2375"}},
		{"tls verify", map[string]string{"DOCKER_HOST": "tcp://h", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": certs},
			Endpoint{Host: "tcp://h:2376", Scheme: "tcp", Addr: "h:2376", TLS: &TLS{
				CAFile: filepath.Join(certs, "ca.pem"), Source: "DOCKER_CERT_PATH " + certs}}},
		{"tls verify default cert path", map[string]string{"DOCKER_HOST": "tcp://h:1234", "DOCKER_TLS_VERIFY": "yes"},
			Endpoint{Host: "tcp://h:1234", Scheme: "tcp", Addr: "h:1234", TLS: &TLS{
				CAFile: filepath.Join(home, ".docker", "ca.pem"), Source: "DOCKER_CERT_PATH " + filepath.Join(home, ".docker")}}},
		{"tls without verify", map[string]string{"DOCKER_HOST": "tcp://h", "DOCKER_TLS": "1", "DOCKER_CERT_PATH": certs},
			Endpoint{Host: "tcp://h:2376", Scheme: "tcp", Addr: "h:2376", TLS: &TLS{SkipVerify: true, Source: "DOCKER_CERT_PATH " + certs}}},
		{"tls settings ignored for unix", map[string]string{"DOCKER_HOST": "unix:///s", "DOCKER_TLS_VERIFY": "1"},
			Endpoint{Host: "unix:///s", Scheme: "unix", Addr: "/s"}},
		{"ssh", map[string]string{"DOCKER_HOST": "ssh://ci@build-1:2222"},
			Endpoint{Host: "ssh://ci@build-1:2222", Scheme: "ssh", SSH: &SSH{User: "ci", Host: "build-1", Port: "2222"}}},
		{"ssh with socket path", map[string]string{"DOCKER_HOST": "ssh://build-1/run/user/1000/docker.sock"},
			Endpoint{Host: "ssh://build-1/run/user/1000/docker.sock", Scheme: "ssh", SSH: &SSH{Host: "build-1", Path: "/run/user/1000/docker.sock"}}},
		{"DOCKER_HOST wins over DOCKER_CONTEXT", map[string]string{"DOCKER_HOST": "unix:///x.sock", "DOCKER_CONTEXT": "nope"},
			Endpoint{Host: "unix:///x.sock", Scheme: "unix", Addr: "/x.sock"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := only(t, env(home, tt.vars))
			tt.want.From, tt.want.Explicit = "DOCKER_HOST", true
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("endpoint (-want +got):\n%s", d)
			}
		})
	}
}

func TestDockerHostClientCertificate(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"cert.pem", "key.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ep := only(t, env(t.TempDir(), map[string]string{"DOCKER_HOST": "tcp://h", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir}))
	if ep.TLS.CertFile != filepath.Join(dir, "cert.pem") || ep.TLS.KeyFile != filepath.Join(dir, "key.pem") {
		t.Errorf("client pair = %q, %q; want the files of DOCKER_CERT_PATH", ep.TLS.CertFile, ep.TLS.KeyFile)
	}
	// Only the key: the pair is kept, so loading it names the missing file.
	os.Remove(filepath.Join(dir, "cert.pem"))
	ep = only(t, env(t.TempDir(), map[string]string{"DOCKER_HOST": "tcp://h", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": dir}))
	if ep.TLS.CertFile == "" {
		t.Errorf("a lone key.pem dropped the client pair; want it kept so that the error names cert.pem")
	}
}

func TestDockerHostErrors(t *testing.T) {
	tests := []struct {
		host, want string
	}{
		{"ssh://me:hunter2@host", "password is not supported"},
		{"ssh://", "needs a host"},
		{"ssh://host?x=1", "query"},
		{"http://host:2375", `unsupported scheme "http"`},
		{"npipe:////./pipe/docker_engine", "npipe"},
		{"tcp://host:99999", "invalid port"},
		{"tcp://host:2375/v1.41", "path"},
	}
	for _, tt := range tests {
		_, err := Candidates(env(t.TempDir(), map[string]string{"DOCKER_HOST": tt.host}))
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "DOCKER_HOST: ") {
			t.Errorf("DOCKER_HOST=%s: error %v; want one starting DOCKER_HOST: and containing %q", tt.host, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("DOCKER_HOST=%s: the error shows the password: %v", tt.host, err)
		}
	}
}

func TestContexts(t *testing.T) {
	home := homeWithConfig(t)
	cfg := filepath.Join(home, ".docker")
	tlsDir := filepath.Join(cfg, "contexts", "tls", ContextDigest("prod"), "docker")
	prod := Endpoint{Host: "tcp://10.0.0.5:2376", Scheme: "tcp", Addr: "10.0.0.5:2376", Explicit: true, TLS: &TLS{
		CAFile: filepath.Join(tlsDir, "ca.pem"), CertFile: filepath.Join(tlsDir, "cert.pem"), KeyFile: filepath.Join(tlsDir, "key.pem"),
		Source: "context TLS " + tlsDir}}
	tests := []struct {
		name string
		vars map[string]string
		want Endpoint
		from string
	}{
		{"current context", nil, prod, "docker context prod (~/.docker/config.json)"},
		{"DOCKER_CONTEXT", map[string]string{"DOCKER_CONTEXT": "prod"}, prod, "DOCKER_CONTEXT prod"},
		{"skip verify", map[string]string{"DOCKER_CONTEXT": "insecure"},
			Endpoint{Host: "tcp://10.0.0.6:2376", Scheme: "tcp", Addr: "10.0.0.6:2376", Explicit: true, TLS: &TLS{
				SkipVerify: true, Source: "context TLS " + filepath.Join(cfg, "contexts", "tls", ContextDigest("insecure"), "docker")}},
			"DOCKER_CONTEXT insecure"},
		{"plain tcp", map[string]string{"DOCKER_CONTEXT": "plain"},
			Endpoint{Host: "tcp://10.0.0.7:2375", Scheme: "tcp", Addr: "10.0.0.7:2375", Explicit: true}, "DOCKER_CONTEXT plain"},
		{"ssh", map[string]string{"DOCKER_CONTEXT": "builder"},
			Endpoint{Host: "ssh://deploy@build-1:2200", Scheme: "ssh", Explicit: true, SSH: &SSH{User: "deploy", Host: "build-1", Port: "2200"}},
			"DOCKER_CONTEXT builder"},
		{"unix podman", map[string]string{"DOCKER_CONTEXT": "rootless-podman"},
			Endpoint{Host: "unix:///run/user/1000/podman/podman.sock", Scheme: "unix", Addr: "/run/user/1000/podman/podman.sock", Explicit: true, Podman: true},
			"DOCKER_CONTEXT rootless-podman"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := only(t, env(home, tt.vars))
			tt.want.From = tt.from
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("endpoint (-want +got):\n%s", d)
			}
		})
	}
}

// TestContextTLSLoads checks that the material the CLI stored for a context
// makes a usable client configuration.
func TestContextTLSLoads(t *testing.T) {
	ep := only(t, env(homeWithConfig(t), nil))
	cfg, err := ep.TLS.Config("10.0.0.5", now)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.InsecureSkipVerify || cfg.ServerName != "10.0.0.5" {
		t.Errorf("config: roots %v, %d certificates, skip %v, server name %q", cfg.RootCAs != nil, len(cfg.Certificates), cfg.InsecureSkipVerify, cfg.ServerName)
	}
}

func TestDockerConfigEnv(t *testing.T) {
	home := t.TempDir()
	dir := filepath.Join(t.TempDir(), "cfg")
	if err := os.CopyFS(dir, os.DirFS("testdata/dockerconfig")); err != nil {
		t.Fatal(err)
	}
	got := only(t, env(home, map[string]string{"DOCKER_CONFIG": dir}))
	if want := "docker context prod (" + filepath.Join(dir, "config.json") + ")"; got.From != want {
		t.Errorf("From = %q, want %q", got.From, want)
	}
}

func TestContextErrors(t *testing.T) {
	home := homeWithConfig(t)
	cfg := filepath.Join(home, ".docker", "config.json")
	_, err := Candidates(env(home, map[string]string{"DOCKER_CONTEXT": "staging"}))
	if err == nil || !strings.Contains(err.Error(), `DOCKER_CONTEXT staging: context "staging" does not exist`) || !strings.Contains(err.Error(), "docker context ls") {
		t.Errorf("unknown DOCKER_CONTEXT: %v", err)
	}
	if err := os.WriteFile(cfg, []byte(`{"currentContext": "gone"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Candidates(env(home, nil))
	if err == nil || !strings.Contains(err.Error(), `docker context gone (~/.docker/config.json): context "gone" does not exist`) {
		t.Errorf("unknown current context: %v", err)
	}
	if err := os.WriteFile(cfg, []byte(`{"currentContext": `), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Candidates(env(home, nil))
	if err == nil || !strings.Contains(err.Error(), cfg) {
		t.Errorf("broken config.json: %v; want an error naming %s", err, cfg)
	}
	meta := filepath.Join(home, ".docker", "contexts", "meta", ContextDigest("plain"), "meta.json")
	if err := os.WriteFile(meta, []byte(`{"Name":"plain","Endpoints":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Candidates(env(home, map[string]string{"DOCKER_CONTEXT": "plain"}))
	if err == nil || !strings.Contains(err.Error(), "no docker endpoint") {
		t.Errorf("context without docker endpoint: %v", err)
	}
}

func TestDefaultContextMeansSockets(t *testing.T) {
	home := homeWithConfig(t)
	for _, vars := range []map[string]string{{"DOCKER_CONTEXT": "default"}, {}} {
		if len(vars) == 0 {
			os.Remove(filepath.Join(home, ".docker", "config.json"))
		}
		eps, err := Candidates(env(home, vars))
		if err != nil {
			t.Fatal(err)
		}
		if len(eps) == 0 || eps[0].From != "default socket" || eps[0].Explicit {
			t.Errorf("%v: got %+v, want the sockets", vars, eps)
		}
	}
}

func TestSockets(t *testing.T) {
	tests := []struct {
		name string
		uid  int
		vars map[string]string
		want []string
	}{
		{"XDG_RUNTIME_DIR", 1000, map[string]string{"XDG_RUNTIME_DIR": "/run/user/1000"}, []string{
			"unix:///var/run/docker.sock default socket false",
			"unix:///run/user/1000/docker.sock rootless Docker socket false",
			"unix:///run/user/1000/podman/podman.sock rootless Podman socket true",
			"unix:///run/podman/podman.sock rootful Podman socket true",
		}},
		{"no XDG_RUNTIME_DIR", 1001, nil, []string{
			"unix:///var/run/docker.sock default socket false",
			"unix:///run/user/1001/docker.sock rootless Docker socket false",
			"unix:///run/user/1001/podman/podman.sock rootless Podman socket true",
			"unix:///run/podman/podman.sock rootful Podman socket true",
		}},
		{"root", 0, nil, []string{
			"unix:///var/run/docker.sock default socket false",
			"unix:///run/podman/podman.sock rootful Podman socket true",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env(t.TempDir(), tt.vars)
			e.UID = tt.uid
			eps, err := Candidates(e)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ep := range eps {
				if ep.Explicit || ep.Scheme != "unix" || "unix://"+ep.Addr != ep.Host {
					t.Errorf("bad socket endpoint %+v", ep)
				}
				got = append(got, strings.Join([]string{ep.Host, ep.From, boolStr(ep.Podman)}, " "))
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("sockets (-want +got):\n%s", d)
			}
		})
	}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func TestContextDigestMatchesCLI(t *testing.T) {
	for _, name := range []string{"prod", "insecure", "builder", "plain", "rootless-podman"} {
		if _, err := os.Stat(filepath.Join("testdata/dockerconfig/contexts/meta", ContextDigest(name), "meta.json")); err != nil {
			t.Errorf("context %s: %v", name, err)
		}
	}
}
