package daemon

// This file wires the operator surface's stores at start: users and
// sessions (auth), the audit log, the recording keys, the HTTPS
// certificate and the metrics registry.

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"callbox/cluster"
	"callbox/daemon/audit"
	"callbox/daemon/auth"
	"callbox/daemon/config"
	"callbox/daemon/metrics"
	"callbox/daemon/recstore"
	"callbox/daemon/tlscert"
	"callbox/media"
)

// passwordIterations is the PBKDF2 work factor for new password hashes
// (tests lower it).
var passwordIterations = auth.DefaultIterations

// security holds the operator surface's state for one Run.
type security struct {
	authn         *auth.Authenticator
	audit         *audit.Log
	keys          *recstore.Keyring
	metrics       *metrics.Metrics // nil when metrics.enabled is false
	stopMigration func()           // ends the users file import (auth.StartMigration)
	tls           *tls.Config      // nil: plain HTTP
	cert          tlscert.Result
}

// openSecurity opens (creating on first start) everything under data_dir
// that the API's security needs.
func openSecurity(cfg *config.Config, node *cluster.Node, log *slog.Logger) (*security, error) {
	data := cfg.Box.DataDir
	// Users and tokens are replicated (daemon/auth/cluster.go); a box's
	// users file from before is imported once, in the background.
	store := auth.NewClusterStore(node, nil)
	store.Iterations = passwordIterations
	s := &security{authn: auth.NewAuthenticator(store, cfg.API.Token, nil)}
	var err error
	keyDir := filepath.Join(data, "keys")
	if s.keys, err = recstore.LoadKeyring(keyDir); err != nil {
		return nil, err
	}
	akPath := filepath.Join(keyDir, "audit.key")
	akey, err := recstore.ReadKeyFile(akPath)
	if errors.Is(err, os.ErrNotExist) {
		akey, err = recstore.CreateKeyFile(akPath)
	}
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	if s.audit, err = audit.Open(filepath.Join(data, "audit", "audit.log"), akey, nil); err != nil {
		return nil, err
	}
	if p := s.audit.Problem(); p != nil {
		log.Error("AUDIT LOG DOES NOT VERIFY: it was modified outside callboxd; new entries are appended after it", "log", s.audit.Path(), "err", p)
	}
	if useTLS(cfg) {
		host, _, _ := net.SplitHostPort(cfg.API.Listen)
		s.cert, err = tlscert.Load(cfg.API.TLS.Cert, cfg.API.TLS.Key, filepath.Join(data, "tls"), tlscert.Hosts(host), nil)
		if err != nil {
			s.audit.Close()
			return nil, fmt.Errorf("api.tls: %w", err)
		}
		s.tls = s.cert.Config
		s.authn.SecureCookie = true
		if s.cert.Generated {
			log.Info("created a self-signed API certificate", "cert", s.cert.CertFile, "sha256", s.cert.SHA256, "not_after", s.cert.NotAfter)
		}
	}
	if cfg.Metrics.Enabled {
		s.metrics = metrics.New()
	}
	marked, err := recstore.Sweep(filepath.Join(data, "recordings"))
	for _, m := range marked {
		log.Warn("recording left by a crash recovered", "file", m, "truncated", strings.HasSuffix(m, recstore.TruncatedExt))
	}
	if err != nil {
		log.Error("recovering recordings left by a crash", "err", err)
	}
	s.stopMigration = auth.StartMigration(filepath.Join(data, "auth", "users.json"), store, log)
	if s.authn.SetupMode() {
		log.Warn("setup mode: no users and no api.token; loopback requests act as admin until the first user is created (callboxctl users add)")
	}
	return s, nil
}

// Close closes the audit log.
func (s *security) Close() {
	s.stopMigration()
	_ = s.audit.Close()
}

// useTLS applies api.tls.mode: auto serves HTTPS unless the listener is
// loopback-only and no certificate is configured.
func useTLS(cfg *config.Config) bool {
	switch cfg.API.TLS.Mode {
	case "on":
		return true
	case "off":
		return false
	}
	if cfg.API.TLS.Cert != "" {
		return true
	}
	host, _, err := net.SplitHostPort(cfg.API.Listen)
	if err != nil {
		return true
	}
	if host == "localhost" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsLoopback()
}

// recorderOptions makes recordings go through recstore's encrypting
// writer: media never sees a plaintext file.
func (s *security) recorderOptions() media.RecorderOptions {
	return media.RecorderOptions{Create: func(path string) (io.WriteCloser, error) {
		return recstore.Create(path, s.keys)
	}}
}
