// Package discover finds the Docker-compatible engines that this process
// may use, in the order of the docker CLI: DOCKER_HOST (with the TLS
// settings of DOCKER_TLS_VERIFY, DOCKER_TLS and DOCKER_CERT_PATH), else
// DOCKER_CONTEXT, else the docker CLI's current context, and when none of
// those names an engine, the well-known sockets of Docker, rootless Docker,
// rootless Podman and rootful Podman.
//
// Discovery is pure: it reads the environment and the docker CLI's
// configuration files through Env, never connects anywhere, and reports
// configuration mistakes (a context that does not exist, a malformed
// DOCKER_HOST) as errors that say what to fix.
package discover

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Env is what discovery reads. OS returns the process's own.
type Env struct {
	// Getenv returns an environment variable ("" when unset).
	Getenv func(string) string
	// Home is the user's home directory (~/.docker is under it).
	Home string
	// UID is the user id, for the rootless sockets' default directory
	// /run/user/<uid> when XDG_RUNTIME_DIR is unset.
	UID int
}

// OS returns the process's environment.
func OS() Env {
	home, _ := os.UserHomeDir()
	return Env{Getenv: os.Getenv, Home: home, UID: os.Getuid()}
}

// Endpoint is one address where an engine may answer.
type Endpoint struct {
	// Host is the normalised address: "unix:///var/run/docker.sock",
	// "tcp://10.0.0.5:2376" or "ssh://ci@build-1:22". It never holds a
	// password.
	Host string
	// From says where the address came from, for messages: "DOCKER_HOST",
	// "DOCKER_CONTEXT prod", "docker context prod (~/.docker/config.json)",
	// "default socket", "rootless Podman socket"...
	From string
	// Scheme is "unix", "tcp" or "ssh".
	Scheme string
	// Addr is the socket path (unix) or host:port (tcp).
	Addr string
	// SSH is set for the ssh scheme.
	SSH *SSH
	// TLS is set for a tcp endpoint that speaks TLS.
	TLS *TLS
	// Podman is true when the address looks like Podman's socket. The
	// engine's version has the last word.
	Podman bool
	// Explicit is true when the user chose this endpoint (DOCKER_HOST or a
	// context): it is then the only candidate, as with the docker CLI.
	Explicit bool
}

// SSH is an ssh:// endpoint: the engine is reached by running
// "docker system dial-stdio" on Host through ssh.
type SSH struct {
	User string // "" for ssh's default
	Host string
	Port string // "" for ssh's default
	// Path is the engine's socket on the remote host ("" for the remote
	// docker CLI's default).
	Path string
}

// Well-known sockets.
const (
	DefaultSocket       = "/var/run/docker.sock"
	RootfulPodmanSocket = "/run/podman/podman.sock"
)

// Candidates returns the endpoints to try, in order. When DOCKER_HOST or a
// docker context selects an engine, that endpoint is the only one.
func Candidates(env Env) ([]Endpoint, error) {
	if h := env.Getenv("DOCKER_HOST"); h != "" {
		ep, err := parseHost(h, envTLS(env))
		if err != nil {
			return nil, fmt.Errorf("DOCKER_HOST: %w", err)
		}
		ep.From = "DOCKER_HOST"
		ep.Explicit = true
		return []Endpoint{ep}, nil
	}
	ep, ok, err := contextEndpoint(env)
	switch {
	case err != nil:
		return nil, err
	case ok:
		return []Endpoint{ep}, nil
	}
	return sockets(env), nil
}

// sockets lists the local sockets, in the order they are tried.
func sockets(env Env) []Endpoint {
	run := env.Getenv("XDG_RUNTIME_DIR")
	if run == "" && env.UID != 0 {
		run = "/run/user/" + strconv.Itoa(env.UID)
	}
	list := []Endpoint{unixEndpoint(DefaultSocket, "default socket")}
	if run != "" {
		list = append(list,
			unixEndpoint(filepath.Join(run, "docker.sock"), "rootless Docker socket"),
			unixEndpoint(filepath.Join(run, "podman", "podman.sock"), "rootless Podman socket"))
	}
	return append(list, unixEndpoint(RootfulPodmanSocket, "rootful Podman socket"))
}

func unixEndpoint(path, from string) Endpoint {
	return Endpoint{Host: "unix://" + path, From: from, Scheme: "unix", Addr: path, Podman: looksLikePodman(path)}
}

