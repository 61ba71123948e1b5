// Package tlscert owns the API's HTTPS certificate: the configured
// certificate and key when given, else a self-signed ECDSA P-256
// certificate created under the data directory at first start and
// renewed when it is within 30 days of expiry.
package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Validity of a generated certificate, and when it is renewed.
const (
	Validity   = 5 * 365 * 24 * time.Hour
	RenewAhead = 30 * 24 * time.Hour
)

// ErrCert wraps every certificate problem; the message names the file.
var ErrCert = errors.New("tlscert")

// Result is the certificate in use.
type Result struct {
	Config    *tls.Config
	CertFile  string
	KeyFile   string
	Generated bool   // created (or renewed) by this call
	SHA256    string // fingerprint of the leaf, for operators to compare
	NotAfter  time.Time
}

// Load uses certFile and keyFile when both are set; otherwise it uses (or
// creates) dir/cert.pem and dir/key.pem for the given host names and
// addresses. now may be nil.
func Load(certFile, keyFile, dir string, hosts []string, now func() time.Time) (Result, error) {
	if now == nil {
		now = time.Now
	}
	if (certFile == "") != (keyFile == "") {
		return Result{}, fmt.Errorf("%w: api.tls.cert and api.tls.key must be set together", ErrCert)
	}
	if certFile != "" {
		return load(certFile, keyFile, false)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	res, err := load(certFile, keyFile, false)
	switch {
	case err == nil && now().Add(RenewAhead).Before(res.NotAfter):
		return res, nil
	case err == nil, errors.Is(err, os.ErrNotExist):
		// expiring (ours, so renew) or not there yet
	default:
		return Result{}, err // a broken file is reported, never overwritten
	}
	if err := generate(certFile, keyFile, hosts, now()); err != nil {
		return Result{}, err
	}
	return load(certFile, keyFile, true)
}

func load(certFile, keyFile string, generated bool) (Result, error) {
	if _, err := os.Stat(certFile); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Result{}, err
		}
		return Result{}, fmt.Errorf("%w: %v", ErrCert, err)
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %s / %s: %v", ErrCert, certFile, keyFile, err)
	}
	leaf := pair.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return Result{}, fmt.Errorf("%w: %s: %v", ErrCert, certFile, err)
		}
	}
	sum := sha256.Sum256(leaf.Raw)
	return Result{
		Config:   &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		CertFile: certFile, KeyFile: keyFile, Generated: generated,
		SHA256: hex.EncodeToString(sum[:]), NotAfter: leaf.NotAfter,
	}, nil
}

// generate writes a self-signed certificate valid for hosts (names or
// IPs; localhost and 127.0.0.1 are always included).
func generate(certFile, keyFile string, hosts []string, now time.Time) error {
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return fmt.Errorf("%w: %v", ErrCert, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCert, err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCert, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "callbox", Organization: []string{"callbox appliance (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so a client can pin it as its own root
	}
	seen := map[string]bool{}
	for _, h := range append([]string{"localhost", "127.0.0.1", "::1"}, hosts...) {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			if !ip.IsUnspecified() {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			}
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCert, err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCert, err)
	}
	if err := writeAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return writeAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("%w: %v", ErrCert, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("%w: %v", ErrCert, err)
	}
	return nil
}

// Hosts lists the names a generated certificate should cover: the
// machine's host name and every address of its interfaces, plus the
// listen host when it is specific.
func Hosts(listenHost string) []string {
	var out []string
	if h, err := os.Hostname(); err == nil {
		out = append(out, h)
	}
	if listenHost != "" {
		out = append(out, listenHost)
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				out = append(out, n.IP.String())
			}
		}
	}
	return out
}
