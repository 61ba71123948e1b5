package sipua

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"callbox/media"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// DefaultRingTimeout applies when DialRequest.RingTimeout is zero.
const DefaultRingTimeout = 60 * time.Second

// DialRequest describes one outbound call attempt.
type DialRequest struct {
	Trunk       string
	Number      string // digits with optional leading '+'
	CallerID    string // overrides the trunk's FromUser
	RingTimeout time.Duration
	CallID      string            // optional SIP Call-ID (and call ID); generated when empty
	Headers     map[string]string // extra INVITE headers (X-..., P-Asserted-Identity, ...)
	// OnEarlyMedia runs in its own goroutine when 18x with SDP started
	// early media.
	OnEarlyMedia func(*Call)
	// OnRinging runs once, on the SIP layer's goroutine, when the first
	// 18x arrives (code and arrival time): the live "ringing" event. It
	// must not block.
	OnRinging func(code int, at time.Time)
}

// reservedHeaders may not be set through DialRequest.Headers.
var reservedHeaders = map[string]bool{
	"via": true, "from": true, "to": true, "call-id": true, "cseq": true, "contact": true,
	"content-length": true, "content-type": true, "max-forwards": true, "route": true,
	"record-route": true, "authorization": true, "proxy-authorization": true, "expires": true,
}

