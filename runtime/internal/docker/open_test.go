package docker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/composegen/composegen/runtime/internal/discover"
)

// fakeEngine answers the requests of Connect like an engine would.
func fakeEngine(podman, rootless bool, hostname string) http.Handler {
	return fakeEngineHeaders(podman, rootless, hostname, false)
}

// fakeEngineHeaders is fakeEngine; with headers, the ping's answer names
// the engine and /version fails (it must not be needed then).
func fakeEngineHeaders(podman, rootless bool, hostname string, headers bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/_ping", func(w http.ResponseWriter, r *http.Request) {
		if headers {
			w.Header().Set("Api-Version", "1.41")
			w.Header().Set("Server", "Docker/9.9.9 (linux)")
			if podman {
				w.Header().Set("Server", "Libpod/9.9.9 (linux)")
			}
		}
		fmt.Fprint(w, "OK")
	})
	mux.HandleFunc("/version", func(w http.ResponseWriter, r *http.Request) {
		if headers {
			http.Error(w, "slow", http.StatusInternalServerError)
			return
		}
		comp := "Engine"
		if podman {
			comp = "Podman Engine"
		}
		fmt.Fprintf(w, `{"Version":"9.9.9","ApiVersion":"1.41","Components":[{"Name":%q,"Version":"9.9.9"}]}`, comp)
	})
	mux.HandleFunc("/info", func(w http.ResponseWriter, r *http.Request) {
		opts := `"name=seccomp,profile=default"`
		if rootless {
			opts += `,"name=rootless"`
		}
		fmt.Fprintf(w, `{"Name":%q,"SecurityOptions":[%s],"NCPU":6}`, hostname, opts)
	})
	return mux
}

// serve serves h on l until the test ends.
func serve(t *testing.T, l net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
}

// unixSocket returns a short socket path (sun_path is small).
func unixSocket(t *testing.T) string {
	dir, err := os.MkdirTemp("", "cg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "s")
}

func unixEndpoint(path, from string) discover.Endpoint {
	return discover.Endpoint{Host: "unix://" + path, From: from, Scheme: "unix", Addr: path}
}

func TestConnectInfo(t *testing.T) {
	me, _ := os.Hostname()
	tests := []struct {
		name                      string
		podman, rootless, headers bool
		host                      string
		wantName                  string
		wantLocal, wantRootless   bool
	}{
		{"docker", false, false, false, me, "docker", true, false},
		{"docker named by the ping", false, false, true, me, "docker", true, false},
		{"rootless podman", true, true, false, me, "podman", true, true},
		{"podman named by the ping", true, false, true, me, "podman", true, false},
		{"socket of another machine's engine", false, false, false, "elsewhere", "docker", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := unixSocket(t)
			l, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			serve(t, l, fakeEngineHeaders(tt.podman, tt.rootless, tt.host, tt.headers))
			e, err := Connect(context.Background(), unixEndpoint(path, "test socket"))
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			i := e.Info()
			if i.Name != tt.wantName || i.Local != tt.wantLocal || i.Rootless != tt.wantRootless || i.Version != "9.9.9" || i.API != "1.41" ||
				i.Endpoint != "unix://"+path || i.From != "test socket" || i.DialHost != "127.0.0.1" || i.PublishIP != "127.0.0.1" || i.CPUs != 6 {
				t.Errorf("Info = %+v", i)
			}
			if e.podman != tt.podman {
				t.Errorf("podman = %v", e.podman)
			}
		})
	}
}

func TestOpenNamesEveryAddress(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.sock")
	refused := unixSocket(t)
	l, err := net.Listen("unix", refused)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close() // the socket file stays, nobody listens
	mute := unixSocket(t)
	ml, err := net.Listen("unix", mute)
	if err != nil {
		t.Fatal(err)
	}
	defer ml.Close() // accepts (the kernel does) but never answers
	// The mute socket costs a whole ping bound: a short one here (this test
	// is not parallel, so no other test reads it meanwhile).
	defer func(d time.Duration) { pingTimeout = d }(pingTimeout)
	pingTimeout = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err = openFirst(ctx, []discover.Endpoint{
		unixEndpoint(missing, "default socket"), unixEndpoint(refused, "rootless Docker socket"), unixEndpoint(mute, "rootful Podman socket"),
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"no Docker engine answered; tried:",
		"unix://" + missing + " (default socket): no such socket",
		"unix://" + refused + " (rootless Docker socket): connection refused",
		"unix://" + mute + " (rootful Podman socket): no answer within 300ms",
		"start Docker or Podman",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("trying three sockets took %v", d)
	}
}

func TestOpenExplicitOnly(t *testing.T) {
	ep := unixEndpoint(filepath.Join(t.TempDir(), "x.sock"), "DOCKER_HOST")
	ep.Explicit = true
	good := unixSocket(t)
	l, err := net.Listen("unix", good)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l, fakeEngine(false, false, "h"))
	_, err = openFirst(context.Background(), []discover.Endpoint{ep, unixEndpoint(good, "default socket")})
	want := "cannot use the Docker engine at " + ep.Host + " (DOCKER_HOST): no such socket\ncheck that the engine runs there, or unset DOCKER_HOST"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %v; want %q (and no other candidate tried)", err, want)
	}
}

