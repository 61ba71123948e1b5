package sipua

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"callbox/media"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Call directions.
const (
	DirectionOutbound = "outbound"
	DirectionInbound  = "inbound"
)

// Who ended a call (Call.End).
const (
	HangupByBox    = "box"    // our Hangup or shutdown
	HangupByCallee = "callee" // the far end of an outbound call sent BYE
	HangupByCaller = "caller" // the far end of an inbound call sent BYE
)

// CallInfo describes a call; timestamps are zero until the event happens.
type CallInfo struct {
	ID        string
	SIPCallID string
	Trunk     string
	Number    string // the dialled number (outbound) or the called number, Request-URI user (inbound)
	// CallerID is our From user (outbound) or the caller's From user (inbound).
	Direction    string // "outbound" or "inbound"
	CallerID     string
	InviteAt     time.Time
	RingAt       time.Time
	EarlyMediaAt time.Time
	AnswerAt     time.Time
}

// Call is one SIP dialog with its media session.
type Call struct {
	ua        *UA
	tr        *trunk
	log       *slog.Logger
	sipCallID string
	localTag  string // our tag in the dialog (From for outbound, To for inbound)
	inbound   bool
	done      chan struct{}

	// Set before the call is shared, then read-only.
	media *media.Session
	local LocalMedia // template for our SDP

	cs *sipgo.DialogClientSession // outbound dialog, set before INVITE is sent
	ss *sipgo.DialogServerSession // inbound dialog

	mu           sync.Mutex
	info         CallInfo              // guarded by mu
	neg          *Negotiated           // guarded by mu
	mediaStarted bool                  // guarded by mu
	sdpVersion   uint64                // guarded by mu
	ended        bool                  // guarded by mu
	endAt        time.Time             // guarded by mu
	hangupBy     string                // guarded by mu
	cause        string                // guarded by mu
	onInfoDTMF   func(media.DTMFEvent) // guarded by mu
	ackCh        chan struct{}         // guarded by mu; closed on the ACK of our 200 (inbound)
	referCh      chan int              // guarded by mu; sipfrag codes for a waiting Refer
}

func newCall(u *UA, t *trunk, info CallInfo, tag string) *Call {
	c := &Call{
		ua: u, tr: t, sipCallID: info.SIPCallID, localTag: tag, inbound: info.Direction == DirectionInbound,
		done: make(chan struct{}), info: info, ackCh: make(chan struct{}),
	}
	c.log = u.log.With("call", info.ID, "trunk", t.cfg.Name, "direction", info.Direction, "number", MaskNumber(info.Number))
	return c
}

// ID returns the box's identifier of the call.
func (c *Call) ID() string { return c.info.ID }

// Info returns a snapshot of the call's description and timestamps.
func (c *Call) Info() CallInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// Media returns the call's media session.
func (c *Call) Media() *media.Session { return c.media }

// Done is closed when the call has ended, whoever ended it.
func (c *Call) Done() <-chan struct{} { return c.done }

// End reports when and why the call ended; zero values while it is up.
// hangupBy is HangupByBox, HangupByCallee or HangupByCaller.
func (c *Call) End() (endAt time.Time, hangupBy string, cause string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endAt, c.hangupBy, c.cause
}

// Negotiated returns the current codec, remote address and direction.
func (c *Call) Negotiated() Negotiated {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.neg == nil {
		return Negotiated{}
	}
	return *c.neg
}

// OnInfoDTMF registers fn for digits the far end sends as SIP INFO
// (application/dtmf-relay or application/dtmf). RFC 4733 digits arrive
// through the media session instead.
func (c *Call) OnInfoDTMF(fn func(media.DTMFEvent)) {
	c.mu.Lock()
	c.onInfoDTMF = fn
	c.mu.Unlock()
}

// Hangup ends the call with BYE (CANCEL is Dial's business). It is
// idempotent: on an ended call it returns nil. The call is ended locally
// even when the BYE fails; the error is returned for logging.
func (c *Call) Hangup(ctx context.Context) error {
	return c.hangup(ctx, HangupByBox, "normal clearing")
}

func (c *Call) hangup(ctx context.Context, by, cause string) error {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return nil
	}
	answered := !c.info.AnswerAt.IsZero()
	c.mu.Unlock()
	var err error
	if answered {
		byeCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if c.cs != nil {
			err = c.cs.Bye(byeCtx)
		} else if c.ss != nil {
			err = c.ss.Bye(byeCtx)
		}
		cancel()
	}
	if c.finish(by, cause) {
		c.log.Info("call hung up", "by", by, "cause", cause)
	}
	if err != nil {
		return fmt.Errorf("sipua: BYE for call %s: %w", c.info.ID, err)
	}
	return nil
}

// finish ends the call once: records who and why, closes media, frees the
// trunk slot and closes Done. It reports whether this call ended it.
func (c *Call) finish(by, cause string) bool {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return false
	}
	c.ended = true
	c.endAt = c.ua.now()
	c.hangupBy, c.cause = by, cause
	c.mu.Unlock()
	if c.media != nil {
		if err := c.media.Close(); err != nil {
			c.log.Warn("closing media session", "error", err)
		}
	}
	c.ua.removeCall(c)
	c.tr.release()
	close(c.done)
	return true
}

// applyMedia points the media session at the negotiated far end and starts
// it on first use.
func (c *Call) applyMedia(n *Negotiated) {
	c.mu.Lock()
	c.neg = n
	start := !c.mediaStarted
	c.mediaStarted = true
	c.mu.Unlock()
	if n.Remote != nil {
		c.media.SetRemote(n.Remote, n.Codec, n.DTMFPT)
	}
	c.media.SetDirection(n.Local)
	if start {
		c.media.Start()
	}
}