func validHeader(name, value string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("header name %q: empty or too long", name)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-.!%*_+`'~", r)) {
			return fmt.Errorf("header name %q: invalid character %q", name, r)
		}
	}
	if reservedHeaders[strings.ToLower(name)] {
		return fmt.Errorf("header %q is managed by the SIP stack", name)
	}
	if len(value) > 1024 || strings.ContainsAny(value, "\r\n\x00") {
		return fmt.Errorf("header %q: value too long or contains a line break", name)
	}
	return nil
}

// Dial places an outbound call on a trunk and waits for the answer or the
// ring timeout. It returns the answered *Call, or a *DialError (see
// Classify) wrapping ErrUnknownTrunk, ErrTrunkDown, ErrTrunkBusy,
// ErrDraining, ErrInvalidRequest, ErrClosed, ErrNoResponse, ErrBadSDP,
// ErrNoCommonCodec or a context error.
func (u *UA) Dial(ctx context.Context, req DialRequest) (*Call, error) {
	if !u.running() {
		return nil, dialErr(Failed, 0, ErrClosed.Error(), ErrClosed)
	}
	if u.draining.Load() {
		return nil, dialErr(Failed, 0, ErrDraining.Error(), ErrDraining)
	}
	t := u.trunkNamed(req.Trunk)
	if t == nil {
		return nil, dialErr(Failed, 0, fmt.Sprintf("trunk %q is not configured", req.Trunk), ErrUnknownTrunk)
	}
	invalid := func(format string, a ...any) (*Call, error) {
		msg := fmt.Sprintf(format, a...)
		return nil, dialErr(Failed, 0, msg, fmt.Errorf("%w: %s", ErrInvalidRequest, msg))
	}
	if !validNumber(req.Number) {
		return invalid("number %q is not dialable (digits, optional leading +, max 32)", MaskNumber(req.Number))
	}
	callerID := t.cfg.FromUser
	if req.CallerID != "" {
		if !validUser(req.CallerID) {
			return invalid("caller ID %q has characters not allowed in a SIP user part", req.CallerID)
		}
		callerID = req.CallerID
	}
	for k, v := range req.Headers {
		if err := validHeader(k, v); err != nil {
			return invalid("%v", err)
		}
	}
	if req.CallID != "" && (len(req.CallID) > 128 || strings.ContainsAny(req.CallID, " \t\r\n<>\"")) {
		return invalid("call ID %q is not a valid SIP Call-ID", req.CallID)
	}
	if req.RingTimeout < 0 {
		return invalid("negative ring timeout %v", req.RingTimeout)
	}
	ring := req.RingTimeout
	if ring == 0 {
		ring = DefaultRingTimeout
	}
	if !t.isUp() {
		return nil, dialErr(Unreachable, 0, fmt.Sprintf("trunk %q is down (OPTIONS unanswered)", t.cfg.Name), ErrTrunkDown)
	}
	if !t.acquire() {
		return nil, dialErr(Failed, 0, fmt.Sprintf("trunk %q has %d calls (MaxCalls)", t.cfg.Name, t.cfg.MaxCalls), ErrTrunkBusy)
	}

	id := req.CallID
	if id == "" {
		id = newID()
	}
	info := CallInfo{ID: id, SIPCallID: id, Trunk: t.cfg.Name, Number: req.Number, Direction: DirectionOutbound, CallerID: callerID}
	c := newCall(u, t, info, newTag())
	if err := u.addCall(c); err != nil {
		t.release()
		d := Failed
		return nil, dialErr(d, 0, err.Error(), err)
	}
	fail := func(d Disposition, code int, reason string, err error) (*Call, error) {
		c.finish(HangupByBox, reason)
		c.log.Info("call not answered", "disposition", string(d), "code", code, "reason", reason)
		e := dialErr(d, code, reason, err)
		e.Info = c.Info()
		return nil, e
	}

	ms, err := u.deps.NewMedia(c.Info())
	if err != nil {
		return fail(Failed, 0, "media session: "+err.Error(), err)
	}
	c.media = ms
	la := ms.LocalAddr()
	c.local = LocalMedia{IP: u.mediaIP(la), Port: la.Port, Codecs: t.codecs, DTMFPT: DefaultDTMFPayloadType,
		Direction: media.SendRecv, SessionID: uint64(u.now().Unix())}
	offerMedia := c.local
	offerMedia.Version = c.nextSDPVersion()
	offer, err := BuildOffer(offerMedia)
	if err != nil {
		return fail(Failed, 0, "SDP offer: "+err.Error(), err)
	}

	inv := u.buildInvite(t, c, callerID, req, offer)
	c.mu.Lock()
	c.info.InviteAt = u.now()
	c.mu.Unlock()
	c.log.Info("dialing", "caller_id", callerID, "ring_timeout", ring)
	cs, err := u.dialogUA(t.cfg.Transport).WriteInvite(ctx, inv)
	if err != nil {
		return fail(Unreachable, 0, "sending INVITE: "+err.Error(), err)
	}
	c.cs = cs

	var early *Negotiated
	var gotResponse atomic.Bool
	onResponse := func(res *sip.Response) error {
		gotResponse.Store(true)
		if !res.IsProvisional() || res.StatusCode == 100 {
			return nil
		}
		c.mu.Lock()
		first := c.info.RingAt.IsZero()
		if first {
			c.info.RingAt = u.now()
		}
		ringAt := c.info.RingAt
		c.mu.Unlock()
		if first && req.OnRinging != nil {
			req.OnRinging(res.StatusCode, ringAt)
		}
		if len(res.Body()) == 0 || early != nil {
			return nil
		}
		n, err := ParseAnswer(res.Body(), c.local)
		if err != nil {
			c.log.Warn("ignoring unusable early-media SDP", "code", res.StatusCode, "error", err)
			return nil
		}
		early = n
		c.applyMedia(n)
		c.mu.Lock()
		c.info.EarlyMediaAt = u.now()
		c.mu.Unlock()
		c.log.Info("early media started", "code", res.StatusCode, "codec", n.Codec.Name)
		if req.OnEarlyMedia != nil {
			u.goOwned(func() { req.OnEarlyMedia(c) })
		}
		return nil
	}
	opts := sipgo.AnswerOptions{OnResponse: onResponse}
	if t.cfg.Password != "" {
		opts.Username, opts.Password = t.cfg.Username, t.cfg.Password
	}
	// The ring timeout (or the caller's cancel) CANCELs the INVITE. Before
	// any provisional response a CANCEL is not allowed (RFC 3261 §9.1):
	// then we stop waiting at once instead of sipgo's Timer B wait.
	ringCtx, ringCancel := context.WithTimeout(ctx, ring)
	waitCtx, waitCancel := context.WithCancelCause(context.Background())
	stop := context.AfterFunc(ringCtx, func() {
		if gotResponse.Load() {
			waitCancel(ringCtx.Err())
		} else {
			waitCancel(sipgo.WaitAnswerForceCancelErr)
		}
	})
	err = cs.WaitAnswer(waitCtx, opts)
	stop()
	timedOut := errors.Is(ringCtx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	ringCancel()
	waitCancel(nil)
	res := cs.InviteResponse

	if err != nil && res != nil && res.IsSuccess() {
		// 200 crossed our CANCEL: confirm and tear down at once.
		c.mu.Lock()
		c.info.AnswerAt = u.now()
		c.mu.Unlock()
		_ = cs.Ack(context.Background())
		byeCtx, byeCancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = cs.Bye(byeCtx)
		byeCancel()
		return fail(NoAnswer, 0, "answered after CANCEL", err)
	}
	if err != nil {
		var dre *sipgo.ErrDialogResponse
		switch {
		case errors.As(err, &dre):
			code := dre.Res.StatusCode
			return fail(dispositionForCode(code), code, dre.Res.Reason, nil)
		case !gotResponse.Load():
			return fail(Unreachable, 0, "no response from trunk", errors.Join(ErrNoResponse, err))
		case timedOut:
			code := 0
			if res != nil && res.StatusCode == 487 {
				code = 487
			}
			return fail(NoAnswer, code, fmt.Sprintf("ring timeout after %v", ring), context.DeadlineExceeded)
		case ctx.Err() != nil:
			return fail(NoAnswer, 0, "dial cancelled", ctx.Err())
		default:
			return fail(Unreachable, 0, "INVITE transaction failed", err)
		}
	}

	// 2xx: negotiate, ACK, done.
	c.mu.Lock()
	c.info.AnswerAt = u.now()
	c.mu.Unlock()
	n := early
	var sdpErr error
	if len(res.Body()) > 0 {
		n, sdpErr = ParseAnswer(res.Body(), c.local)
	} else if n == nil {
		sdpErr = fmt.Errorf("%w: 200 OK without SDP answer", ErrBadSDP)
	}
	if ackErr := cs.Ack(context.Background()); ackErr != nil {
		c.log.Warn("sending ACK", "error", ackErr)
	}
	if sdpErr != nil {
		byeCtx, byeCancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = cs.Bye(byeCtx)
		byeCancel()
		return fail(Failed, 0, "unusable SDP answer", sdpErr)
	}
	c.applyMedia(n)
	c.log.Info("call answered", "codec", n.Codec.Name, "remote_rtp", fmt.Sprint(n.Remote))
	return c, nil
}

func (u *UA) buildInvite(t *trunk, c *Call, callerID string, dr DialRequest, offer []byte) *sip.Request {
	recipient := sip.Uri{Scheme: "sip", User: dr.Number, Host: t.cfg.Host, Port: t.cfg.Port}
	if t.cfg.Transport == "tcp" {
		recipient.UriParams = sip.NewParams()
		recipient.UriParams.Add("transport", "tcp")
	}
	req := sip.NewRequest(sip.INVITE, recipient)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: callerID, Host: t.cfg.FromDomain}, Params: sip.NewParams()}
	from.Params.Add("tag", c.localTag)
	to := &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: dr.Number, Host: t.cfg.Host}, Params: sip.NewParams()}
	cid := sip.CallIDHeader(c.sipCallID)
	ct := sip.ContentTypeHeader("application/sdp")
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&cid)
	cont := u.contact(t.cfg.Transport)
	req.AppendHeader(&cont)
	req.AppendHeader(sip.NewHeader("User-Agent", u.cfg.UserAgent))
	req.AppendHeader(sip.NewHeader("Allow", allowHeader))
	for k, v := range dr.Headers {
		req.AppendHeader(sip.NewHeader(k, v))
	}
	req.AppendHeader(&ct)
	req.SetBody(offer)
	req.SetTransport(strings.ToUpper(t.cfg.Transport))
	return req
}
