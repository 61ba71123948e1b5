package sipua

// This file holds blind transfer: REFER inside the call's dialog and the
// NOTIFY (message/sipfrag) reports of how the transfer went (RFC 3515).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Blind transfer errors. Each wraps into the error Refer returns.
var (
	// ErrReferRejected means the far end answered the REFER with a failure.
	ErrReferRejected = errors.New("sipua: REFER rejected")
	// ErrReferFailed means a NOTIFY reported that the transfer target
	// answered with a failure (sipfrag status >= 300).
	ErrReferFailed = errors.New("sipua: transfer target failed")
	// ErrReferTimeout means no final NOTIFY arrived before the context ended.
	ErrReferTimeout = errors.New("sipua: no final transfer report (NOTIFY) in time")
	// ErrNotAnswered means the call is not up.
	ErrNotAnswered = errors.New("sipua: call is not answered")
)

// Refer blind-transfers the call's far end to target (a SIP URI such as
// "sip:agent@pbx" or "sip:8001@trunk-host"): it sends REFER in the dialog
// and waits, until ctx ends, for a NOTIFY whose message/sipfrag status is
// final. On a 2xx report the box hangs up its leg (BYE) and returns nil.
func (c *Call) Refer(ctx context.Context, target string) error {
	var to sip.Uri
	if err := sip.ParseUri(target, &to); err != nil {
		return fmt.Errorf("sipua: transfer target %q: %w", target, err)
	}
	c.mu.Lock()
	answered := !c.info.AnswerAt.IsZero() && !c.ended
	ch := make(chan int, 8)
	c.referCh = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.referCh = nil
		c.mu.Unlock()
	}()
	if !answered {
		return ErrNotAnswered
	}
	var recipient sip.Uri
	var do func(context.Context, *sip.Request) (*sip.Response, error)
	switch {
	case c.cs != nil && c.cs.InviteResponse != nil:
		recipient = c.cs.InviteRequest.Recipient
		if ct := c.cs.InviteResponse.Contact(); ct != nil {
			recipient = ct.Address
		}
		do = c.cs.Do
	case c.ss != nil:
		recipient = c.ss.InviteRequest.Recipient
		if ct := c.ss.InviteRequest.Contact(); ct != nil {
			recipient = ct.Address
		}
		do = c.ss.Do
	default:
		return ErrNotAnswered
	}
	req := sip.NewRequest(sip.REFER, *recipient.Clone())
	req.AppendHeader(sip.NewHeader("Refer-To", "<"+to.String()+">"))
	ct := c.ua.contact(c.tr.cfg.Transport)
	req.AppendHeader(&ct)
	req.AppendHeader(sip.NewHeader("Referred-By", "<"+ct.Address.String()+">"))
	res, err := do(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %v", ErrReferTimeout, err)
		}
		return fmt.Errorf("sipua: REFER: %w", err)
	}
	if res.StatusCode >= 300 {
		return fmt.Errorf("%w: %d %s", ErrReferRejected, res.StatusCode, res.Reason)
	}
	c.log.Info("REFER accepted", "code", res.StatusCode, "target", MaskNumber(to.User))
	for {
		select {
		case code := <-ch:
			switch {
			case code < 200:
				continue
			case code < 300:
				c.log.Info("transfer completed", "sipfrag", code)
				if err := c.hangup(context.WithoutCancel(ctx), HangupByBox, "transferred"); err != nil {
					c.log.Warn("BYE after transfer failed", "err", err)
				}
				return nil
			default:
				return fmt.Errorf("%w: %d", ErrReferFailed, code)
			}
		case <-c.done:
			return nil // the transferee left the call: the usual end of a blind transfer
		case <-ctx.Done():
			return ErrReferTimeout
		}
	}
}

// ParseSipfrag returns the status code of a message/sipfrag body such as
// "SIP/2.0 200 OK".
func ParseSipfrag(body []byte) (int, bool) {
	line, _, _ := strings.Cut(string(body), "\n")
	f := strings.Fields(strings.TrimSpace(line))
	if len(f) < 2 || !strings.HasPrefix(f[0], "SIP/") {
		return 0, false
	}
	code, err := strconv.Atoi(f[1])
	if err != nil || code < 100 || code > 699 {
		return 0, false
	}
	return code, true
}

// handleNotify answers a NOTIFY of the refer subscription and reports its
// sipfrag status to a waiting Refer.
func (c *Call) handleNotify(req *sip.Request, tx sip.ServerTransaction) {
	_ = respond(tx, req, 200, "OK")
	code, ok := ParseSipfrag(req.Body())
	if !ok {
		c.log.Warn("NOTIFY without a readable sipfrag ignored", "body_len", len(req.Body()))
		return
	}
	c.mu.Lock()
	ch := c.referCh
	c.mu.Unlock()
	if ch != nil {
		select {
		case ch <- code:
		default:
		}
	}
}

func (u *UA) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	if c := u.callFor(req); c != nil {
		c.handleNotify(req, tx)
		return
	}
	if u.trunkForSource(req) == nil {
		u.refuse(req, tx)
		return
	}
	_ = respond(tx, req, 481, "Call/Transaction Does Not Exist")
}
