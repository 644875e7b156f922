package docker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	goruntime "runtime"
	"strings"
	"syscall"
	"time"

	"github.com/composegen/composegen/runtime/engine"
	"github.com/composegen/composegen/runtime/internal/discover"
	"github.com/composegen/composegen/runtime/internal/sshconn"
	dt "github.com/ory/dockertest/v3/docker"
)

// Engine is a connected Docker or Podman engine.
type Engine struct {
	c      *dt.Client // dockertest's client, for what it does well
	http   *http.Client
	dial   dialer
	info   engine.Info
	podman bool
}

var _ engine.Engine = (*Engine)(nil)

// pingTimeout bounds the connection and the ping of each candidate
// engine; infoTimeout the questions that follow a ping that answered.
// (pingTimeout is a variable for the unit tests.)
var pingTimeout = 5 * time.Second

const (
	sshPingTimeout = 150 * time.Second // the master's authentication and a first login (see sshconn's login bound)
	infoTimeout    = 30 * time.Second
)

// Open connects to the engine that the environment selects: DOCKER_HOST or
// a docker context when one is set (that one only, like the docker CLI),
// else the first of the well-known sockets that answers. Its error names
// every address tried, why each failed, and what to do.
func Open(ctx context.Context) (engine.Engine, error) {
	e, err := OpenEnv(ctx, discover.OS())
	if err != nil {
		return nil, err
	}
	return e, nil
}

// OpenEnv is Open with the environment given.
func OpenEnv(ctx context.Context, env discover.Env) (*Engine, error) {
	eps, err := discover.Candidates(env)
	if err != nil {
		return nil, fmt.Errorf("no Docker engine: %w", err)
	}
	return openFirst(ctx, eps)
}

