package sipua

import (
	"context"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// maxOptionsWait bounds how long one keepalive OPTIONS waits for an answer.
const maxOptionsWait = 5 * time.Second

// optionsLoop pings trunk t every OptionsInterval. OptionsFailures
// consecutive unanswered pings (or 503s) mark it down; one answer marks it
// up. It stops when ctx (the trunk's run) is cancelled; its caller owns the
// goroutine.
func (u *UA) optionsLoop(ctx context.Context, t *trunk) {
	log := u.log.With("trunk", t.cfg.Name)
	for {
		wait := t.cfg.OptionsInterval
		if wait > maxOptionsWait {
			wait = maxOptionsWait
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		code, err := u.ping(pctx, t)
		cancel()
		if ctx.Err() != nil {
			return
		}
		ok := err == nil && code != 503
		t.mu.Lock()
		t.lastOptionsAt = u.now()
		was := t.up
		if ok {
			t.optFailures = 0
			t.up = true
		} else {
			t.optFailures++
			if t.optFailures >= t.cfg.OptionsFailures {
				t.up = false
			}
		}
		now, failures := t.up, t.optFailures
		t.mu.Unlock()
		switch {
		case was && !now:
			log.Warn("SIP trunk down", "failures", failures, "code", code, "error", errString(err))
		case !was && now:
			log.Info("SIP trunk up", "code", code)
		}
		select {
		case <-u.after(t.cfg.OptionsInterval):
		case <-ctx.Done():
			return
		}
	}
}

// ping sends one OPTIONS to the trunk and returns the final status code.
func (u *UA) ping(ctx context.Context, t *trunk) (int, error) {
	recipient := sip.Uri{Scheme: "sip", Host: t.cfg.Host, Port: t.cfg.Port}
	if t.cfg.Transport == "tcp" {
		recipient.UriParams = sip.NewParams()
		recipient.UriParams.Add("transport", "tcp")
	}
	req := sip.NewRequest(sip.OPTIONS, recipient)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: t.cfg.FromUser, Host: t.cfg.FromDomain}, Params: sip.NewParams()}
	from.Params.Add("tag", newTag())
	req.AppendHeader(from)
	req.AppendHeader(sip.NewHeader("User-Agent", u.cfg.UserAgent))
	req.SetTransport(strings.ToUpper(t.cfg.Transport))
	res, err := u.clients[t.cfg.Transport].Do(ctx, req)
	if err != nil {
		return 0, err
	}
	return res.StatusCode, nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
