package sim

// This file holds blind transfer of a simulated callee (RFC 3515): like a
// phone, the callee accepts the box's REFER with 202, reports progress with
// NOTIFY (message/sipfrag), INVITEs the Refer-To target itself and, once
// the target answers, talks to it briefly while the box hangs up the
// original call.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"callbox/media"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Transfer timing.
const (
	transferRingTimeout = 30 * time.Second // the target must answer within this
	transferNotifyWait  = 5 * time.Second  // per NOTIFY transaction
	transferByeWait     = 10 * time.Second // for the box's BYE after the final NOTIFY
	// TransferredTalk is how long the transferred callee stays on the call
	// with the transfer target before hanging up (unless the target hangs
	// up first).
	TransferredTalk = 2 * time.Second
)

// EndTransferred is the EndReason of a call the box hung up after the
// callee was transferred (the final NOTIFY reported 200).
const EndTransferred = "transferred"

// errReferTo classifies a Refer-To header the simulator cannot follow.
var errReferTo = errors.New("sim: bad Refer-To")

// parseReferTo reads a Refer-To header value: a name-addr ("<sip:...>",
// optionally with a display name and header parameters) or a bare SIP URI.
// Embedded URI headers (?Replaces=... of an attended transfer) are not
// supported and rejected.
func parseReferTo(v string) (sip.Uri, error) {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return sip.Uri{}, fmt.Errorf("%w: %q has '<' without '>'", errReferTo, v)
		}
		v = v[i+1 : i+j]
	} else if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i] // bare URI: parameters after ';' are header parameters
	}
	v = strings.TrimSpace(v)
	lower := strings.ToLower(v)
	if !strings.HasPrefix(lower, "sip:") && !strings.HasPrefix(lower, "sips:") {
		return sip.Uri{}, fmt.Errorf("%w: %q is not a sip: or sips: URI", errReferTo, v)
	}
	if strings.ContainsAny(v, "?\r\n \t") {
		return sip.Uri{}, fmt.Errorf("%w: %q: embedded headers or spaces (attended transfer) are not supported", errReferTo, v)
	}
	var u sip.Uri
	if err := sip.ParseUri(v, &u); err != nil {
		return sip.Uri{}, fmt.Errorf("%w: %q: %v", errReferTo, v, err)
	}
	if u.Host == "" {
		return sip.Uri{}, fmt.Errorf("%w: %q has no host", errReferTo, v)
	}
	return u, nil
}

// onRefer answers a REFER inside an answered call: 202 and the transfer
// runs on the call's goroutine; 481 outside a call, 403 before the
// answer, 400 for a bad Refer-To, 491 while a transfer is already running.
func (s *Server) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	c := s.callFor(req)
	if c == nil {
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	s.mu.Lock()
	answered := !c.rec.AnsweredAt.IsZero()
	s.mu.Unlock()
	if !answered {
		respond(tx, req, 403, "Forbidden", warning(errors.New("REFER before the call was answered")))
		return
	}
	h := req.GetHeader("Refer-To")
	if h == nil {
		respond(tx, req, 400, "Bad Request", warning(fmt.Errorf("%w: REFER without Refer-To", errReferTo)))
		return
	}
	target, err := parseReferTo(h.Value())
	if err != nil {
		c.log.Warn("REFER refused", "err", err)
		respond(tx, req, 400, "Bad Request", warning(err))
		return
	}
	if !c.transferring.CompareAndSwap(false, true) {
		respond(tx, req, 491, "Request Pending")
		return
	}
	respond(tx, req, 202, "Accepted")
	c.refer <- target // buffered 1, reserved by transferring
}

// transferLegs are the calls the simulator placed to transfer targets, by
// dialog ID, so that a BYE from a target finds its dialog.
type transferLegs struct {
	mu sync.Mutex
	m  map[string]*sipgo.DialogClientSession // guarded by mu
}

