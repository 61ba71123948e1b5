package sim

// This file holds the Server: SIP listener, request routing, lifecycle
// and the call log.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"callbox/media"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

const allowMethods = "INVITE, ACK, BYE, CANCEL, OPTIONS, REFER"

// Server is the callee simulator. Create it with New, run it with Start,
// stop it with Close.
type Server struct {
	cfg     Config
	log     *slog.Logger
	phrases *phraseCache
	ports   *media.PortRange
	clock   *media.Clock
	logf    *logFile // nil without Config.LogFile
	legs    transferLegs

	closing   chan struct{} // closed by beginClose: calls hang up, new INVITEs get 503
	closeOnce sync.Once
	calls     sync.WaitGroup // call handlers in progress
	serve     sync.WaitGroup // the serve and context-watch goroutines

	mu       sync.Mutex
	started  bool                       // guarded by mu
	closed   bool                       // guarded by mu
	active   map[string]*call           // guarded by mu: by SIP dialog ID
	logs     []*CallLog                 // guarded by mu: every call, in arrival order
	changed  chan struct{}              // guarded by mu: closed and replaced when a call ends
	addr     net.Addr                   // guarded by mu: bound SIP address after Start
	ua       *sipgo.UserAgent           // guarded by mu
	srv      *sipgo.Server              // guarded by mu
	dua      *sipgo.DialogUA            // guarded by mu
	listener interface{ Close() error } // guarded by mu
}

// New validates cfg and returns a stopped Server.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	ports, err := media.NewPortRange(net.ParseIP(cfg.ListenIP), cfg.RTPPortMin, cfg.RTPPortMax)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "sim"),
		phrases: newPhraseCache(cfg.Synth),
		ports:   ports,
		clock:   media.NewClock(media.FrameDuration*time.Millisecond, 0),
		closing: make(chan struct{}),
		active:  map[string]*call{},
		changed: make(chan struct{}),
	}
	return s, nil
}

// Start binds the SIP listener and serves until ctx is cancelled or Close
// is called. It returns once the listener is bound, with an error naming
// the address when it cannot be.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.started {
		return ErrStarted
	}
	if s.cfg.LogFile != "" {
		lf, err := openLogFile(s.cfg.LogFile, s.cfg.LogSync)
		if err != nil {
			return err
		}
		s.logf = lf
	}
	hostPort := net.JoinHostPort(s.cfg.ListenIP, strconv.Itoa(s.cfg.Port))
	var (
		serveFn func() error
		local   string
	)
	switch s.cfg.Transport {
	case "udp":
		conn, err := net.ListenPacket("udp", hostPort)
		if err != nil {
			return fmt.Errorf("sim: listen SIP udp %s: %w", hostPort, err)
		}
		s.listener, s.addr, local = conn, conn.LocalAddr(), conn.LocalAddr().String()
		serveFn = func() error { return s.srv.ServeUDP(conn) }
	case "tcp":
		l, err := net.Listen("tcp", hostPort)
		if err != nil {
			return fmt.Errorf("sim: listen SIP tcp %s: %w", hostPort, err)
		}
		s.listener, s.addr, local = l, l.Addr(), l.Addr().String()
		serveFn = func() error { return s.srv.ServeTCP(l) }
	}
	port := s.addr.(interface{ AddrPort() netip.AddrPort }).AddrPort().Port()
	if err := s.buildSIP(local, int(port)); err != nil {
		s.listener.Close()
		return err
	}
	s.clock.Start()
	s.started = true
	s.serve.Add(2)
	go func() {
		defer s.serve.Done()
		if err := serveFn(); err != nil && !s.isClosing() {
			s.log.Error("SIP listener stopped", "addr", local, "err", err)
		}
	}()
	go func() {
		defer s.serve.Done()
		select {
		case <-ctx.Done():
			s.beginClose()
		case <-s.closing:
		}
	}()
	s.log.Info("callee simulator listening", "addr", local, "transport", s.cfg.Transport,
		"rtp", s.ports.String(), "personas", len(s.cfg.Personas), "default", s.cfg.Default)
	return nil
}

