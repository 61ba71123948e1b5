package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// defaultCA is where callboxd writes its self-signed certificate.
const defaultCA = "/var/lib/callbox/tls/cert.pem"

// trustCA makes the client trust the box's certificate (the system roots
// stay trusted) for https:// addresses. An explicit file that cannot be
// read is an error; the default one is used only when readable.
func (c *client) trustCA(file string) error {
	if !strings.HasPrefix(c.base, "https://") {
		return nil
	}
	explicit := file != ""
	if !explicit {
		file = defaultCA
	}
	pem, err := os.ReadFile(file)
	if err != nil {
		if explicit {
			return fmt.Errorf("--ca: %w", err)
		}
		return nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("--ca: %s holds no PEM certificate", file)
	}
	c.http.Transport = &http.Transport{Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return nil
}