// pki is a CA with server and client certificates in a directory laid out
// like DOCKER_CERT_PATH.
type pki struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	server tls.Certificate
}

func newPKI(t *testing.T, serverHosts ...string) *pki {
	t.Helper()
	p := &pki{dir: t.TempDir()}
	p.ca, p.caKey = p.issue(t, "ca.pem", "", &x509.Certificate{IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign})
	p.issue(t, "cert.pem", "key.pem", &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	srv, key := p.issue(t, "", "", &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: serverHosts, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}})
	p.server = tls.Certificate{Certificate: [][]byte{srv.Raw}, PrivateKey: key}
	return p
}

// issue makes a certificate from tmpl, signed by the CA (self-signed for
// the CA), and writes it and its key when named.
func (p *pki) issue(t *testing.T, certFile, keyFile string, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber, tmpl.Subject = serial, pkix.Name{CommonName: "test " + certFile}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	}
	parent, signer := tmpl, key
	if p.ca != nil {
		parent, signer = p.ca, p.caKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	if certFile != "" {
		writePEM(t, filepath.Join(p.dir, certFile), "CERTIFICATE", der)
	}
	if keyFile != "" {
		kder, _ := x509.MarshalECPrivateKey(key)
		writePEM(t, filepath.Join(p.dir, keyFile), "EC PRIVATE KEY", kder)
	}
	return cert, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tlsEngine serves a fake engine with server pki's certificate, requiring
// a client certificate of its CA; it returns the address.
func tlsEngine(t *testing.T, p *pki) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.ca)
	cfg := &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	serve(t, tls.NewListener(l, cfg), fakeEngine(false, false, "remote"))
	return l.Addr().String()
}

func tlsEndpoint(addr, dir string) discover.Endpoint {
	return discover.Endpoint{Host: "tcp://" + addr, From: "DOCKER_HOST", Scheme: "tcp", Addr: addr, TLS: &discover.TLS{
		CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"),
		Source: "DOCKER_CERT_PATH " + dir}}
}

func TestConnectTLS(t *testing.T) {
	p := newPKI(t)
	addr := tlsEngine(t, p)
	e, err := Connect(context.Background(), tlsEndpoint(addr, p.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if i := e.Info(); i.DialHost != "127.0.0.1" || i.PublishIP != "127.0.0.1" || i.Local {
		t.Errorf("Info = %+v; want loopback hosts, not local (the engine reports another hostname)", i)
	}
}

func TestConnectTLSErrors(t *testing.T) {
	p := newPKI(t)
	addr := tlsEngine(t, p)
	other := newPKI(t) // another CA, with its own client certificate
	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(t, plain, fakeEngine(false, false, "plain"))
	tests := []struct {
		name  string
		ep    func() discover.Endpoint
		want  string
		wantF string // a file the error must name ("" for none)
	}{
		{"engine certificate of another CA", func() discover.Endpoint {
			ep := tlsEndpoint(addr, p.dir)
			ep.TLS.CAFile = filepath.Join(other.dir, "ca.pem")
			return ep
		}, "the engine's TLS certificate is not signed by the CA of DOCKER_CERT_PATH", ""},
		{"client certificate of another CA", func() discover.Endpoint { return tlsEndpoint(addr, other.dir) }, "", ""},
		{"no client certificate", func() discover.Endpoint {
			ep := tlsEndpoint(addr, p.dir)
			ep.TLS.CAFile = filepath.Join(p.dir, "ca.pem")
			ep.TLS.CertFile, ep.TLS.KeyFile = "", ""
			return ep
		}, "the engine wants a TLS client certificate, and DOCKER_CERT_PATH " + p.dir + " has none", ""},
		{"missing CA file", func() discover.Endpoint {
			ep := tlsEndpoint(addr, p.dir)
			ep.TLS.CAFile = filepath.Join(p.dir, "nope.pem")
			return ep
		}, "TLS CA certificate", filepath.Join(p.dir, "nope.pem")},
		{"TLS to a plain port", func() discover.Endpoint { return tlsEndpoint(plain.Addr().String(), p.dir) }, "the engine does not speak TLS on", ""},
		{"plain to a TLS port", func() discover.Endpoint {
			return discover.Endpoint{Host: "tcp://" + addr, From: "DOCKER_HOST", Scheme: "tcp", Addr: addr}
		}, "the engine wants TLS (set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)", ""},
	}
	// The client certificate of another CA: the engine refuses it.
	tests[1].want = "the engine refused the TLS client certificate " + filepath.Join(other.dir, "cert.pem")
	tests[1].ep = func() discover.Endpoint {
		ep := tlsEndpoint(addr, other.dir)
		ep.TLS.CAFile = filepath.Join(p.dir, "ca.pem")
		return ep
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Connect(context.Background(), tt.ep())
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.wantF) {
				t.Errorf("error: %v\nwant it to contain %q and %q", err, tt.want, tt.wantF)
			}
		})
	}
}

