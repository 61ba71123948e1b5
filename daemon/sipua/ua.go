package sipua

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// UA is the SIP user agent: listeners, trunks, and the calls in progress.
type UA struct {
	cfg   Config
	deps  Deps
	log   *slog.Logger
	now   func() time.Time
	rand  func() float64
	after func(time.Duration) <-chan time.Time

	// The trunk set is replaced whole by UpdateTrunks (reload.go).
	tmu         sync.RWMutex
	trunks      []*trunk             // guarded by tmu
	trunkByName map[string]*trunk    // guarded by tmu
	runs        map[*trunk]*trunkRun // guarded by tmu: loops of started trunks
	reloadMu    sync.Mutex           // serialises UpdateTrunks and Close

	draining atomic.Bool

	// Set by Start, read-only afterwards.
	sua     *sipgo.UserAgent
	srv     *sipgo.Server
	clients map[string]*sipgo.Client // by transport
	advIP   net.IP
	port    int
	closers []io.Closer
	ctx     context.Context
	cancel  context.CancelFunc

	mu      sync.Mutex
	started bool             // guarded by mu
	closed  bool             // guarded by mu
	calls   map[string]*Call // by SIP Call-ID, guarded by mu

	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// New validates cfg and returns an unstarted UA. Configuration errors are
// *ConfigError values (joined) naming the trunk and field.
func New(cfg Config, deps Deps) (*UA, error) {
	cfg.Transports = append([]string(nil), cfg.Transports...)
	cfg.Trunks = append([]TrunkConfig(nil), cfg.Trunks...)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if deps.NewMedia == nil {
		return nil, &ConfigError{Field: "Deps.NewMedia", Msg: "required"}
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Rand == nil {
		deps.Rand = mrand.Float64
	}
	if deps.After == nil {
		deps.After = time.After
	}
	u := &UA{
		cfg: cfg, deps: deps,
		log: deps.Logger.With("component", "sipua"), now: deps.Now, rand: deps.Rand, after: deps.After,
		trunkByName: map[string]*trunk{},
		runs:        map[*trunk]*trunkRun{},
		calls:       map[string]*Call{},
	}
	for _, tc := range cfg.Trunks {
		t := newTrunk(tc)
		u.trunks = append(u.trunks, t)
		u.trunkByName[tc.Name] = t
	}
	return u, nil
}

// Start resolves trunk hosts, binds the listeners and starts the
// registration and OPTIONS loops. It returns once the UA is serving.
func (u *UA) Start(ctx context.Context) error {
	u.mu.Lock()
	if u.started || u.closed {
		u.mu.Unlock()
		return errors.New("sipua: Start called twice or after Close")
	}
	u.started = true
	u.mu.Unlock()

	for _, t := range u.trunkList() {
		if err := resolveAllowed(ctx, t); err != nil {
			return err
		}
	}

	listenIP := net.ParseIP(u.cfg.ListenIP)
	u.advIP = listenIP
	if u.cfg.ExternalIP != "" {
		u.advIP = net.ParseIP(u.cfg.ExternalIP)
	}
	sipLog := u.log.With("component", "sipgo")
	sua, err := sipgo.NewUA(sipgo.WithUserAgent(u.cfg.UserAgent), sipgo.WithUserAgentHostname(u.advIP.String()),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(sipLog)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipLog)))
	if err != nil {
		return fmt.Errorf("sipua: create user agent: %w", err)
	}
	srv, err := sipgo.NewServer(sua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		sua.Close()
		return fmt.Errorf("sipua: create server: %w", err)
	}
	u.sua, u.srv = sua, srv
	u.registerHandlers()

	udpConn, tcpLn, err := u.bind(listenIP)
	if err != nil {
		sua.Close()
		return err
	}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	u.clients = map[string]*sipgo.Client{}
	if udpConn != nil {
		u.closers = append(u.closers, udpConn)
		c, err := sipgo.NewClient(sua, sipgo.WithClientHostname(u.advIP.String()), sipgo.WithClientPort(u.port),
			sipgo.WithClientConnectionAddr(udpConn.LocalAddr().String()), sipgo.WithClientLogger(sipLog))
		if err != nil {
			u.abortStart()
			return fmt.Errorf("sipua: udp client: %w", err)
		}
		u.clients["udp"] = c
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			if err := srv.ServeUDP(udpConn); err != nil && u.ctx.Err() == nil {
				u.log.Error("SIP UDP listener stopped", "error", err)
			}
		}()
	}
	if udpConn != nil {
		// Outbound UDP leaves from the listener socket: wait until the
		// transport layer has it in its pool.
		addr := udpConn.LocalAddr().String()
		pool := sua.TransportLayer().Pool("udp")
		for i := 0; ; i++ {
			if c := pool.Get(addr); c != nil {
				c.Ref(-1)
				break
			}
			if i == 500 {
				u.abortStart()
				return fmt.Errorf("sipua: udp listener %s not serving", addr)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	if tcpLn != nil {
		u.closers = append(u.closers, tcpLn)
		c, err := sipgo.NewClient(sua, sipgo.WithClientHostname(u.advIP.String()), sipgo.WithClientPort(u.port), sipgo.WithClientLogger(sipLog))
		if err != nil {
			u.abortStart()
			return fmt.Errorf("sipua: tcp client: %w", err)
		}
		u.clients["tcp"] = c
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			if err := srv.ServeTCP(tcpLn); err != nil && u.ctx.Err() == nil {
				u.log.Error("SIP TCP listener stopped", "error", err)
			}
		}()
	}
	u.log.Info("SIP user agent listening", "ip", u.cfg.ListenIP, "port", u.port, "transports", u.cfg.Transports, "advertised", u.advIP.String())

	u.tmu.Lock()
	for _, t := range u.trunks {
		u.startTrunk(t)
	}
	u.tmu.Unlock()
	return nil
}

func (u *UA) abortStart() {
	u.cancel()
	for _, c := range u.closers {
		c.Close()
	}
	u.wg.Wait()
	u.sua.Close()
}

// bind opens the UDP and/or TCP listeners on the same port. With
// ListenPort 0 it retries until both get the same free port.
func (u *UA) bind(ip net.IP) (*net.UDPConn, *net.TCPListener, error) {
	wantUDP, wantTCP := false, false
	for _, t := range u.cfg.Transports {
		wantUDP = wantUDP || t == "udp"
		wantTCP = wantTCP || t == "tcp"
	}
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		port := u.cfg.ListenPort
		var uc *net.UDPConn
		var tl *net.TCPListener
		var err error
		if wantUDP {
			uc, err = net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port})
			if err != nil {
				return nil, nil, fmt.Errorf("sipua: bind udp %s: %w", net.JoinHostPort(ip.String(), strconv.Itoa(port)), err)
			}
			port = uc.LocalAddr().(*net.UDPAddr).Port
		}
		if wantTCP {
			tl, err = net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: port})
			if err != nil {
				if uc != nil {
					uc.Close()
				}
				lastErr = fmt.Errorf("sipua: bind tcp %s: %w", net.JoinHostPort(ip.String(), strconv.Itoa(port)), err)
				if u.cfg.ListenPort != 0 || !wantUDP {
					return nil, nil, lastErr
				}
				continue
			}
			port = tl.Addr().(*net.TCPAddr).Port
		}
		u.port = port
		return uc, tl, nil
	}
	return nil, nil, lastErr
}