func (t *transferLegs) add(d *sipgo.DialogClientSession) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]*sipgo.DialogClientSession{}
	}
	t.m[d.ID] = d
}

func (t *transferLegs) remove(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, id)
}

// byeForLeg answers a BYE from a transfer target; false if req belongs to
// no transfer leg.
func (s *Server) byeForLeg(req *sip.Request, tx sip.ServerTransaction) bool {
	id, err := sip.DialogIDFromRequestUAC(req)
	if err != nil {
		return false
	}
	s.legs.mu.Lock()
	d := s.legs.m[id]
	s.legs.mu.Unlock()
	if d == nil {
		return false
	}
	if err := d.ReadBye(req, tx); err != nil {
		s.log.Warn("BYE from the transfer target not answered", "err", err)
	}
	return true
}

// notify sends one NOTIFY of the refer subscription with a sipfrag status
// line; final ends the subscription.
func (c *call) notify(code int, reason string, final bool) error {
	req := sip.NewRequest(sip.NOTIFY, c.dlg.InviteRequest.Contact().Address)
	req.AppendHeader(sip.NewHeader("Event", "refer"))
	state := "active;expires=60"
	if final {
		state = "terminated;reason=noresource"
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody(fmt.Appendf(nil, "SIP/2.0 %d %s\r\n", code, reason))
	ctx, cancel := context.WithTimeout(context.Background(), transferNotifyWait)
	defer cancel()
	res, err := c.dlg.Do(ctx, req)
	if err != nil {
		return fmt.Errorf("NOTIFY %d: %w", code, err)
	}
	if res.StatusCode >= 300 {
		return fmt.Errorf("NOTIFY %d: answered %d %s", code, res.StatusCode, res.Reason)
	}
	return nil
}

// transfer follows a REFER on the call's goroutine. It returns true when
// the call with the box is over (transferred, or the box hung up), false
// when the transfer failed and the callee stays on the line.
func (c *call) transfer(target sip.Uri) (over bool) {
	defer c.transferring.Store(false)
	c.sess.StopPlay()
	c.log.Info("transfer requested", "target", MaskNumber(target.User), "host", target.Host)
	c.update(func(l *CallLog) { l.ReferTo = target.String() })
	if err := c.notify(100, "Trying", false); err != nil {
		c.log.Warn("transfer progress not reported", "err", err)
	}
	leg, code, reason, err := c.dialTarget(target)
	c.update(func(l *CallLog) { l.TransferStatus = code })
	if err != nil {
		c.log.Warn("transfer target not reached", "code", code, "err", err)
		if nerr := c.notify(code, reason, true); nerr != nil {
			c.log.Warn("transfer failure not reported", "err", nerr)
		}
		if c.dlg.Context().Err() != nil {
			c.end(0, ByCaller, EndByeReceived, nil)
			return true
		}
		return false
	}
	defer leg.close(c)
	if err := c.notify(200, "OK", true); err != nil {
		c.log.Warn("transfer success not reported", "err", err)
	}
	// The transferor hangs up the original call now (RFC 5589 §6).
	byeWait := time.NewTimer(transferByeWait)
	defer byeWait.Stop()
	select {
	case <-c.dlg.Context().Done():
		c.end(0, ByCaller, EndTransferred, nil)
		c.log.Info("box hung up after the transfer")
	case <-byeWait.C:
		c.hangup(EndTransferred)
	case <-c.s.closing:
		c.hangup(EndShutdown)
		return true
	}
	talk := time.NewTimer(TransferredTalk)
	defer talk.Stop()
	select {
	case <-leg.dlg.Context().Done():
		c.update(func(l *CallLog) { l.TransferEndedBy = "target" })
	case <-talk.C:
		c.update(func(l *CallLog) { l.TransferEndedBy = "callee" })
	case <-c.s.closing:
		c.update(func(l *CallLog) { l.TransferEndedBy = "callee" })
	}
	return true
}

// targetLeg is the simulator's own call to a transfer target.
type targetLeg struct {
	dlg  *sipgo.DialogClientSession
	sess *media.Session
}

// close hangs up the leg (unless the target did) and frees its media.
func (t *targetLeg) close(c *call) {
	if t.dlg.Context().Err() == nil {
		ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
		if err := t.dlg.Bye(ctx); err != nil {
			c.log.Warn("BYE to the transfer target failed", "err", err)
		}
		cancel()
	}
	c.s.legs.remove(t.dlg.ID)
	t.dlg.Close()
	t.sess.Close()
}

// dialTarget INVITEs the Refer-To target as the callee (From: the number
// the box dialled) and waits for its answer. On failure code and reason
// are what the final NOTIFY reports.
func (c *call) dialTarget(target sip.Uri) (*targetLeg, int, string, error) {
	sess, err := media.NewSession(media.SessionConfig{
		IP: net.ParseIP(c.s.cfg.ListenIP), Ports: c.s.ports, Clock: c.s.clock, Logger: c.log,
	})
	if err != nil {
		return nil, 503, "Service Unavailable", fmt.Errorf("RTP session for the transfer: %w", err)
	}
	fail := func(code int, reason string, err error) (*targetLeg, int, string, error) {
		sess.Close()
		return nil, code, reason, err
	}
	body, err := buildAnswer(offer{Codec: media.PCMU, HasDTMF: true, DTMFPT: 101}, sess.LocalAddr().AddrPort(), uint64(c.s.cfg.Now().Unix()))
	if err != nil {
		return fail(500, "Server Internal Error", fmt.Errorf("SDP offer: %w", err))
	}
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: c.rec.Number, Host: c.s.cfg.ListenIP}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	hdrs := []sip.Header{from, sip.NewHeader("Content-Type", "application/sdp")}
	if rb := c.dlg.InviteRequest.From(); rb != nil {
		hdrs = append(hdrs, sip.NewHeader("Referred-By", "<"+rb.Address.String()+">"))
	}
	dlg, err := c.s.dua.Invite(context.Background(), target, body, hdrs...)
	if err != nil {
		return fail(503, "Service Unavailable", fmt.Errorf("INVITE to the transfer target: %w", err))
	}
	ctx, cancel := context.WithTimeout(context.Background(), transferRingTimeout)
	defer cancel()
	go func() { // the box hanging up or a shutdown abandons the attempt
		select {
		case <-c.dlg.Context().Done():
		case <-c.s.closing:
		case <-ctx.Done():
		}
		cancel()
	}()
	if err := dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		dlg.Close()
		var rerr *sipgo.ErrDialogResponse
		if errors.As(err, &rerr) {
			return fail(rerr.Res.StatusCode, rerr.Res.Reason, err)
		}
		return fail(408, "Request Timeout", err)
	}
	c.s.legs.add(dlg)
	leg := &targetLeg{dlg: dlg, sess: sess}
	if err := dlg.Ack(context.Background()); err != nil {
		leg.close(c)
		return nil, 500, "Server Internal Error", fmt.Errorf("ACK to the transfer target: %w", err)
	}
	ans, err := parseOffer(dlg.InviteResponse.Body())
	if err != nil {
		leg.close(c)
		return nil, 488, "Not Acceptable Here", fmt.Errorf("transfer target's SDP answer: %w", err)
	}
	remote := &net.UDPAddr{IP: ans.Addr.Addr().AsSlice(), Port: int(ans.Addr.Port())}
	var dtmfPT uint8
	if ans.HasDTMF {
		dtmfPT = ans.DTMFPT
	}
	if err := sess.UpdateRemote(remote, ans.Codec, dtmfPT); err != nil {
		leg.close(c)
		return nil, 488, "Not Acceptable Here", fmt.Errorf("%w: %v", ErrSDP, err)
	}
	sess.Start()
	c.log.Info("transfer target answered", "target", MaskNumber(target.User))
	return leg, 200, "OK", nil
}