// openFirst returns the first candidate that answers.
func openFirst(ctx context.Context, eps []discover.Endpoint) (*Engine, error) {
	var tried []string
	for _, ep := range eps {
		e, err := Connect(ctx, ep)
		if err == nil {
			return e, nil
		}
		if ep.Explicit {
			return nil, fmt.Errorf("cannot use the Docker engine at %s (%s): %w%s", ep.Host, ep.From, err, explicitHint(ep))
		}
		tried = append(tried, fmt.Sprintf("%s (%s): %v", ep.Host, ep.From, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("no Docker engine answered; tried:\n\t%s\nstart Docker or Podman (for Podman, its API socket: systemctl [--user] start podman.socket), or point DOCKER_HOST or a docker context at a running engine",
		strings.Join(tried, "\n\t"))
}

func explicitHint(ep discover.Endpoint) string {
	if ep.From == "DOCKER_HOST" {
		return "\ncheck that the engine runs there, or unset DOCKER_HOST to use the local engine"
	}
	return "\ncheck that the engine runs there, or select another one with DOCKER_CONTEXT or `docker context use`"
}

// Connect connects to one endpoint and checks that an engine answers.
func Connect(ctx context.Context, ep discover.Endpoint) (*Engine, error) {
	pctx, cancel := context.WithTimeout(ctx, pingBound(ep))
	defer cancel()
	d, err := newDialer(pctx, ep)
	if err != nil {
		return nil, explainDial(pctx, ep, err)
	}
	e, err := newEngine(d, ep)
	if err == nil {
		err = e.ping(pctx, ep)
	}
	if err != nil {
		d.Close()
		return nil, explainDial(pctx, ep, err)
	}
	// The engine answered: what remains may be slow (Podman's /version
	// and /info run programs), but it is not a question of reachability.
	ictx, cancel := context.WithTimeout(ctx, infoTimeout)
	defer cancel()
	if err := e.describe(ictx, ep); err != nil {
		d.Close()
		return nil, fmt.Errorf("the engine answered, but: %w", err)
	}
	return e, nil
}

// newEngine builds the clients over d.
func newEngine(d dialer, ep discover.Endpoint) (*Engine, error) {
	idle := 16
	if ep.Scheme == "ssh" {
		idle = 8 // each idle connection holds a remote dial-stdio process (~30 MB)
	}
	hc := &http.Client{Transport: newTransport(d, idle)}
	// dockertest builds its URLs from this address; the dialer ignores it.
	addr := "tcp://docker:2375"
	if ep.Scheme == "unix" {
		addr = "unix://" + ep.Addr
	}
	c, err := dt.NewClient(addr)
	if err != nil {
		return nil, err
	}
	c.HTTPClient = hc
	c.Dialer = dockertestDialer{d}
	c.TLSConfig = nil // TLS, when any, is the dialer's
	return &Engine{c: c, http: hc, dial: d}, nil
}

// Info describes the engine and how it was reached.
func (e *Engine) Info() engine.Info { return e.info }

// Close releases the engine's connections and its ssh processes.
func (e *Engine) Close() error {
	e.http.CloseIdleConnections()
	return e.dial.Close()
}

// ping checks that the engine answers, and reads its kind and versions
// from the answer's headers ("Server: Docker/20.10.24 (linux)" or
// "Server: Libpod/4.3.1 (linux)", "Api-Version: 1.41").
func (e *Engine) ping(ctx context.Context, ep discover.Endpoint) error {
	resp, err := e.request(ctx, "GET", "/_ping", nil, nil)
	if err != nil {
		return err
	}
	drain(resp.Body)
	e.info = engine.Info{Name: "docker", Endpoint: ep.Host, From: ep.From, API: resp.Header.Get("Api-Version")}
	server, _, _ := strings.Cut(resp.Header.Get("Server"), " ")
	name, version, _ := strings.Cut(server, "/")
	switch name {
	case "Libpod":
		e.info.Name, e.podman = "podman", true
		fallthrough
	case "Docker":
		e.info.Version = version
	}
	return nil
}

// describe completes the engine's Info: its version when the ping's
// headers did not say, whether it is rootless and where it runs.
func (e *Engine) describe(ctx context.Context, ep discover.Endpoint) error {
	if e.info.Version == "" || e.info.API == "" {
		var v struct {
			Version    string
			APIVersion string `json:"ApiVersion"`
			Components []struct{ Name string }
		}
		if err := e.call(ctx, "GET", "/version", nil, nil, &v); err != nil {
			return err
		}
		e.info.Version, e.info.API = v.Version, v.APIVersion
		for _, c := range v.Components {
			if strings.Contains(c.Name, "Podman") {
				e.info.Name, e.podman = "podman", true
			}
		}
	}
	if e.podman && ep.Scheme == "unix" {
		// Podman's /info runs the package manager for the versions of
		// conmon, runc... (seconds; over 30 s on a loaded machine, where it
		// failed whole starts). The socket's peer answers the two questions
		// at once when it is a podman process of this machine: local, and
		// rootless when it does not run as root.
		if pid, uid, ok := socketPeer(ep.Addr); ok && isPodmanProcess(pid) {
			e.info.Rootless = uid != 0
			e.setHosts(ctx, ep, "")
			e.info.Local = true
			e.info.CPUs = goruntime.NumCPU()
			return nil
		}
	}
	var info struct {
		Name            string
		SecurityOptions []string
		NCPU            int
	}
	if err := e.call(ctx, "GET", "/info", nil, nil, &info); err != nil {
		return err
	}
	for _, o := range info.SecurityOptions {
		if o == "name=rootless" {
			e.info.Rootless = true
		}
	}
	e.setHosts(ctx, ep, info.Name)
	e.info.CPUs = info.NCPU
	return nil
}

// hello is ping and describe.
func (e *Engine) hello(ctx context.Context, ep discover.Endpoint) error {
	if err := e.ping(ctx, ep); err != nil {
		return err
	}
	return e.describe(ctx, ep)
}

// setHosts decides where published ports are bound and dialled: on
// 127.0.0.1 for an engine on this machine or behind a loopback address,
// else on every interface of the engine's host (see the package doc).
func (e *Engine) setHosts(ctx context.Context, ep discover.Endpoint, engineHost string) {
	host := "127.0.0.1"
	switch ep.Scheme {
	case "tcp":
		host, _, _ = net.SplitHostPort(ep.Addr)
	case "ssh":
		host = sshconn.Hostname(ctx, ep.SSH)
	}
	loopback := isLoopback(host)
	if loopback {
		host = "127.0.0.1"
	}
	e.info.DialHost = host
	if loopback {
		e.info.PublishIP = "127.0.0.1"
	}
	me, _ := os.Hostname()
	e.info.Local = loopback && engineHost != "" && engineHost == me
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// explainDial turns a failed first exchange into a message that says what
// went wrong and what to do.
func explainDial(ctx context.Context, ep discover.Endpoint, err error) error {
	if msg := explainTLS(ep, err); msg != "" {
		return fmt.Errorf("%s: %w", msg, err)
	}
	var ae *apiError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("connection refused: nothing listens at %s", ep.Addr)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("permission denied on %s: add your user to the socket's group (docker), or use rootless Docker or Podman: %w", ep.Addr, err)
	case ep.Scheme == "tcp" && ep.TLS == nil && isEOF(err):
		return fmt.Errorf("the engine closed the connection at once; it may want TLS (set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH): %w", err)
	case errors.As(err, &ae) && strings.Contains(ae.Message, "HTTPS"):
		return fmt.Errorf("the engine wants TLS (set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH): %w", err)
	case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
		return fmt.Errorf("no answer within %v: %w", pingBound(ep), err)
	}
	return err
}

// explainTLS explains a failed TLS handshake ("" for other errors).
func explainTLS(ep discover.Endpoint, err error) string {
	var (
		hs       *handshakeError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		recHdr   tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &unknown):
		return "the engine's TLS certificate is not signed by the CA of " + tlsSource(ep)
	case errors.As(err, &hostname):
		return "the engine's TLS certificate is not valid for " + ep.Addr
	case errors.As(err, &invalid):
		return "the engine's TLS certificate is not valid (expired, or not for server use)"
	case errors.As(err, &recHdr):
		return "the engine does not speak TLS on " + ep.Addr + " (unset DOCKER_TLS_VERIFY and DOCKER_TLS, or use the engine's TLS port)"
	case !errors.As(err, &hs) && !strings.Contains(err.Error(), "remote error: tls:"):
		// With TLS 1.3 the engine's refusal of the client certificate
		// comes as an alert after the handshake.
		return ""
	case ep.TLS == nil || ep.TLS.CertFile == "":
		return "the engine wants a TLS client certificate, and " + tlsSource(ep) + " has none (cert.pem and key.pem)"
	case isEOF(err) || strings.Contains(err.Error(), "certificate"):
		return "the engine refused the TLS client certificate " + ep.TLS.CertFile + " (is it signed by the engine's CA?)"
	}
	return "TLS handshake with " + ep.Addr + " failed"
}

func pingBound(ep discover.Endpoint) time.Duration {
	if ep.Scheme == "ssh" {
		return sshPingTimeout
	}
	return pingTimeout
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

func tlsSource(ep discover.Endpoint) string {
	if ep.TLS == nil {
		return "no TLS settings"
	}
	return ep.TLS.Source
}