func looksLikePodman(path string) bool {
	return strings.Contains(filepath.Base(path), "podman") || strings.Contains(filepath.Base(filepath.Dir(path)), "podman")
}

// parseHost parses a DOCKER_HOST or context host the way the docker CLI
// does. tlsCfg applies to tcp addresses only.
func parseHost(h string, tlsCfg *TLS) (Endpoint, error) {
	if !strings.Contains(h, "://") {
		h = "tcp://" + h
	}
	scheme, rest, _ := strings.Cut(h, "://")
	switch scheme {
	case "unix":
		path := rest
		if path == "" {
			path = DefaultSocket
		}
		return unixEndpoint(path, ""), nil
	case "tcp":
		return parseTCP(rest, tlsCfg)
	case "ssh":
		return parseSSH(h)
	case "npipe":
		return Endpoint{}, errors.New("npipe:// (Windows named pipes) is not available on this system")
	default:
		return Endpoint{}, fmt.Errorf("unsupported scheme %q: use unix://, tcp:// or ssh://", scheme)
	}
}

func parseTCP(rest string, tlsCfg *TLS) (Endpoint, error) {
	if i := strings.IndexByte(rest, '/'); i >= 0 && rest[i:] != "/" {
		return Endpoint{}, fmt.Errorf("tcp://%s: a path after the address is not supported", rest)
	}
	rest = strings.TrimSuffix(rest, "/")
	port := "2375"
	if tlsCfg != nil {
		port = "2376"
	}
	host, p, err := net.SplitHostPort(rest)
	if err != nil {
		host = rest // no port
	} else {
		port = p
	}
	if host == "" {
		host = "localhost"
	}
	if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return Endpoint{}, fmt.Errorf("tcp://%s: invalid port %q", rest, port)
	}
	addr := net.JoinHostPort(strings.Trim(host, "[]"), port)
	return Endpoint{Host: "tcp://" + addr, Scheme: "tcp", Addr: addr, TLS: tlsCfg}, nil
}

func parseSSH(h string) (Endpoint, error) {
	u, err := url.Parse(h)
	if err != nil {
		// url's error repeats the whole string, which may hold a password.
		return Endpoint{}, errors.New("ssh:// address is not a valid URL")
	}
	s := &SSH{Host: u.Hostname(), Port: u.Port(), Path: strings.TrimSuffix(u.Path, "/")}
	if u.User != nil {
		s.User = u.User.Username()
		if _, ok := u.User.Password(); ok {
			return Endpoint{}, errors.New("ssh:// with a password is not supported: use an ssh key or agent")
		}
	}
	switch {
	case s.Host == "":
		return Endpoint{}, errors.New("ssh:// needs a host (ssh://[user@]host[:port])")
	case u.RawQuery != "" || u.Fragment != "":
		return Endpoint{}, errors.New("ssh:// address has a query or fragment")
	}
	return Endpoint{Host: s.String(), Scheme: "ssh", SSH: s}, nil
}

// String is the ssh:// URL of s.
func (s *SSH) String() string {
	u := url.URL{Scheme: "ssh", Host: s.Host, Path: s.Path}
	if s.Port != "" {
		u.Host = net.JoinHostPort(s.Host, s.Port)
	}
	if s.User != "" {
		u.User = url.User(s.User)
	}
	return u.String()
}

// envTLS returns the TLS settings of DOCKER_TLS_VERIFY, DOCKER_TLS and
// DOCKER_CERT_PATH, nil for none. Like the docker CLI, any non-empty value
// enables TLS, and a client certificate is used when its files exist.
func envTLS(env Env) *TLS {
	verify := env.Getenv("DOCKER_TLS_VERIFY") != ""
	if !verify && env.Getenv("DOCKER_TLS") == "" {
		return nil
	}
	dir := env.Getenv("DOCKER_CERT_PATH")
	if dir == "" {
		dir = filepath.Join(env.Home, ".docker")
	}
	t := &TLS{SkipVerify: !verify, Source: "DOCKER_CERT_PATH " + dir}
	if verify {
		t.CAFile = filepath.Join(dir, "ca.pem")
	}
	t.CertFile, t.KeyFile = clientPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	return t
}