func (c *Call) nextSDPVersion() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sdpVersion++
	return c.sdpVersion
}

func (c *Call) handleBye(req *sip.Request, tx sip.ServerTransaction) {
	var err error
	if c.cs != nil {
		err = c.cs.ReadBye(req, tx)
	} else if c.ss != nil {
		err = c.ss.ReadBye(req, tx)
	}
	if err != nil {
		c.log.Warn("answering BYE", "error", err)
		_ = respond(tx, req, 200, "OK")
	}
	by := HangupByCallee
	if c.inbound {
		by = HangupByCaller
	}
	if c.finish(by, "remote BYE") {
		c.log.Info("call hung up", "by", by)
	}
}

func (c *Call) handleAck(req *sip.Request, tx sip.ServerTransaction) {
	if c.ss == nil {
		return
	}
	if err := c.ss.ReadAck(req, tx); err != nil {
		// ACK of a re-INVITE answer has a higher CSeq: nothing to do.
		return
	}
	c.mu.Lock()
	select {
	case <-c.ackCh:
	default:
		close(c.ackCh)
	}
	c.mu.Unlock()
}

// handleReinvite answers an in-dialog INVITE (hold, unhold, codec or
// address change) with 200 and our SDP, mirroring the offered direction.
func (c *Call) handleReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	answered := !c.info.AnswerAt.IsZero()
	cur := c.neg
	c.mu.Unlock()
	if !answered {
		_ = respond(tx, req, 491, "Request Pending")
		return
	}
	local := c.local
	local.Version = c.nextSDPVersion()
	var body []byte
	if len(req.Body()) == 0 {
		// Offerless re-INVITE: we offer in the 200, the ACK carries the answer.
		local.Direction = media.SendRecv
		var err error
		if body, err = BuildOffer(local); err != nil {
			c.log.Error("building re-INVITE offer", "error", err)
			_ = respond(tx, req, 500, "Server Internal Error")
			return
		}
	} else {
		if !contentIsSDP(req) {
			_ = respond(tx, req, 415, "Unsupported Media Type", sip.NewHeader("Accept", "application/sdp"))
			return
		}
		if cur != nil {
			// Keep the current codec when the offer still has it.
			local.Codecs = append([]media.Codec{cur.Codec}, local.Codecs...)
		}
		ans, n, err := BuildAnswer(req.Body(), local)
		if err != nil {
			code, reason := sdpErrorStatus(err)
			c.log.Warn("re-INVITE SDP refused", "code", code, "error", err)
			_ = respond(tx, req, code, reason, sip.NewHeader("Warning", warning(err)))
			return
		}
		body = ans
		c.applyMedia(n)
		c.log.Info("re-INVITE accepted", "direction", directionAttr(n.Local), "codec", n.Codec.Name)
	}
	res := sip.NewSDPResponseFromRequest(req, body)
	ct := c.ua.contact(strings.ToLower(req.Transport()))
	res.AppendHeader(&ct)
	if err := tx.Respond(res); err != nil {
		c.log.Warn("answering re-INVITE", "error", err)
	}
}

// handleInfo answers in-dialog INFO; dtmf-relay digits go to OnInfoDTMF.
func (c *Call) handleInfo(req *sip.Request, tx sip.ServerTransaction) {
	_ = respond(tx, req, 200, "OK")
	ct := req.ContentType()
	if ct == nil {
		return
	}
	digit, dur, ok := ParseDTMFInfo(ct.Value(), req.Body())
	if !ok {
		return
	}
	c.mu.Lock()
	fn := c.onInfoDTMF
	c.mu.Unlock()
	if fn != nil {
		fn(media.DTMFEvent{Digit: digit, Duration: dur, Source: "sip-info"})
	}
}

// ParseDTMFInfo extracts a digit from a SIP INFO body of type
// application/dtmf-relay ("Signal=5\r\nDuration=160") or application/dtmf
// ("5"). Duration defaults to 100 ms.
func ParseDTMFInfo(contentType string, body []byte) (rune, time.Duration, bool) {
	ct := strings.ToLower(strings.TrimSpace(contentType))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	dur := 100 * time.Millisecond
	var sig string
	switch ct {
	case "application/dtmf-relay":
		for _, line := range strings.Split(string(body), "\n") {
			k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
			if !ok {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "signal":
				sig = strings.TrimSpace(v)
			case "duration":
				if ms, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && ms > 0 && ms < 60000 {
					dur = time.Duration(ms) * time.Millisecond
				}
			}
		}
	case "application/dtmf":
		sig = strings.TrimSpace(string(body))
	default:
		return 0, 0, false
	}
	switch sig {
	case "10":
		sig = "*"
	case "11":
		sig = "#"
	}
	if len(sig) != 1 || !strings.Contains("0123456789*#ABCDabcd", sig) {
		return 0, 0, false
	}
	return []rune(strings.ToUpper(sig))[0], dur, true
}

// sdpErrorStatus maps an SDP error to the SIP response we send.
func sdpErrorStatus(err error) (int, string) {
	if errors.Is(err, ErrNoCommonCodec) {
		return 488, "Not Acceptable Here"
	}
	return 400, "Bad Request"
}

// warning renders a Warning header value (RFC 3261 §20.43) for err.
func warning(err error) string {
	code := "399"
	if errors.Is(err, ErrNoCommonCodec) {
		code = "305" // incompatible media format
	}
	msg := strings.NewReplacer(`"`, "'", "\r", " ", "\n", " ").Replace(err.Error())
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return code + " callbox \"" + msg + "\""
}