// buildSIP creates the sipgo user agent, server, client and dialog UA.
// Called with mu held.
func (s *Server) buildSIP(local string, port int) error {
	ua, err := sipgo.NewUA(sipgo.WithUserAgent("callbox-sim"), sipgo.WithUserAgentHostname(s.cfg.ListenIP))
	if err != nil {
		return fmt.Errorf("sim: SIP user agent: %w", err)
	}
	sipLog := s.log.With("layer", "sipgo")
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		ua.Close()
		return fmt.Errorf("sim: SIP server: %w", err)
	}
	opts := []sipgo.ClientOption{sipgo.WithClientHostname(s.cfg.ListenIP), sipgo.WithClientLogger(sipLog)}
	if s.cfg.Transport == "udp" {
		opts = append(opts, sipgo.WithClientConnectionAddr(local))
	}
	client, err := sipgo.NewClient(ua, opts...)
	if err != nil {
		ua.Close()
		return fmt.Errorf("sim: SIP client: %w", err)
	}
	contact := sip.ContactHeader{Address: sip.Uri{User: "sim", Host: s.cfg.ListenIP, Port: port}}
	if s.cfg.Transport == "tcp" {
		contact.Address.UriParams = sip.NewParams()
		contact.Address.UriParams.Add("transport", "tcp")
	}
	s.ua, s.srv = ua, srv
	// Over TCP in-dialog requests go back on the box's connection; over UDP
	// they go to the box's Contact (RFC 3261).
	s.dua = &sipgo.DialogUA{Client: client, ContactHDR: contact, RewriteContact: s.cfg.Transport == "tcp"}
	srv.OnInvite(s.guard(s.onInvite))
	srv.OnAck(s.guard(s.onAck))
	srv.OnBye(s.guard(s.onBye))
	srv.OnCancel(s.guard(s.onCancel))
	srv.OnOptions(s.guard(s.onOptions))
	srv.OnRefer(s.guard(s.onRefer))
	srv.OnNoRoute(s.guard(s.onOther))
	return nil
}

// Addr returns the bound SIP address ("ip:port"), or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.addr == nil {
		return ""
	}
	return s.addr.String()
}

// Personas returns the configured personas (defaults filled in).
func (s *Server) Personas() map[string]Persona {
	m := make(map[string]Persona, len(s.cfg.Personas))
	for k, v := range s.cfg.Personas {
		v.Say = slices.Clone(v.Say)
		m[k] = v
	}
	return m
}

// PersonaFor returns the persona name a dialled number (Request-URI user
// part) gets, and how it was chosen: "rule", "scheme" or "default".
func (s *Server) PersonaFor(number string) (name, how string) {
	return choosePersona(number, s.cfg.Rules, s.cfg.Personas, s.cfg.Default)
}

func (s *Server) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// beginClose stops new calls and tells calls in progress to hang up. It
// does not wait.
func (s *Server) beginClose() {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.closing)
	})
}

