package tlscert

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestGenerateReuseRenew(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	r1, err := Load("", "", dir, []string{"box-1.example", "10.1.2.3"}, clock)
	if err != nil || !r1.Generated {
		t.Fatalf("first start: %+v %v", r1, err)
	}
	if st, _ := os.Stat(r1.KeyFile); st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %v", st.Mode())
	}
	leaf, _ := x509.ParseCertificate(r1.Config.Certificates[0].Certificate[0])
	if err := leaf.VerifyHostname("box-1.example"); err != nil {
		t.Error(err)
	}
	if err := leaf.VerifyHostname("10.1.2.3"); err != nil {
		t.Error(err)
	}
	r2, err := Load("", "", dir, nil, clock)
	if err != nil || r2.Generated || r2.SHA256 != r1.SHA256 {
		t.Fatalf("second start must reuse: %+v %v", r2, err)
	}
	now = now.Add(Validity - RenewAhead + time.Hour)
	r3, err := Load("", "", dir, nil, clock)
	if err != nil || !r3.Generated || r3.SHA256 == r1.SHA256 {
		t.Fatalf("near expiry must renew: %+v %v", r3, err)
	}
}

func TestConfiguredAndBroken(t *testing.T) {
	dir := t.TempDir()
	r, err := Load("", "", dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Configured files are used as they are.
	rc, err := Load(r.CertFile, r.KeyFile, "/nonexistent", nil, nil)
	if err != nil || rc.Generated || rc.SHA256 != r.SHA256 {
		t.Fatalf("configured: %+v %v", rc, err)
	}
	if _, err := Load(r.CertFile, "", dir, nil, nil); !errors.Is(err, ErrCert) {
		t.Errorf("cert without key: %v", err)
	}
	// A broken generated file is reported, never overwritten.
	os.WriteFile(r.CertFile, []byte("garbage"), 0o644)
	if _, err := Load("", "", dir, nil, nil); !errors.Is(err, ErrCert) {
		t.Errorf("broken cert: %v", err)
	}
	if b, _ := os.ReadFile(r.CertFile); string(b) != "garbage" {
		t.Error("broken cert overwritten")
	}
}

func TestServesHTTPS(t *testing.T) {
	r, err := Load("", "", t.TempDir(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", r.Config)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })}
	go srv.Serve(ln)
	defer srv.Close()
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(r.CertFile)
	pool.AppendCertsFromPEM(pem)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get("https://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Without trusting it, a client refuses.
	if _, err := http.Get("https://" + ln.Addr().String()); err == nil {
		t.Error("untrusted self-signed certificate accepted")
	}
	_ = net.IPv4len
}
