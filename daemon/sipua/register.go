package sipua

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Registration retry backoff: base doubles per failure up to the cap, with
// the second half of each delay jittered.
const (
	registerBackoffBase = 2 * time.Second
	registerBackoffCap  = 5 * time.Minute
	registerTimeout     = 10 * time.Second
	minRefresh          = time.Second
)

// backoff returns the retry delay after the attempt'th consecutive failure
// (0-based); r is a random number in [0,1).
func backoff(attempt int, r float64) time.Duration {
	d := float64(registerBackoffBase) * math.Pow(2, float64(attempt))
	if d > float64(registerBackoffCap) || math.IsInf(d, 0) {
		d = float64(registerBackoffCap)
	}
	return time.Duration(d/2 + d/2*r)
}

// refreshAfter is when to re-REGISTER for a granted expiry: 80% of it.
func refreshAfter(granted time.Duration) time.Duration {
	d := granted * 8 / 10
	if d < minRefresh {
		d = minRefresh
	}
	return d
}

// registerLoop keeps trunk t registered until ctx (the trunk's run, a
// child of the UA's) is cancelled. Its caller owns the goroutine.
func (u *UA) registerLoop(ctx context.Context, t *trunk) {
	log := u.log.With("trunk", t.cfg.Name)
	failures := 0
	for {
		t.mu.Lock()
		t.regState = RegRegistering
		t.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, registerTimeout)
		granted, err := u.register(rctx, t, t.cfg.RegisterExpiry)
		cancel()
		if ctx.Err() != nil {
			return
		}
		var delay time.Duration
		t.mu.Lock()
		if err != nil {
			delay = backoff(failures, u.rand())
			failures++
			t.regState, t.lastErr = RegFailed, err.Error()
		} else {
			failures = 0
			delay = refreshAfter(granted)
			t.regState, t.lastErr = RegRegistered, ""
		}
		t.nextRefresh = u.now().Add(delay)
		t.mu.Unlock()
		if err != nil {
			log.Warn("SIP registration failed", "error", err, "retry_in", delay, "failures", failures)
		} else {
			log.Info("SIP registered", "expires", granted, "refresh_in", delay)
		}
		select {
		case <-u.after(delay):
		case <-ctx.Done():
			return
		}
	}
}

// register sends one REGISTER (answering a digest challenge once) asking
// for expires; 0 unregisters. It returns the expiry the registrar granted.
func (u *UA) register(ctx context.Context, t *trunk, expires time.Duration) (time.Duration, error) {
	client := u.clients[t.cfg.Transport]
	recipient := sip.Uri{Scheme: "sip", Host: t.cfg.Host, Port: t.cfg.Port}
	if t.cfg.Transport == "tcp" {
		recipient.UriParams = sip.NewParams()
		recipient.UriParams.Add("transport", "tcp")
	}
	t.mu.Lock()
	if t.regCallID == "" {
		t.regCallID, t.regTag = newID(), newTag()
	}
	t.regCSeq++
	cseqNo, callID, tag := t.regCSeq, t.regCallID, t.regTag
	t.mu.Unlock()

	aor := sip.Uri{Scheme: "sip", User: t.cfg.Username, Host: t.cfg.FromDomain}
	req := sip.NewRequest(sip.REGISTER, recipient)
	from := &sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", tag)
	to := &sip.ToHeader{Address: aor, Params: sip.NewParams()}
	cid := sip.CallIDHeader(callID)
	cseq := &sip.CSeqHeader{SeqNo: cseqNo, MethodName: sip.REGISTER}
	cont := u.contact(t.cfg.Transport)
	cont.Address.User = t.cfg.Username
	exp := sip.ExpiresHeader(uint32(expires / time.Second))
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&cid)
	req.AppendHeader(cseq)
	req.AppendHeader(&cont)
	req.AppendHeader(&exp)
	req.AppendHeader(sip.NewHeader("User-Agent", u.cfg.UserAgent))
	req.SetTransport(strings.ToUpper(t.cfg.Transport))

	res, err := client.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("REGISTER to %s: %w", t.hostPort(), err)
	}
	if res.StatusCode == 401 || res.StatusCode == 407 {
		if err := checkRealm(res, t.cfg.Realm); err != nil {
			return 0, err
		}
		res, err = client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: t.cfg.Username, Password: t.cfg.Password})
		t.mu.Lock()
		if c := req.CSeq(); c != nil && c.SeqNo > t.regCSeq {
			t.regCSeq = c.SeqNo
		}
		t.mu.Unlock()
		if err != nil {
			return 0, fmt.Errorf("authenticated REGISTER to %s: %w", t.hostPort(), err)
		}
	}
	if !res.IsSuccess() {
		if res.StatusCode == 401 || res.StatusCode == 407 {
			return 0, fmt.Errorf("REGISTER rejected: %d %s (check Username/Password)", res.StatusCode, res.Reason)
		}
		return 0, fmt.Errorf("REGISTER rejected: %d %s", res.StatusCode, res.Reason)
	}
	return grantedExpiry(res, cont.Address, expires), nil
}

func checkRealm(res *sip.Response, want string) error {
	if want == "" {
		return nil
	}
	h := res.GetHeader("WWW-Authenticate")
	if h == nil {
		h = res.GetHeader("Proxy-Authenticate")
	}
	if h == nil {
		return fmt.Errorf("REGISTER challenged (%d) without an authenticate header", res.StatusCode)
	}
	v := h.Value()
	i := strings.Index(strings.ToLower(v), "realm=")
	if i < 0 {
		return fmt.Errorf("digest challenge without realm")
	}
	rest := strings.TrimPrefix(v[i+len("realm="):], `"`)
	if j := strings.IndexAny(rest, `",`); j >= 0 {
		rest = rest[:j]
	}
	if rest != want {
		return fmt.Errorf("digest realm %q does not match configured Realm %q", rest, want)
	}
	return nil
}

// grantedExpiry reads the expiry from our Contact's expires parameter in
// the 200, else the Expires header, else what we asked for.
func grantedExpiry(res *sip.Response, ours sip.Uri, asked time.Duration) time.Duration {
	for _, h := range res.GetHeaders("Contact") {
		ch, ok := h.(*sip.ContactHeader)
		if !ok {
			continue
		}
		if ch.Address.Host != ours.Host || (ch.Address.Port != 0 && ch.Address.Port != ours.Port) {
			continue
		}
		if v, ok := ch.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}