func TestConnectTLSServerCertificate(t *testing.T) {
	for _, tt := range []struct {
		name string
		tmpl *x509.Certificate
		want string
	}{
		{"expired", &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
			NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)}, "the engine's TLS certificate is not valid (expired"},
		{"other host", &x509.Certificate{ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, DNSNames: []string{"other.example"}},
			"the engine's TLS certificate is not valid for 127.0.0.1:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newPKI(t)
			cert, key := p.issue(t, "", "", tt.tmpl)
			p.server = tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key}
			_, err := Connect(context.Background(), tlsEndpoint(tlsEngine(t, p), p.dir))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v; want %q", err, tt.want)
			}
		})
	}
}

// TestTLSEngineErrors checks the messages against the real TLS engine of
// DOCKER_HOST (the dockerenv one is socat, which drops refused clients).
func TestTLSEngineErrors(t *testing.T) {
	eps, err := discover.Candidates(discover.OS())
	if err != nil || len(eps) != 1 || eps[0].TLS == nil || eps[0].TLS.CertFile == "" {
		t.Skip("DOCKER_HOST is not a tcp:// engine with TLS and a client certificate")
	}
	ep := eps[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	noCert := ep
	noCert.TLS = &discover.TLS{CAFile: ep.TLS.CAFile, Source: ep.TLS.Source}
	otherCA := ep
	otherCA.TLS = &discover.TLS{CAFile: filepath.Join(newPKI(t).dir, "ca.pem"), CertFile: ep.TLS.CertFile, KeyFile: ep.TLS.KeyFile, Source: "other"}
	plain := ep
	plain.TLS = nil
	for _, tt := range []struct {
		name string
		ep   discover.Endpoint
		want string
	}{
		{"no client certificate", noCert, "the engine wants a TLS client certificate"},
		{"engine certificate of another CA", otherCA, "the engine's TLS certificate is not signed by the CA of other"},
		{"plain HTTP", plain, "it may want TLS (set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)"},
	} {
		if _, err := Connect(ctx, tt.ep); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want %q", tt.name, err, tt.want)
		}
	}
}

// Podman's /info runs the package manager and took over 30 s on a loaded
// machine, failing whole starts ("the engine answered, but: context
// deadline exceeded"). On a local socket served by a podman process,
// Connect does without it.
func TestConnectPodmanWithoutInfo(t *testing.T) {
	path := unixSocket(t)
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	askedInfo := make(chan struct{}, 1) // /info was asked by the second Connect
	var secondConnect atomic.Bool
	h := fakeEngineHeaders(true, false, "elsewhere", true)
	serve(t, l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/info" {
			if secondConnect.Load() {
				select {
				case askedInfo <- struct{}{}:
				default:
				}
			}
			<-stuck
			return
		}
		h.ServeHTTP(w, r)
	}))
	// This test process serves the socket: it plays the podman process.
	old := isPodmanProcess
	isPodmanProcess = func(pid int) bool { return pid == os.Getpid() }
	t.Cleanup(func() { isPodmanProcess = old })

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := Connect(ctx, unixEndpoint(path, "test socket"))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Connect took %v", d)
	}
	i := e.Info()
	if i.Name != "podman" || !i.Local || i.Rootless != (os.Getuid() != 0) || i.DialHost != "127.0.0.1" || i.PublishIP != "127.0.0.1" || i.CPUs != goruntime.NumCPU() {
		t.Errorf("Info = %+v", i)
	}

	// Served by another process (a forwarded socket, say): /info decides.
	// Connect waits for the stuck /info until its context ends, which
	// happens as soon as /info is asked (or after 10 s if it never is).
	isPodmanProcess = func(int) bool { return false }
	secondConnect.Store(true)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	go func() {
		select {
		case <-askedInfo:
			cancel2()
		case <-ctx2.Done():
		}
	}()
	if e, err := Connect(ctx2, unixEndpoint(path, "test socket")); err == nil {
		e.Close()
		t.Error("Connect did not ask /info of a socket another process serves")
	}
}
