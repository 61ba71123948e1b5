package cluster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ErrJoinRefused means a join token was unknown, used, expired, or the
// joining box's request was bad.
var ErrJoinRefused = errors.New("cluster: join refused")

// Join tokens.
const (
	joinTokenPrefix = "cbxjoin1."
	// MaxJoinTokenTTL bounds how long a join token stays valid.
	MaxJoinTokenTTL = 7 * 24 * time.Hour
	maxTokenLen     = 1024
	joinFile        = "join.json"
)

// JoinToken is what `callboxctl cluster token create` prints: the address
// of the member that issued it (its cluster TLS port), the fingerprint of
// the cluster CA, a one-time secret, and an expiry.
type JoinToken struct {
	Addr          string    `json:"addr"`
	CAFingerprint string    `json:"ca"`
	Secret        string    `json:"secret"`
	Expires       time.Time `json:"exp"`
}

// String encodes the token as one copy-pasteable word.
func (t JoinToken) String() string {
	b, _ := json.Marshal(t)
	return joinTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// ParseJoinToken decodes and checks a token string.
func ParseJoinToken(s string) (JoinToken, error) {
	var t JoinToken
	s = strings.TrimSpace(s)
	if len(s) > maxTokenLen {
		return t, fmt.Errorf("%w: join token is %d bytes, limit %d", ErrInvalidCommand, len(s), maxTokenLen)
	}
	rest, ok := strings.CutPrefix(s, joinTokenPrefix)
	if !ok {
		return t, fmt.Errorf("%w: join token must start with %q", ErrInvalidCommand, joinTokenPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return t, fmt.Errorf("%w: join token is not base64url: %v", ErrInvalidCommand, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return JoinToken{}, fmt.Errorf("%w: join token body: %v", ErrInvalidCommand, err)
	}
	if _, _, err := net.SplitHostPort(t.Addr); err != nil {
		return JoinToken{}, fmt.Errorf("%w: join token address %q is not host:port", ErrInvalidCommand, t.Addr)
	}
	if fp, err := hex.DecodeString(t.CAFingerprint); err != nil || len(fp) != sha256.Size {
		return JoinToken{}, fmt.Errorf("%w: join token CA fingerprint is not a hex SHA-256", ErrInvalidCommand)
	}
	if sec, err := hex.DecodeString(t.Secret); err != nil || len(sec) != 32 {
		return JoinToken{}, fmt.Errorf("%w: join token secret is not 32 hex bytes", ErrInvalidCommand)
	}
	if t.Expires.IsZero() {
		return JoinToken{}, fmt.Errorf("%w: join token has no expiry", ErrInvalidCommand)
	}
	return t, nil
}

// joinTokens are the one-time secrets this box issued (kept in memory:
// a restart of the issuing box voids its unused tokens).
type joinTokens struct {
	mu     sync.Mutex
	issued map[[32]byte]time.Time // sha256(secret) -> expiry, guarded by mu
}

func (j *joinTokens) add(secret []byte, exp time.Time) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.issued == nil {
		j.issued = map[[32]byte]time.Time{}
	}
	j.issued[sha256.Sum256(secret)] = exp
}

// use consumes a secret; it fails if unknown, used or expired at now.
func (j *joinTokens) use(secret []byte, now time.Time) error {
	h := sha256.Sum256(secret)
	j.mu.Lock()
	defer j.mu.Unlock()
	for k, exp := range j.issued {
		if now.After(exp) {
			delete(j.issued, k)
		}
	}
	for k := range j.issued {
		if subtle.ConstantTimeCompare(k[:], h[:]) == 1 {
			delete(j.issued, k)
			return nil
		}
	}
	return fmt.Errorf("%w: token unknown, already used or expired (tokens are one-time and void when the issuing box restarts)", ErrJoinRefused)
}

// CreateJoinToken issues a one-time join token valid for ttl. The box must
// hold the CA key (the init box, or a voter that joined after it).
func (n *Node) CreateJoinToken(ttl time.Duration, now time.Time) (JoinToken, error) {
	if n.layer == nil {
		return JoinToken{}, fmt.Errorf("%w: cluster TLS is not enabled on this box", ErrNoTLS)
	}
	if n.layer.mat.CAKey == nil {
		return JoinToken{}, fmt.Errorf("%w: this box holds no CA key; create the token on a voter", ErrJoinRefused)
	}
	if ttl <= 0 || ttl > MaxJoinTokenTTL {
		return JoinToken{}, fmt.Errorf("%w: token ttl %v: want 1s..%v", ErrInvalidCommand, ttl, MaxJoinTokenTTL)
	}
	sec := make([]byte, 32)
	if _, err := rand.Read(sec); err != nil {
		return JoinToken{}, err
	}
	exp := now.Add(ttl).UTC()
	n.joins.add(sec, exp)
	return JoinToken{Addr: n.layer.Addr().String(), CAFingerprint: n.layer.mat.CAFingerprint(),
		Secret: hex.EncodeToString(sec), Expires: exp}, nil
}

// JoinRequest is sent by a joining box on a join stream.
type JoinRequest struct {
	Secret string
	NodeID string
	CSR    []byte
	Voter  bool
}

// JoinResponse carries the signed certificate, the CA certificate and, for
// voters, the CA key (so any voter can sign later joins).
type JoinResponse struct {
	CA, Cert, CAKey []byte     `json:",omitempty"`
	Err             *wireError `json:",omitempty"`
}

func (n *Node) handleJoin(r *JoinRequest) (*JoinResponse, error) {
	sec, err := hex.DecodeString(r.Secret)
	if err != nil || len(sec) != 32 {
		return nil, fmt.Errorf("%w: malformed secret", ErrJoinRefused)
	}
	if err := checkID("NodeID", r.NodeID); err != nil {
		return nil, err
	}
	if err := n.joins.use(sec, time.Now()); err != nil {
		n.log.Warn("join refused", "node_id", r.NodeID, "error", err)
		return nil, err
	}
	m := n.layer.mat
	cert, err := SignCSR(m.CA, m.CAKey, r.CSR, r.NodeID, time.Now())
	if err != nil {
		return nil, err
	}
	resp := &JoinResponse{CA: pemBytes("CERTIFICATE", m.CA.Raw), Cert: cert}
	if r.Voter {
		resp.CAKey = m.caKeyPEM()
	}
	n.log.Info("join: certificate issued", "node_id", r.NodeID, "voter", r.Voter)
	return resp, nil
}

// JoinInfo is saved by Join in the TLS directory; the daemon reads it on
// first start to ask the cluster to add the box.
type JoinInfo struct {
	Via   string // member address from the token
	Voter bool
}

// Join runs the joining side: it dials the member named in the token over
// TLS, accepting it only if its chain holds a CA with the token's
// fingerprint, sends a CSR for nodeID with the secret, and writes the
// returned certificates (and join info) into tlsDir.
func Join(ctx context.Context, tokenStr, nodeID, tlsDir string, voter bool) error {
	tok, err := ParseJoinToken(tokenStr)
	if err != nil {
		return err
	}
	if time.Now().After(tok.Expires) {
		return fmt.Errorf("%w: token expired at %s", ErrJoinRefused, tok.Expires.Format(time.RFC3339))
	}
	if _, err := os.Stat(filepath.Join(tlsDir, NodeCertFile)); err == nil {
		return fmt.Errorf("%w: %s already holds a box certificate", ErrExists, tlsDir)
	}
	keyPEMB, csrPEM, err := NewCSR(nodeID)
	if err != nil {
		return err
	}
	var pinned *x509.Certificate
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // verified below against the pinned CA
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			for _, der := range raw {
				if Fingerprint(der) == tok.CAFingerprint {
					c, err := x509.ParseCertificate(der)
					if err != nil {
						return err
					}
					pinned = c
				}
			}
			if pinned == nil || len(raw) == 0 {
				return fmt.Errorf("%w: the member did not present the CA in the token (fingerprint mismatch)", ErrJoinRefused)
			}
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			pool.AddCert(pinned)
			_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: ClusterServerName})
			return err
		},
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: handshakeTimeout}, Config: cfg}
	c, err := d.DialContext(ctx, "tcp", tok.Addr)
	if err != nil {
		return fmt.Errorf("cluster: join via %s: %w", tok.Addr, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	} else {
		c.SetDeadline(time.Now().Add(30 * time.Second))
	}
	if _, err := c.Write([]byte{streamJoin}); err != nil {
		return fmt.Errorf("cluster: join via %s: %w", tok.Addr, err)
	}
	if err := writeFrame(c, &JoinRequest{Secret: tok.Secret, NodeID: nodeID, CSR: csrPEM, Voter: voter}); err != nil {
		return fmt.Errorf("cluster: join via %s: %w", tok.Addr, err)
	}
	var resp JoinResponse
	if err := readFrame(c, &resp); err != nil {
		return fmt.Errorf("cluster: join via %s: reading reply: %w", tok.Addr, err)
	}
	if resp.Err != nil {
		return resp.Err.err()
	}
	ca, err := ParseCertPEM(resp.CA)
	if err != nil || Fingerprint(ca.Raw) != tok.CAFingerprint {
		return fmt.Errorf("%w: the member returned a CA that does not match the token", ErrJoinRefused)
	}
	if err := WriteTLS(tlsDir, resp.CA, resp.CAKey, resp.Cert, keyPEMB); err != nil {
		return err
	}
	if _, err := LoadTLS(tlsDir); err != nil {
		return err
	}
	b, _ := json.Marshal(JoinInfo{Via: tok.Addr, Voter: voter})
	return os.WriteFile(filepath.Join(tlsDir, joinFile), b, 0o600)
}

