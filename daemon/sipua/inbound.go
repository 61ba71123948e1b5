package sipua

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"callbox/media"

	"github.com/emiago/sipgo/sip"
)

// ackTimeout bounds the wait for the ACK of our 200 to an inbound INVITE
// (64*T1, RFC 3261 §13.3.1.4).
var ackTimeout = 64 * sip.T1

// handleInbound answers a new INVITE from trunk t: validate the SDP offer,
// apply the cap, 100/180/200 with our answer, wait for the ACK, then hand
// the call to Deps.OnInbound.
func (u *UA) handleInbound(t *trunk, req *sip.Request, tx sip.ServerTransaction) {
	from := ""
	if f := req.From(); f != nil {
		from = f.Address.User
	}
	log := u.log.With("trunk", t.cfg.Name, "from", MaskNumber(from), "sip_call_id", req.CallID().Value())
	body := req.Body()
	if len(body) == 0 {
		log.Warn("inbound INVITE without SDP offer refused")
		_ = respond(tx, req, 488, "Not Acceptable Here", sip.NewHeader("Warning", `399 callbox "SDP offer required"`))
		return
	}
	if !contentIsSDP(req) {
		_ = respond(tx, req, 415, "Unsupported Media Type", sip.NewHeader("Accept", "application/sdp"))
		return
	}
	rm, err := ParseSDP(body)
	if err == nil {
		if _, ok := pickCodec(rm.Codecs, t.codecs); !ok {
			err = &sdpError{ErrNoCommonCodec, "offer has " + codecNames(rm.Codecs) + ", trunk allows " + codecNames(t.codecs)}
		}
	}
	if err != nil {
		code, reason := sdpErrorStatus(err)
		log.Warn("inbound INVITE SDP refused", "code", code, "error", err)
		_ = respond(tx, req, code, reason, sip.NewHeader("Warning", warning(err)))
		return
	}
	if !t.acquire() {
		log.Warn("inbound INVITE refused: trunk call cap reached", "max_calls", t.cfg.MaxCalls)
		_ = respond(tx, req, 486, "Busy Here")
		return
	}
	_ = respond(tx, req, 100, "Trying")

	ss, err := u.dialogUA(strings.ToLower(req.Transport())).ReadInvite(req, tx)
	if err != nil {
		t.release()
		log.Warn("inbound INVITE refused", "error", err)
		_ = respond(tx, req, 400, "Bad Request", sip.NewHeader("Warning", warning(err)))
		return
	}
	toTag, _ := ss.InviteRequest.To().Params.Get("tag")
	info := CallInfo{
		ID: newID(), SIPCallID: req.CallID().Value(), Trunk: t.cfg.Name, Number: req.Recipient.User,
		Direction: DirectionInbound, CallerID: from, InviteAt: u.now(),
	}
	c := newCall(u, t, info, toTag)
	c.ss = ss
	if err := u.addCall(c); err != nil {
		t.release()
		log.Warn("inbound INVITE refused", "error", err)
		_ = ss.Respond(500, "Server Internal Error", nil)
		return
	}
	fail := func(code int, reason, cause string) {
		_ = ss.Respond(code, reason, nil)
		c.finish(HangupByBox, cause)
	}
	ms, err := u.deps.NewMedia(c.Info())
	if err != nil {
		log.Error("media session for inbound call", "error", err)
		fail(500, "Server Internal Error", "media: "+err.Error())
		return
	}
	c.media = ms
	la := ms.LocalAddr()
	c.local = LocalMedia{IP: u.mediaIP(la), Port: la.Port, Codecs: t.codecs, DTMFPT: DefaultDTMFPayloadType, SessionID: uint64(u.now().Unix()), Direction: media.SendRecv}
	local := c.local
	local.Version = c.nextSDPVersion()
	answer, neg, err := BuildAnswer(body, local)
	if err != nil {
		code, reason := sdpErrorStatus(err)
		fail(code, reason, "SDP: "+err.Error())
		return
	}
	if err := ss.Respond(180, "Ringing", nil); err != nil {
		c.finish(HangupByCaller, "transaction ended before answer: "+err.Error())
		return
	}
	c.mu.Lock()
	c.info.RingAt = u.now()
	c.mu.Unlock()

	res := sip.NewSDPResponseFromRequest(ss.InviteRequest, answer)
	c.mu.Lock()
	c.info.AnswerAt = u.now() // set before the 200 goes out so that an early BYE is answered
	c.mu.Unlock()
	c.applyMedia(neg)

	ackErr := make(chan error, 1)
	go func() { ackErr <- ss.WriteResponse(res) }() // returns on ACK, CANCEL or transaction end
	select {
	case err = <-ackErr:
	case <-time.After(ackTimeout):
		err = context.DeadlineExceeded
	case <-c.done:
		err = nil
	}
	if err != nil {
		log.Warn("inbound call: no ACK for our 200", "error", err)
		c.hangup(context.Background(), HangupByBox, "no ACK")
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	c.log.Info("inbound call answered", "codec", neg.Codec.Name)
	if u.deps.OnInbound == nil {
		c.hangup(context.Background(), HangupByBox, "no inbound handler")
		return
	}
	if !u.goOwned(func() {
		defer func() {
			if r := recover(); r != nil {
				c.log.Error("panic in inbound call handler", "panic", fmt.Sprint(r))
				c.hangup(context.Background(), HangupByBox, "handler panic")
			}
		}()
		u.deps.OnInbound(c)
	}) {
		c.hangup(context.Background(), HangupByBox, "shutdown")
	}
}

// mediaIP is the address for our SDP: the advertised IP unless the media
// session is bound to a specific other address.
func (u *UA) mediaIP(la *net.UDPAddr) net.IP {
	if u.cfg.ExternalIP != "" || la == nil || la.IP == nil || la.IP.IsUnspecified() {
		return u.advIP
	}
	return la.IP
}

type sdpError struct {
	kind error
	msg  string
}

func (e *sdpError) Error() string { return e.kind.Error() + ": " + e.msg }
func (e *sdpError) Unwrap() error { return e.kind }