// clientPair keeps the client certificate and key paths when either file
// exists (a missing half is then an error when loading), and drops both
// when neither does, as the docker CLI does.
func clientPair(cert, key string) (string, string) {
	if exists(cert) || exists(key) {
		return cert, key
	}
	return "", ""
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// configDir is the docker CLI's configuration directory.
func configDir(env Env) string {
	if d := env.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	return filepath.Join(env.Home, ".docker")
}

// contextEndpoint returns the endpoint of DOCKER_CONTEXT or the CLI's
// current context; ok is false for the default context (none selected).
func contextEndpoint(env Env) (ep Endpoint, ok bool, err error) {
	dir := configDir(env)
	name, from := env.Getenv("DOCKER_CONTEXT"), "DOCKER_CONTEXT"
	if name == "" {
		if name, err = currentContext(dir); err != nil {
			return Endpoint{}, false, err
		}
		from = "docker context"
	}
	if name == "" || name == "default" {
		return Endpoint{}, false, nil
	}
	origin := "DOCKER_CONTEXT " + name
	if from != "DOCKER_CONTEXT" {
		origin = fmt.Sprintf("docker context %s (%s)", name, tilde(filepath.Join(dir, "config.json"), env.Home))
	}
	ep, err = loadContext(dir, name)
	if err != nil {
		return Endpoint{}, false, fmt.Errorf("%s: %w", origin, err)
	}
	ep.From = origin
	ep.Explicit = true
	return ep, true, nil
}

// currentContext reads currentContext from the CLI's config.json ("" when
// the file or the field is absent).
func currentContext(dir string) (string, error) {
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("docker CLI config: %w", err)
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", fmt.Errorf("docker CLI config %s: %v (fix the file, or set DOCKER_HOST)", path, err)
	}
	return cfg.CurrentContext, nil
}

// contextMeta is a context's meta.json as the docker CLI writes it.
type contextMeta struct {
	Name      string
	Endpoints map[string]struct {
		Host          string
		SkipTLSVerify bool
	}
}

// ContextDigest is the directory name of a context in the CLI's context
// store: the hex SHA-256 of its name.
func ContextDigest(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// loadContext reads a context's docker endpoint and TLS material.
func loadContext(dir, name string) (Endpoint, error) {
	digest := ContextDigest(name)
	metaPath := filepath.Join(dir, "contexts", "meta", digest, "meta.json")
	b, err := os.ReadFile(metaPath)
	if errors.Is(err, fs.ErrNotExist) {
		return Endpoint{}, fmt.Errorf("context %q does not exist (no %s); list contexts with \"docker context ls\"", name, metaPath)
	}
	if err != nil {
		return Endpoint{}, err
	}
	var meta contextMeta
	if err := json.Unmarshal(b, &meta); err != nil {
		return Endpoint{}, fmt.Errorf("context %q: %s: %v", name, metaPath, err)
	}
	de, ok := meta.Endpoints["docker"]
	if !ok || de.Host == "" {
		return Endpoint{}, fmt.Errorf("context %q has no docker endpoint (%s)", name, metaPath)
	}
	ep, err := parseHost(de.Host, contextTLS(dir, digest, de.SkipTLSVerify))
	if err != nil {
		return Endpoint{}, fmt.Errorf("context %q: host: %w", name, err)
	}
	return ep, nil
}

// contextTLS returns the TLS material the CLI stored for a context
// (contexts/tls/<digest>/docker/{ca,cert,key}.pem), nil when it has none
// and does not skip verification.
func contextTLS(dir, digest string, skip bool) *TLS {
	tdir := filepath.Join(dir, "contexts", "tls", digest, "docker")
	t := &TLS{SkipVerify: skip, Source: "context TLS " + tdir}
	if ca := filepath.Join(tdir, "ca.pem"); exists(ca) {
		t.CAFile = ca
	}
	t.CertFile, t.KeyFile = clientPair(filepath.Join(tdir, "cert.pem"), filepath.Join(tdir, "key.pem"))
	if t.CAFile == "" && t.CertFile == "" && !skip {
		return nil
	}
	return t
}

// tilde abbreviates a path under home as ~/...
func tilde(path, home string) string {
	if home != "" {
		if rel, err := filepath.Rel(home, path); err == nil && !strings.HasPrefix(rel, "..") {
			return "~/" + filepath.ToSlash(rel)
		}
	}
	return path
}
