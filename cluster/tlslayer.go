package cluster

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Stream kinds: the first byte a client writes after the TLS handshake.
const (
	streamRaft    byte = 'R' // raft RPCs (NetworkTransport); client cert required
	streamForward byte = 'F' // forwarded writes and membership; client cert required
	streamJoin    byte = 'J' // join with a one-time token; no client cert yet
)

const (
	handshakeTimeout = 10 * time.Second
	maxFrame         = MaxCommandSize + 64<<10
)

// ErrTLSLayerClosed is returned by Accept after Close.
var ErrTLSLayerClosed = errors.New("cluster: tls layer closed")

// TLSLayer is a raft.StreamLayer over mutual TLS that also carries the
// box-to-box forwarding and join streams on the same port. Every
// connection is TLS 1.3; raft and forwarding streams from a client without
// a certificate issued by the cluster CA are refused (there is no plaintext
// path). Close is idempotent and waits for its goroutines.
type TLSLayer struct {
	ln   net.Listener
	adv  net.Addr
	mat  *TLSMaterial
	srv  *tls.Config
	cli  *tls.Config
	log  *slog.Logger
	raft chan net.Conn
	stop chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	closed  bool                                  // guarded by mu
	conns   map[net.Conn]struct{}                 // forward/join server conns, guarded by mu
	forward func(peer string, r *fwdReq) *fwdResp // guarded by mu
	join    func(r *JoinRequest) (*JoinResponse, error)
}

// ListenTLS listens on bind and advertises advertise (bind's address if
// empty; it must be an address other boxes can reach, not 0.0.0.0).
func ListenTLS(bind, advertise string, m *TLSMaterial, log *slog.Logger) (*TLSLayer, error) {
	if m == nil {
		return nil, ErrNoTLS
	}
	if log == nil {
		log = slog.Default()
	}
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen %s: %w", bind, err)
	}
	var adv net.Addr = ln.Addr()
	if advertise != "" {
		a, err := net.ResolveTCPAddr("tcp", advertise)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("%w: advertise address %q: %v", ErrInvalidCommand, advertise, err)
		}
		adv = a
	}
	if ta, ok := adv.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("%w: advertise address %s is unspecified; set cluster.advertise", ErrInvalidCommand, adv)
	}
	l := &TLSLayer{ln: ln, adv: adv, mat: m, srv: m.ServerConfig(), cli: m.ClientConfig(), log: log,
		raft: make(chan net.Conn), stop: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

// Addr is the advertised address (raft.StreamLayer).
func (l *TLSLayer) Addr() net.Addr { return l.adv }

// Accept returns the next authenticated raft stream (raft.StreamLayer).
func (l *TLSLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.raft:
		return c, nil
	case <-l.stop:
		return nil, ErrTLSLayerClosed
	}
}

// Close stops listening, closes forwarding and join streams and waits.
func (l *TLSLayer) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.stop)
	err := l.ln.Close()
	for c := range l.conns {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

// Dial opens a raft stream to address (raft.StreamLayer).
func (l *TLSLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return l.dial(context.Background(), string(address), timeout, streamRaft)
}

func (l *TLSLayer) dial(ctx context.Context, addr string, timeout time.Duration, kind byte) (net.Conn, error) {
	if timeout <= 0 || timeout > handshakeTimeout {
		timeout = handshakeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d := tls.Dialer{NetDialer: &net.Dialer{}, Config: l.cli}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetWriteDeadline(dl)
	}
	if _, err := c.Write([]byte{kind}); err != nil {
		c.Close()
		return nil, err
	}
	c.SetWriteDeadline(time.Time{})
	return c, nil
}

func (l *TLSLayer) track(c net.Conn, add bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if add {
		if l.closed {
			return false
		}
		l.conns[c] = struct{}{}
	} else {
		delete(l.conns, c)
	}
	return true
}

func (l *TLSLayer) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			select {
			case <-l.stop:
				return
			default:
			}
			l.log.Warn("cluster listener accept failed", "error", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !l.track(c, true) {
			c.Close()
			return
		}
		l.wg.Add(1)
		go l.serve(c)
	}
}

// serve authenticates one connection and routes it by stream kind.
func (l *TLSLayer) serve(raw net.Conn) {
	defer l.wg.Done()
	handedOff := false
	defer func() {
		l.track(raw, false)
		if !handedOff {
			raw.Close()
		}
	}()
	tc := tls.Server(raw, l.srv)
	raw.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.Handshake(); err != nil {
		l.log.Warn("cluster connection refused: TLS handshake failed", "remote", raw.RemoteAddr().String(), "error", err)
		return
	}
	var kind [1]byte
	if _, err := io.ReadFull(tc, kind[:]); err != nil {
		return
	}
	raw.SetDeadline(time.Time{})
	st := tc.ConnectionState()
	peer := ""
	if len(st.VerifiedChains) > 0 {
		peer = st.VerifiedChains[0][0].Subject.CommonName
	}
	switch kind[0] {
	case streamRaft, streamForward:
		if peer == "" {
			l.log.Warn("cluster connection refused: no client certificate from the cluster CA",
				"remote", raw.RemoteAddr().String(), "stream", string(kind[:]))
			return
		}
		if kind[0] == streamRaft {
			l.track(raw, false) // raft owns it now
			select {
			case l.raft <- tc:
				handedOff = true
			case <-l.stop:
			}
			return
		}
		l.serveForward(tc, peer)
	case streamJoin:
		l.serveJoin(tc)
	default:
		l.log.Warn("cluster connection refused: unknown stream kind", "remote", raw.RemoteAddr().String(), "kind", kind[0])
	}
}

func (l *TLSLayer) handlers() (func(string, *fwdReq) *fwdResp, func(*JoinRequest) (*JoinResponse, error)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.forward, l.join
}

func (l *TLSLayer) setHandlers(fwd func(string, *fwdReq) *fwdResp, join func(*JoinRequest) (*JoinResponse, error)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forward, l.join = fwd, join
}

func (l *TLSLayer) serveForward(c net.Conn, peer string) {
	for {
		var req fwdReq
		if err := readFrame(c, &req); err != nil {
			return
		}
		fwd, _ := l.handlers()
		resp := &fwdResp{Err: wireErr(fmt.Errorf("%w: node not ready", ErrNotLeader))}
		if fwd != nil {
			resp = fwd(peer, &req)
		}
		if err := writeFrame(c, resp); err != nil {
			return
		}
	}
}

func (l *TLSLayer) serveJoin(c net.Conn) {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var req JoinRequest
	if err := readFrame(c, &req); err != nil {
		return
	}
	_, join := l.handlers()
	var resp *JoinResponse
	err := fmt.Errorf("%w: node not ready", ErrNotLeader)
	if join != nil {
		resp, err = join(&req)
	}
	if err != nil {
		resp = &JoinResponse{Err: wireErr(err)}
	}
	_ = writeFrame(c, resp)
}

func writeFrame(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if len(b) > maxFrame {
		return fmt.Errorf("%w: frame of %d bytes", ErrCommandTooLarge, len(b))
	}
	buf := make([]byte, 4+len(b))
	binary.BigEndian.PutUint32(buf, uint32(len(b)))
	copy(buf[4:], b)
	_, err = w.Write(buf)
	return err
}

func readFrame(r io.Reader, v any) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return fmt.Errorf("%w: frame of %d bytes, limit %d", ErrInvalidCommand, n, maxFrame)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	return decodeFrame(b, v)
}

func decodeFrame(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: frame: %v", ErrInvalidCommand, err)
	}
	return nil
}
