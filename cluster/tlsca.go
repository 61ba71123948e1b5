package cluster

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
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ClusterServerName is the DNS name every box certificate carries and every
// box verifies: boxes are dialled by IP:port, and identity is "holds a
// certificate issued by this cluster's CA".
const ClusterServerName = "callbox-cluster"

// Validity of certificates issued by InitCA and SignCSR.
const (
	caValidity   = 20 * 365 * 24 * time.Hour
	nodeValidity = 10 * 365 * 24 * time.Hour
)

// Files under a box's TLS directory (<data_dir>/cluster/tls).
const (
	CACertFile   = "ca.crt"
	CAKeyFile    = "ca.key" // only on boxes that may sign joins (voters)
	NodeCertFile = "node.crt"
	NodeKeyFile  = "node.key"
)

// ErrNoTLS means the TLS directory holds no cluster certificate: the box
// was never initialised (callboxctl cluster init) or joined.
var ErrNoTLS = errors.New("cluster: no cluster TLS material (run callboxctl cluster init or join)")

// TLSMaterial is a box's cluster identity: the CA certificate, its own
// certificate and key, and (on boxes that may sign joins) the CA key.
type TLSMaterial struct {
	CA     *x509.Certificate
	CAKey  *ecdsa.PrivateKey // nil if this box cannot sign
	Cert   tls.Certificate
	NodeID string // the certificate's common name
}

// CAFingerprint is the hex SHA-256 of the CA certificate's DER bytes.
func (m *TLSMaterial) CAFingerprint() string { return Fingerprint(m.CA.Raw) }

// Fingerprint is the hex SHA-256 of a DER certificate.
func Fingerprint(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

func (m *TLSMaterial) pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(m.CA)
	return p
}

// ServerConfig is the listener side: TLS 1.3, the box certificate, client
// certificates verified against the cluster CA when given. The stream mux
// (see TLSLayer) refuses raft and forwarding streams from a client that
// presented none; only the join stream may come without one.
func (m *TLSMaterial) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{m.Cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    m.pool(),
	}
}

// ClientConfig is the dialling side: it presents the box certificate and
// verifies the peer against the cluster CA.
func (m *TLSMaterial) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{m.Cert},
		RootCAs:      m.pool(),
		ServerName:   ClusterServerName,
	}
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
}

func pemBytes(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func keyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pemBytes("EC PRIVATE KEY", der), nil
}

// InitCA creates the cluster CA (ECDSA P-256) and nodeID's certificate in
// dir. It refuses to overwrite an existing CA.
func InitCA(dir, nodeID string, now time.Time) (*TLSMaterial, error) {
	if err := checkID("node id", nodeID); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, CACertFile)); err == nil {
		return nil, fmt.Errorf("%w: %s already holds a cluster CA; remove it to start a new cluster", ErrExists, dir)
	}
	caKey, err := newKey()
	if err != nil {
		return nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: "callbox cluster CA " + nodeID, Organization: []string{"callbox"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("cluster: create CA: %w", err)
	}
	ca, _ := x509.ParseCertificate(der)
	nodeKey, err := newKey()
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: nodeID}}, nodeKey)
	if err != nil {
		return nil, err
	}
	certPEM, err := SignCSR(ca, caKey, pemBytes("CERTIFICATE REQUEST", csr), nodeID, now)
	if err != nil {
		return nil, err
	}
	caKeyPEM, err := keyPEM(caKey)
	if err != nil {
		return nil, err
	}
	nodeKeyPEM, err := keyPEM(nodeKey)
	if err != nil {
		return nil, err
	}
	if err := WriteTLS(dir, pemBytes("CERTIFICATE", der), caKeyPEM, certPEM, nodeKeyPEM); err != nil {
		return nil, err
	}
	return LoadTLS(dir)
}

// NewCSR makes a key and a certificate request for nodeID (PEM both).
func NewCSR(nodeID string) (keyPEMBytes, csrPEM []byte, err error) {
	if err := checkID("node id", nodeID); err != nil {
		return nil, nil, err
	}
	k, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: nodeID}}, k)
	if err != nil {
		return nil, nil, err
	}
	kp, err := keyPEM(k)
	return kp, pemBytes("CERTIFICATE REQUEST", csr), err
}