// Close hangs up every call (BYE for answered calls, 480 for ringing
// ones), waits for them, then stops the SIP listener and the media clock.
// It is idempotent; Close after a cancelled Start context just waits.
func (s *Server) Close() error {
	s.beginClose()
	s.calls.Wait()
	s.mu.Lock()
	ua, l, lf := s.ua, s.listener, s.logf
	s.ua, s.listener, s.logf = nil, nil, nil
	s.mu.Unlock()
	var errs []error
	if l != nil {
		if err := l.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if ua != nil {
		if err := ua.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.serve.Wait()
	s.clock.Close()
	if lf != nil {
		if err := lf.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Calls returns a copy of every call's log, in arrival order, including
// calls still in progress.
func (s *Server) Calls() []CallLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CallLog, len(s.logs))
	for i, l := range s.logs {
		out[i] = l.clone()
	}
	return out
}

// WaitCalls waits until at least n calls have ended, or ctx is done.
func (s *Server) WaitCalls(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		ended := 0
		for _, l := range s.logs {
			if !l.EndedAt.IsZero() {
				ended++
			}
		}
		ch := s.changed
		s.mu.Unlock()
		if ended >= n {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sim: %d of %d calls ended: %w", ended, n, ctx.Err())
		}
	}
}

// updateLog applies fn to a call's log under the lock.
func (s *Server) updateLog(l *CallLog, fn func(l *CallLog)) {
	s.mu.Lock()
	fn(l)
	s.mu.Unlock()
}

// finishLog marks a call ended, wakes WaitCalls and appends the log line.
func (s *Server) finishLog(l *CallLog) {
	s.mu.Lock()
	l.EndedAt = s.cfg.Now()
	snap := l.clone()
	close(s.changed)
	s.changed = make(chan struct{})
	lf := s.logf
	s.mu.Unlock()
	if lf != nil {
		if err := lf.write(snap); err != nil {
			s.log.Error("call log line not written", "file", s.cfg.LogFile, "err", err)
		}
	}
	if s.cfg.OnCall != nil {
		s.cfg.OnCall(snap)
	}
}

// guard recovers a panicking handler so that no request can take the
// simulator down; the request gets a 500.
func (s *Server) guard(h func(*sip.Request, sip.ServerTransaction)) func(*sip.Request, sip.ServerTransaction) {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("panic in SIP handler", "method", string(req.Method), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				if tx != nil && !req.IsAck() {
					_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
				}
			}
		}()
		h(req, tx)
	}
}

func respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}

// callFor finds the call a mid-dialog request belongs to.
func (s *Server) callFor(req *sip.Request) *call {
	id, err := sip.DialogIDFromRequestUAS(req)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active[id]
}

func (s *Server) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if to := req.To(); to != nil {
		if _, ok := to.Params.Get("tag"); ok {
			s.onReinvite(req, tx)
			return
		}
	}
	s.mu.Lock()
	if s.closed || !s.started {
		lf := s.logf
		s.mu.Unlock()
		respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "30"))
		if lf != nil { // the INVITE still reached the far end: log it
			l := s.inviteLog(req)
			l.EndedAt, l.Status, l.HungUpBy, l.EndReason = l.ReceivedAt, 503, ByCallee, EndShutdown
			if err := lf.write(l); err != nil && !errors.Is(err, ErrClosed) {
				s.log.Error("call log line not written", "file", s.cfg.LogFile, "err", err)
			}
		}
		return
	}
	s.calls.Add(1)
	s.mu.Unlock()
	defer s.calls.Done()
	c := s.newCall(req)
	c.run(req, tx)
}

// onReinvite answers a re-INVITE inside a call with the same SDP: the
// simulator does not renegotiate media.
func (s *Server) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c := s.callFor(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	body := c.answerSDP()
	if body == nil {
		respond(tx, req, 491, "Request Pending")
		return
	}
	res := sip.NewSDPResponseFromRequest(req, body)
	_ = tx.Respond(res)
}

func (s *Server) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if c := s.callFor(req); c != nil {
		if err := c.dlg.ReadAck(req, tx); err != nil {
			s.log.Debug("ACK not for the INVITE", "call_id", c.callID, "err", err)
		}
	}
}

func (s *Server) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c := s.callFor(req)
	if c == nil {
		if !s.byeForLeg(req, tx) {
			respond(tx, req, 481, "Call/Transaction Does Not Exist")
		}
		return
	}
	c.byeReceived.Store(true)
	if err := c.dlg.ReadBye(req, tx); err != nil {
		s.log.Warn("BYE rejected", "call_id", c.callID, "err", err)
		respond(tx, req, 400, "Bad Request", sip.NewHeader("Warning", `399 callbox-sim "`+err.Error()+`"`))
	}
}

// onCancel only sees CANCELs that match no INVITE transaction (sipgo
// answers the others itself: 200 to the CANCEL, 487 to the INVITE).
func (s *Server) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	code, reason := 200, "OK"
	if s.isClosing() {
		code, reason = 503, "Service Unavailable"
	}
	respond(tx, req, code, reason, sip.NewHeader("Allow", allowMethods), sip.NewHeader("Accept", "application/sdp"))
}

func (s *Server) onOther(req *sip.Request, tx sip.ServerTransaction) {
	if req.IsAck() {
		return
	}
	respond(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allowMethods))
}