// ReadJoinInfo reads the join info Join left in tlsDir (ok false if none).
func ReadJoinInfo(tlsDir string) (JoinInfo, bool, error) {
	var ji JoinInfo
	b, err := os.ReadFile(filepath.Join(tlsDir, joinFile))
	if errors.Is(err, os.ErrNotExist) {
		return ji, false, nil
	}
	if err != nil {
		return ji, false, err
	}
	if err := json.Unmarshal(b, &ji); err != nil {
		return ji, false, fmt.Errorf("cluster: %s: %w", filepath.Join(tlsDir, joinFile), err)
	}
	return ji, true, nil
}

// HasState reports whether this node holds raft state (it was bootstrapped
// or has joined and received entries).
func (n *Node) HasState() bool {
	last, _ := n.logs.LastIndex()
	return last > 0 || n.fsm.AppliedIndex() > 0
}

// RequestAdd asks the cluster through the member at via (any member: it
// forwards to the leader) to add this node at its advertised address. It
// retries until ctx ends. Adding a member that is already in the
// configuration with the same address is a no-op in raft.
func (n *Node) RequestAdd(ctx context.Context, via string, voter bool) error {
	if n.layer == nil {
		return fmt.Errorf("%w: cluster TLS is not enabled", ErrNoTLS)
	}
	req := &fwdReq{Op: opAdd, ID: n.cfg.NodeID, Addr: string(n.trans.LocalAddr()), Voter: voter}
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		resp, err := n.roundTrip(rctx, via, req)
		cancel()
		if err == nil && resp.Err != nil {
			err = resp.Err.err()
			if errors.Is(err, ErrNotLeader) && ctx.Err() == nil {
				// the member at via is not the leader: ask it who is
				if _, addr := n.Leader(); addr != "" {
					via = addr
				}
			}
		}
		if err == nil {
			n.log.Info("joined the cluster", "via", via, "voter", voter)
			return nil
		}
		n.log.Warn("join: add request failed; retrying", "via", via, "error", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster: ask %s to add this box: %w (last error: %v)", via, ctx.Err(), err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// RemoveMember removes id from the raft configuration (through the
// leader) and deletes its registry entry, interrupting its open attempts
// with callbackWithin. Removing this node itself is leaving.
func (n *Node) RemoveMember(ctx context.Context, id string, callbackWithin time.Duration) error {
	if err := checkID("member id", id); err != nil {
		return err
	}
	if _, err := n.Apply(ctx, &RemoveBox{Box: id, At: time.Now(), CallbackWithin: callbackWithin}); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	req := &fwdReq{Op: opRemove, ID: id}
	var resp *fwdResp
	var err error
	if n.layer == nil {
		resp = n.serveForwardLocal(ctx, req)
	} else if resp, err = n.forward(ctx, req); err != nil {
		return err
	}
	return resp.Err.err()
}

// Member is one server in the raft configuration.
type Member struct {
	ID, Addr string
	Voter    bool
	Leader   bool
}

// Status is a box's view of the cluster.
type Status struct {
	NodeID, State        string
	LeaderID, LeaderAddr string
	Term                 string
	AppliedIndex         uint64
	LastContact          string
	Members              []Member
	Boxes                []Box
}

// Status reports membership, the leader, the applied index and the box
// registry (local reads).
func (n *Node) Status() (Status, error) {
	st := Status{NodeID: n.cfg.NodeID, State: n.raft.State().String(), AppliedIndex: n.fsm.AppliedIndex()}
	st.LeaderID, st.LeaderAddr = n.Leader()
	stats := n.raft.Stats()
	st.Term, st.LastContact = stats["term"], stats["last_contact"]
	f := n.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return st, raftErr("configuration", err)
	}
	for _, s := range f.Configuration().Servers {
		st.Members = append(st.Members, Member{ID: string(s.ID), Addr: string(s.Address),
			Voter: s.Suffrage.String() == "Voter", Leader: string(s.ID) == st.LeaderID})
	}
	var err error
	st.Boxes, err = n.fsm.Boxes()
	return st, err
}

// VerifyLeader confirms through the leader (forwarding if this node is a
// follower) that the cluster still has this leader, i.e. that no newer
// leader can have committed anything before the call started.
func (n *Node) VerifyLeader(ctx context.Context) error {
	if n.IsLeader() || n.layer == nil {
		if err := n.raft.VerifyLeader().Error(); err != nil {
			return raftErr("verify leader", err)
		}
		return nil
	}
	resp, err := n.forward(ctx, &fwdReq{Op: opVerify})
	if err != nil {
		return err
	}
	return resp.Err.err()
}

// Addr is this node's raft (advertised) address.
func (n *Node) Addr() string { return string(n.trans.LocalAddr()) }

// ID is this node's server ID.
func (n *Node) ID() string { return n.cfg.NodeID }
