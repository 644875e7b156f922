package discover

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// certDir copies the fixture certificates to a temporary directory.
func certDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("testdata/certs")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func fixtureTLS(dir string) *TLS {
	return &TLS{CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}
}

func TestTLSConfig(t *testing.T) {
	dir := certDir(t)
	cfg, err := fixtureTLS(dir).Config("engine.example", now)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.ServerName != "engine.example" || cfg.InsecureSkipVerify {
		t.Errorf("config: roots %v, %d certificates, server %q, skip %v", cfg.RootCAs != nil, len(cfg.Certificates), cfg.ServerName, cfg.InsecureSkipVerify)
	}
	skip := fixtureTLS(dir)
	skip.SkipVerify = true
	skip.CAFile = filepath.Join(dir, "missing.pem") // not read when not verifying
	if cfg, err := skip.Config("h", now); err != nil || !cfg.InsecureSkipVerify {
		t.Errorf("skip verify: %v, %+v", err, cfg)
	}
	none := &TLS{}
	if cfg, err := none.Config("h", now); err != nil || cfg.RootCAs != nil || len(cfg.Certificates) != 0 {
		t.Errorf("no files: %v, %+v; want the system roots and no client certificate", err, cfg)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(dir string) // breaks the fixture
		want  string           // in the error; DIR is the directory
	}{
		{"missing CA", func(d string) { os.Remove(filepath.Join(d, "ca.pem")) }, "TLS CA certificate DIR/ca.pem does not exist"},
		{"CA not PEM", func(d string) { write(d, "ca.pem", "hello") }, "TLS CA certificate DIR/ca.pem holds no valid PEM certificate"},
		{"missing cert", func(d string) { os.Remove(filepath.Join(d, "cert.pem")) }, "TLS client certificate DIR/cert.pem does not exist"},
		{"missing key", func(d string) { os.Remove(filepath.Join(d, "key.pem")) }, "TLS client key DIR/key.pem does not exist"},
		{"cert not PEM", func(d string) { write(d, "cert.pem", "junk") }, "TLS client certificate DIR/cert.pem is invalid"},
		{"key not PEM", func(d string) { write(d, "key.pem", "junk") }, "TLS client key DIR/key.pem is invalid"},
		{"key of another cert", func(d string) { write(d, "key.pem", newKeyPEM(t)) }, "TLS client key DIR/key.pem does not match the certificate DIR/cert.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := certDir(t)
			tt.setup(dir)
			_, err := fixtureTLS(dir).Config("h", now)
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v; want it to contain %q", err, want)
			}
		})
	}
}

func TestTLSExpiredClientCertificate(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "old"},
		NotBefore: now.AddDate(-2, 0, 0), NotAfter: now.AddDate(0, 0, -3),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write(dir, "cert.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	write(dir, "key.pem", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	_, err = (&TLS{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem")}).Config("h", now)
	want := "TLS client certificate " + filepath.Join(dir, "cert.pem") + " expired on 2026-05-29"
	if err == nil || err.Error() != want {
		t.Errorf("error %v; want %q", err, want)
	}
}

func write(dir, name, content string) {
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		panic(err)
	}
}

func newKeyPEM(t *testing.T) string {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}