// Port returns the bound SIP port (useful with ListenPort 0).
func (u *UA) Port() int { return u.port }

// SetDraining switches draining on or off. While draining, inbound OPTIONS
// and new INVITEs get 503 and Dial returns ErrDraining.
func (u *UA) SetDraining(d bool) {
	if u.draining.Swap(d) != d {
		u.log.Info("SIP draining changed", "draining", d)
	}
}

// Close unregisters registered trunks, hangs up remaining calls with BYE
// and stops every goroutine. It is idempotent.
func (u *UA) Close() error {
	u.closeOnce.Do(func() {
		u.reloadMu.Lock() // a reload in progress finishes first; later ones see closed
		u.mu.Lock()
		started := u.started
		u.closed = true
		calls := make([]*Call, 0, len(u.calls))
		for _, c := range u.calls {
			calls = append(calls, c)
		}
		u.mu.Unlock()
		u.reloadMu.Unlock()
		if !started {
			return
		}
		var wg sync.WaitGroup
		for _, c := range calls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				if err := c.hangup(ctx, HangupByBox, "shutdown"); err != nil {
					c.log.Warn("BYE on shutdown failed", "error", err)
				}
			}()
		}
		wg.Wait()
		u.cancel() // stops registration/OPTIONS loops
		var errs []error
		for _, t := range u.trunkList() {
			ctx, cancel := context.WithTimeout(context.Background(), unregisterTimeout)
			if err := u.unregister(ctx, t); err != nil {
				errs = append(errs, err)
			}
			cancel()
		}
		for _, c := range u.closers {
			c.Close()
		}
		u.sua.Close()
		u.wg.Wait()
		u.closeErr = errors.Join(errs...)
		u.log.Info("SIP user agent closed")
	})
	return u.closeErr
}

