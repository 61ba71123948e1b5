package sipua

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// allowHeader lists the methods we handle.
const allowHeader = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"

func (u *UA) registerHandlers() {
	u.srv.OnInvite(u.guard(u.onInvite))
	u.srv.OnAck(u.guard(u.onAck))
	u.srv.OnBye(u.guard(u.onBye))
	u.srv.OnCancel(u.guard(u.onCancel))
	u.srv.OnOptions(u.guard(u.onOptions))
	u.srv.OnInfo(u.guard(u.onInfo))
	u.srv.OnNotify(u.guard(u.onNotify))
	u.srv.OnNoRoute(u.guard(u.onOther))
}

// guard recovers a panicking handler (logged with its stack) and answers
// 500 so that no request can take the daemon down.
func (u *UA) guard(h func(*sip.Request, sip.ServerTransaction)) func(*sip.Request, sip.ServerTransaction) {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if r := recover(); r != nil {
				u.log.Error("panic in SIP handler", "method", string(req.Method), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				if tx != nil && !req.IsAck() {
					_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
				}
			}
		}()
		h(req, tx)
	}
}

func respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) error {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	return tx.Respond(res)
}

func hasToTag(req *sip.Request) bool {
	to := req.To()
	if to == nil {
		return false
	}
	_, ok := to.Params.Get("tag")
	return ok
}

func (u *UA) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if hasToTag(req) {
		if c := u.callFor(req); c != nil {
			c.handleReinvite(req, tx)
			return
		}
		if u.trunkForSource(req) == nil {
			u.refuse(req, tx)
			return
		}
		_ = respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	}
	t := u.trunkForSource(req)
	if t == nil {
		u.refuse(req, tx)
		return
	}
	if u.draining.Load() || !u.running() {
		_ = respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "60"))
		return
	}
	u.handleInbound(t, req, tx)
}

// refuse answers 403 to a request from a source that is no configured trunk.
func (u *UA) refuse(req *sip.Request, tx sip.ServerTransaction) {
	u.log.Warn("SIP request from unknown source refused", "method", string(req.Method), "source", req.Source())
	_ = respond(tx, req, 403, "Forbidden")
}

func (u *UA) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if c := u.callFor(req); c != nil {
		c.handleAck(req, tx)
	}
	// ACKs are never answered; stray ones are dropped.
}

func (u *UA) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if c := u.callFor(req); c != nil {
		c.handleBye(req, tx)
		return
	}
	if u.trunkForSource(req) == nil {
		u.refuse(req, tx)
		return
	}
	_ = respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

// onCancel sees only CANCELs that match no INVITE transaction (the
// transaction layer answers matching ones and sends 487).
func (u *UA) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	if u.trunkForSource(req) == nil {
		u.refuse(req, tx)
		return
	}
	_ = respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

func (u *UA) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if u.draining.Load() && u.callFor(req) == nil {
		_ = respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "60"))
		return
	}
	_ = respond(tx, req, 200, "OK",
		sip.NewHeader("Allow", allowHeader),
		sip.NewHeader("Accept", "application/sdp"))
}

func (u *UA) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	if c := u.callFor(req); c != nil {
		c.handleInfo(req, tx)
		return
	}
	if u.trunkForSource(req) == nil {
		u.refuse(req, tx)
		return
	}
	_ = respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

func (u *UA) onOther(req *sip.Request, tx sip.ServerTransaction) {
	if u.trunkForSource(req) == nil {
		u.refuse(req, tx)
		return
	}
	_ = respond(tx, req, 405, "Method Not Allowed", sip.NewHeader("Allow", allowHeader))
}

// contentIsSDP reports whether the request's Content-Type is application/sdp
// (or absent with a body, which we also try as SDP).
func contentIsSDP(m interface{ ContentType() *sip.ContentTypeHeader }) bool {
	ct := m.ContentType()
	if ct == nil {
		return true
	}
	v := strings.ToLower(strings.TrimSpace(ct.Value()))
	return strings.HasPrefix(v, "application/sdp")
}
