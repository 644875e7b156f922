package discover

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// TLS is the TLS material of a tcp endpoint, by file.
type TLS struct {
	// CAFile verifies the engine's certificate ("" for the system's roots).
	CAFile string
	// CertFile and KeyFile are the client certificate ("" for none).
	CertFile, KeyFile string
	// SkipVerify accepts any server certificate (DOCKER_TLS without
	// DOCKER_TLS_VERIFY, or a context's SkipTLSVerify).
	SkipVerify bool
	// Source says where the material comes from, for messages
	// ("DOCKER_CERT_PATH /certs", "context TLS /root/.docker/contexts/tls/…").
	Source string
}

// Config loads the files into a client configuration for serverName. Its
// errors name the file at fault and say what is wrong with it.
func (t *TLS) Config(serverName string, now time.Time) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.SkipVerify}
	if t.CAFile != "" && !t.SkipVerify {
		pool, err := loadCA(t.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := loadPair(t.CertFile, t.KeyFile, now)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func loadCA(path string) (*x509.CertPool, error) {
	b, err := readPEM("CA certificate", path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("TLS CA certificate %s holds no valid PEM certificate", path)
	}
	return pool, nil
}

func loadPair(certFile, keyFile string, now time.Time) (tls.Certificate, error) {
	certPEM, err := readPEM("client certificate", certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readPEM("client key", keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	switch {
	case err == nil:
	case strings.Contains(err.Error(), "does not match"):
		return cert, fmt.Errorf("TLS client key %s does not match the certificate %s", keyFile, certFile)
	case strings.Contains(err.Error(), "certificate"):
		return cert, fmt.Errorf("TLS client certificate %s is invalid: %v", certFile, err)
	default:
		return cert, fmt.Errorf("TLS client key %s is invalid: %v", keyFile, err)
	}
	if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil && now.After(leaf.NotAfter) {
		return cert, fmt.Errorf("TLS client certificate %s expired on %s", certFile, leaf.NotAfter.Format(time.DateOnly))
	}
	return cert, nil
}

// readPEM reads one of the files; what names it in errors.
func readPEM(what, path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("TLS %s: no file given", what)
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("TLS %s %s does not exist", what, path)
	case err != nil:
		return nil, fmt.Errorf("TLS %s: %w", what, err)
	}
	return b, nil
}