// Trunks returns a status snapshot of every trunk, in configuration order.
func (u *UA) Trunks() []TrunkStatus {
	trunks := u.trunkList()
	out := make([]TrunkStatus, 0, len(trunks))
	for _, t := range trunks {
		out = append(out, t.status())
	}
	return out
}

// ActiveCalls returns the calls in progress (ringing or answered).
func (u *UA) ActiveCalls() []CallInfo {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]CallInfo, 0, len(u.calls))
	for _, c := range u.calls {
		out = append(out, c.Info())
	}
	return out
}

func (u *UA) running() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.started && !u.closed
}

func (u *UA) addCall(c *Call) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return ErrClosed
	}
	if _, dup := u.calls[c.sipCallID]; dup {
		return fmt.Errorf("%w: Call-ID %q already in use", ErrInvalidRequest, c.sipCallID)
	}
	u.calls[c.sipCallID] = c
	return nil
}

func (u *UA) removeCall(c *Call) {
	u.mu.Lock()
	if u.calls[c.sipCallID] == c {
		delete(u.calls, c.sipCallID)
	}
	u.mu.Unlock()
}

// callFor finds the call an in-dialog request belongs to: same Call-ID and
// the To tag we issued.
func (u *UA) callFor(req *sip.Request) *Call {
	cid := req.CallID()
	to := req.To()
	if cid == nil || to == nil {
		return nil
	}
	u.mu.Lock()
	c := u.calls[cid.Value()]
	u.mu.Unlock()
	if c == nil {
		return nil
	}
	if tag, _ := to.Params.Get("tag"); tag != c.localTag {
		return nil
	}
	return c
}

// trunkForSource returns the trunk whose AllowedSources contain the
// request's source IP, or nil.
func (u *UA) trunkForSource(req *sip.Request) *trunk {
	host, _, err := net.SplitHostPort(req.Source())
	if err != nil {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil
	}
	for _, t := range u.trunkList() {
		if t.allows(ip) {
			return t
		}
	}
	return nil
}

func (u *UA) contact(transport string) sip.ContactHeader {
	uri := sip.Uri{Scheme: "sip", User: "callbox", Host: u.advIP.String(), Port: u.port}
	if transport == "tcp" {
		uri.UriParams = sip.NewParams()
		uri.UriParams.Add("transport", "tcp")
	}
	return sip.ContactHeader{Address: uri}
}

func (u *UA) dialogUA(transport string) *sipgo.DialogUA {
	return &sipgo.DialogUA{Client: u.clients[transport], ContactHDR: u.contact(transport)}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newTag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// goOwned runs fn in a goroutine owned by the UA (waited for by Close).
// It returns false, without running fn, once the UA is closed.
func (u *UA) goOwned(fn func()) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return false
	}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		fn()
	}()
	return true
}