// SignCSR issues a box certificate for nodeID from a PEM CSR. The CSR's
// common name must be nodeID and its signature must verify.
func SignCSR(ca *x509.Certificate, caKey *ecdsa.PrivateKey, csrPEM []byte, nodeID string, now time.Time) ([]byte, error) {
	if caKey == nil {
		return nil, fmt.Errorf("%w: this box holds no CA key and cannot sign joins", ErrFenced)
	}
	blk, _ := pem.Decode(csrPEM)
	if blk == nil || blk.Type != "CERTIFICATE REQUEST" {
		return nil, invalid("CSR is not a PEM CERTIFICATE REQUEST")
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, invalid("CSR: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, invalid("CSR signature: %v", err)
	}
	if csr.Subject.CommonName != nodeID {
		return nil, invalid("CSR common name %q is not the node id %q", csr.Subject.CommonName, nodeID)
	}
	if _, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok {
		return nil, invalid("CSR key is %T; want ECDSA", csr.PublicKey)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: nodeID, Organization: []string{"callbox"}},
		DNSNames:     []string{ClusterServerName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(nodeValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, csr.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("cluster: sign certificate for %s: %w", nodeID, err)
	}
	return pemBytes("CERTIFICATE", der), nil
}

// WriteTLS writes the PEM files into dir (0700), keys 0600. caKeyPEM may be nil.
func WriteTLS(dir string, caPEM, caKeyPEM, certPEM, nodeKeyPEM []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cluster: tls dir %s: %w", dir, err)
	}
	files := []struct {
		name string
		data []byte
		mode os.FileMode
	}{{CACertFile, caPEM, 0o644}, {CAKeyFile, caKeyPEM, 0o600}, {NodeCertFile, certPEM, 0o644}, {NodeKeyFile, nodeKeyPEM, 0o600}}
	for _, f := range files {
		if f.data == nil {
			continue
		}
		p := filepath.Join(dir, f.name)
		tmp := p + ".tmp"
		if err := os.WriteFile(tmp, f.data, f.mode); err != nil {
			return fmt.Errorf("cluster: write %s: %w", p, err)
		}
		if err := os.Rename(tmp, p); err != nil {
			return fmt.Errorf("cluster: write %s: %w", p, err)
		}
	}
	return nil
}

// LoadTLS reads a box's TLS directory. It returns ErrNoTLS if the
// directory holds no node certificate.
func LoadTLS(dir string) (*TLSMaterial, error) {
	certPath, keyPath := filepath.Join(dir, NodeCertFile), filepath.Join(dir, NodeKeyFile)
	if _, err := os.Stat(certPath); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s missing", ErrNoTLS, certPath)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		return nil, fmt.Errorf("cluster: read CA certificate: %w", err)
	}
	ca, err := ParseCertPEM(caPEM)
	if err != nil {
		return nil, fmt.Errorf("cluster: %s: %w", filepath.Join(dir, CACertFile), err)
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("cluster: load box certificate from %s: %w", dir, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("cluster: %s: %w", certPath, err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: (&TLSMaterial{CA: ca}).pool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("cluster: %s is not issued by the cluster CA in %s: %w", certPath, dir, err)
	}
	// Send the CA with the leaf so a joining box can pin its fingerprint.
	cert.Certificate = append(cert.Certificate[:1:1], ca.Raw)
	cert.Leaf = leaf
	m := &TLSMaterial{CA: ca, Cert: cert, NodeID: leaf.Subject.CommonName}
	if kp, err := os.ReadFile(filepath.Join(dir, CAKeyFile)); err == nil {
		if m.CAKey, err = parseKeyPEM(kp); err != nil {
			return nil, fmt.Errorf("cluster: %s: %w", filepath.Join(dir, CAKeyFile), err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cluster: read CA key: %w", err)
	}
	return m, nil
}

// ParseCertPEM parses one PEM certificate.
func ParseCertPEM(b []byte) (*x509.Certificate, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, invalid("not a PEM CERTIFICATE")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, invalid("certificate: %v", err)
	}
	return c, nil
}

func parseKeyPEM(b []byte) (*ecdsa.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || !strings.Contains(blk.Type, "PRIVATE KEY") {
		return nil, invalid("not a PEM private key")
	}
	k, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		return nil, invalid("private key: %v", err)
	}
	return k, nil
}

// caKeyPEM returns the CA key as PEM (for a joining voter), or nil.
func (m *TLSMaterial) caKeyPEM() []byte {
	if m.CAKey == nil {
		return nil
	}
	b, _ := keyPEM(m.CAKey)
	return b
}
