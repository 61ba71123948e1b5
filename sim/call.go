package sim

// This file holds one simulated call: ringing, the final answer, media and
// the persona's conversation.

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"callbox/media"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Timing of the simulated human.
const (
	minReplyGap     = 300 * time.Millisecond // after the box stops talking
	maxReplyGap     = 700 * time.Millisecond
	talkoverDelay   = 500 * time.Millisecond // into the box's first prompt
	dtmfDigitLength = 100 * time.Millisecond
	byeTimeout      = 5 * time.Second
	speechTimeout   = 30 * time.Second
)

// End reasons in CallLog.EndReason.
const (
	EndByeReceived = "bye-received"
	EndByeSent     = "bye-sent"
	EndCancel      = "cancel"
	EndRejected    = "rejected"
	EndMaxRing     = "max-ring"
	EndShutdown    = "shutdown"
	EndNoAck       = "no-ack"
	EndMaxDuration = "max-duration"
	EndError       = "error"
)

type call struct {
	s       *Server
	log     *slog.Logger
	callID  string
	persona Persona
	rec     *CallLog // fields written through s.updateLog (guarded by s.mu)
	rng     *rand.Rand
	dlg     *sipgo.DialogServerSession

	byeReceived atomic.Bool // the box sent BYE

	// refer carries an accepted REFER's target to the call goroutine;
	// transferring reserves its one slot (refer.go).
	refer        chan sip.Uri
	transferring atomic.Bool

	// Media; used by the call goroutine only, except answer.
	sess     *media.Session
	box      *boxListener
	recorder *media.Recorder
	speech   map[string][]int16

	mu     sync.Mutex
	answer []byte // guarded by mu: our SDP once sent
}

func (s *Server) newCall(req *sip.Request) *call {
	rec := s.inviteLog(req)
	callID, number := rec.CallID, rec.Number
	name, how := s.PersonaFor(number)
	rec.Persona, rec.ChosenBy = name, how
	seed := s.cfg.Seed
	if seed == 0 {
		h := fnv.New64a()
		h.Write([]byte(callID))
		seed = h.Sum64()
	}
	c := &call{
		s:       s,
		callID:  callID,
		persona: s.cfg.Personas[name],
		rng:     rand.New(rand.NewPCG(seed, 0x5eed)),
		rec:     &rec,
		refer:   make(chan sip.Uri, 1),
	}
	c.log = s.log.With("call_id", callID, "number", MaskNumber(number), "persona", name)
	s.mu.Lock()
	s.logs = append(s.logs, c.rec)
	s.mu.Unlock()
	return c
}

// inviteLog starts the log of an initial INVITE: who called whom, from
// where, when.
func (s *Server) inviteLog(req *sip.Request) CallLog {
	l := CallLog{Number: req.Recipient.User, Source: req.Source(), ReceivedAt: s.cfg.Now()}
	if h := req.CallID(); h != nil {
		l.CallID = h.Value()
	}
	if h := req.From(); h != nil {
		l.From = h.Address.User
	}
	if h := req.To(); h != nil {
		l.To = h.Address.User
	}
	return l
}

func (c *call) answerSDP() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answer
}

// update changes the call's log under the server lock.
func (c *call) update(fn func(l *CallLog)) { c.s.updateLog(c.rec, fn) }

// end records how the call ended.
func (c *call) end(status int, by, reason string, err error) {
	c.update(func(l *CallLog) {
		if status != 0 {
			l.Status = status
		}
		l.HungUpBy, l.EndReason = by, reason
		if err != nil {
			l.Error = err.Error()
		}
	})
}

// run handles the INVITE from arrival to the end of the call. It runs on
// sipgo's request goroutine, which the server counts in s.calls.
func (c *call) run(req *sip.Request, tx sip.ServerTransaction) {
	defer c.s.finishLog(c.rec)
	c.log.Info("INVITE received", "chosen_by", c.rec.ChosenBy)
	dlg, err := c.s.dua.ReadInvite(req, tx)
	if err != nil {
		respond(tx, req, 400, "Bad Request", warning(err))
		c.end(400, ByCallee, EndError, fmt.Errorf("malformed INVITE: %w", err))
		c.log.Warn("INVITE rejected", "err", err)
		return
	}
	c.dlg = dlg
	c.s.mu.Lock()
	c.s.active[dlg.ID] = c
	c.s.mu.Unlock()
	defer func() {
		c.s.mu.Lock()
		delete(c.s.active, dlg.ID)
		c.s.mu.Unlock()
		dlg.Close()
	}()
	defer c.closeMedia()
	_ = tx.Respond(sip.NewResponseFromRequest(req, 100, "Trying", nil))

	p := c.persona
	var off offer
	if p.answers() || p.EarlyMedia {
		if off, err = parseOffer(req.Body()); err != nil {
			c.reject(488, "Not Acceptable Here", EndError, err)
			return
		}
	}
	if p.answers() {
		if err := c.prepareSpeech(); err != nil {
			c.reject(500, "Server Internal Error", EndError, err)
			return
		}
	}
	if p.EarlyMedia {
		if err := c.openMedia(off); err != nil {
			c.reject(500, "Server Internal Error", EndError, err)
			return
		}
		if err := dlg.Respond(183, "Session Progress", c.answerSDP(), sip.NewHeader("Content-Type", "application/sdp")); err != nil {
			c.finishUnanswered(err)
			return
		}
		c.sess.Play(ringback())
	} else if err := dlg.Respond(180, "Ringing", nil); err != nil {
		c.finishUnanswered(err)
		return
	}

	ring := p.RingFor
	if p.Kind == KindNoAnswer {
		ring = c.s.cfg.MaxRing
	}
	timer := time.NewTimer(ring)
	defer timer.Stop()
	select {
	case <-dlg.Context().Done():
		c.finishUnanswered(context.Cause(dlg.Context()))
		return
	case <-c.s.closing:
		c.reject(480, "Temporarily Unavailable", EndShutdown, nil)
		return
	case <-timer.C:
	}

	switch p.Kind {
	case KindBusy, KindReject:
		c.reject(p.Code, reasonPhrase(p.Code), EndRejected, nil)
		return
	case KindNoAnswer:
		c.reject(defaultNoAnswerCode, reasonPhrase(defaultNoAnswerCode), EndMaxRing, nil)
		return
	}
	if c.sess == nil {
		if err := c.openMedia(off); err != nil {
			c.reject(500, "Server Internal Error", EndError, err)
			return
		}
	}
	c.sess.StopPlay()
	c.update(func(l *CallLog) { l.Status = 200 })
	if err := dlg.RespondSDP(c.answerSDP()); err != nil {
		if dlg.Context().Err() != nil && !c.byeReceived.Load() {
			c.finishUnanswered(context.Cause(dlg.Context()))
			return
		}
		c.end(200, ByCallee, EndNoAck, err)
		c.log.Warn("no ACK for 200 OK", "err", err)
		return
	}
	c.update(func(l *CallLog) { l.AnsweredAt = c.s.cfg.Now() })
	c.log.Info("call answered", "codec", off.Codec.Name, "remote_rtp", off.Addr.String())
	c.converse()
}

// finishUnanswered records the end of a call before the 200: a CANCEL
// (487 already sent by sipgo) or a dead transaction.
func (c *call) finishUnanswered(cause error) {
	if errors.Is(cause, sip.ErrTransactionCanceled) {
		c.update(func(l *CallLog) { l.CancelSeen = true })
		c.end(487, ByCaller, EndCancel, nil)
		c.log.Info("call cancelled by the box")
		return
	}
	c.end(0, ByCaller, EndError, fmt.Errorf("INVITE transaction ended before the answer: %v", cause))
	c.log.Warn("INVITE transaction ended before the answer", "err", cause)
}

// reject sends a final failure response.
func (c *call) reject(code int, reason, endReason string, cause error) {
	var hdrs []sip.Header
	if cause != nil {
		hdrs = append(hdrs, warning(cause))
		c.log.Warn("call refused", "code", code, "err", cause)
	} else {
		c.log.Info("call refused", "code", code, "reason", endReason)
	}
	if err := c.dlg.Respond(code, reason, nil, hdrs...); err != nil {
		if errors.Is(c.dlg.Context().Err(), context.Canceled) && errors.Is(context.Cause(c.dlg.Context()), sip.ErrTransactionCanceled) {
			c.finishUnanswered(sip.ErrTransactionCanceled)
			return
		}
		c.log.Warn("final response not sent", "code", code, "err", err)
	}
	c.end(code, ByCallee, endReason, cause)
}

// prepareSpeech synthesises every phrase the persona may say (cached
// across calls) before the call is answered.
func (c *call) prepareSpeech() error {
	texts := c.persona.Say
	if c.persona.Greeting != "" {
		texts = append([]string{c.persona.Greeting}, texts...)
	}
	if len(texts) == 0 || c.persona.Silent {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), speechTimeout)
	defer cancel()
	go func() { // a shutdown must not wait for espeak-ng
		select {
		case <-c.s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	c.speech = make(map[string][]int16, len(texts))
	for _, t := range texts {
		pcm, err := c.s.phrases.get(ctx, t, c.persona.Voice, c.persona.Loud)
		if err != nil {
			return fmt.Errorf("persona %q phrase %q: %w", c.persona.Name, t, err)
		}
		c.speech[t] = pcm
	}
	return nil
}

// openMedia binds the RTP session towards the offer and builds our answer.
func (c *call) openMedia(off offer) error {
	sess, err := media.NewSession(media.SessionConfig{
		IP: net.ParseIP(c.s.cfg.ListenIP), Ports: c.s.ports, Clock: c.s.clock, Logger: c.log,
	})
	if err != nil {
		return fmt.Errorf("RTP session: %w", err)
	}
	c.sess = sess
	remote := &net.UDPAddr{IP: off.Addr.Addr().AsSlice(), Port: int(off.Addr.Port())}
	var dtmfPT uint8
	if off.HasDTMF {
		dtmfPT = off.DTMFPT
	}
	if err := sess.UpdateRemote(remote, off.Codec, dtmfPT); err != nil {
		return fmt.Errorf("%w: %v", ErrSDP, err)
	}
	c.box = newBoxListener()
	sess.SetInboundSink(c.box)
	sess.OnDTMF(func(ev media.DTMFEvent) {
		c.update(func(l *CallLog) { l.DigitsReceived += string(ev.Digit) })
	})
	if dir := c.s.cfg.RecordDir; dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("record dir: %w", err)
		}
		path := filepath.Join(dir, c.rec.ReceivedAt.UTC().Format("20060102T150405.000")+"-"+fileSafe(c.callID)+".wav")
		r, err := media.CreateRecorder(path)
		if err != nil {
			return fmt.Errorf("recording: %w", err)
		}
		c.recorder = r
		sess.SetRecorder(r)
	}
	local := sess.LocalAddr().AddrPort()
	body, err := buildAnswer(off, local, uint64(c.s.cfg.Now().Unix()))
	if err != nil {
		return fmt.Errorf("SDP answer: %w", err)
	}
	c.mu.Lock()
	c.answer = body
	c.mu.Unlock()
	c.update(func(l *CallLog) { l.Codec, l.RemoteRTP = off.Codec.Name, off.Addr.String() })
	sess.Start()
	return nil
}

// closeMedia stops RTP and the recorder and stores the box speech summary.
func (c *call) closeMedia() {
	if c.sess == nil {
		return
	}
	c.sess.Close()
	var segs int
	var total time.Duration
	if c.box != nil {
		segs, total = c.box.summary()
	}
	var path, recErr string
	if c.recorder != nil {
		if err := c.recorder.Close(); err != nil {
			recErr = "recording: " + err.Error()
			c.log.Error("recording not finished", "err", err)
		} else {
			path = c.recorder.Path()
		}
	}
	c.update(func(l *CallLog) {
		l.BoxSpeechSegments, l.BoxSpeechMs, l.Recording = segs, total.Milliseconds(), path
		if recErr != "" {
			l.Error = strings.TrimPrefix(l.Error+"; "+recErr, "; ")
		}
	})
}

// converse plays the persona on an answered call until either side hangs
// up.
func (c *call) converse() {
	p := c.persona
	var (
		hangupC, gapC, talkC <-chan time.Time
		playing              <-chan struct{}
		turn                 int
		firstEnded           bool
		talkArmed            bool
	)
	maxDur := time.NewTimer(c.s.cfg.MaxCallDuration)
	defer maxDur.Stop()
	if p.HangupAfter > 0 {
		t := time.NewTimer(p.HangupAfter)
		defer t.Stop()
		hangupC = t.C
	}
	gap := time.NewTimer(time.Hour)
	gap.Stop()
	defer gap.Stop()
	talk := time.NewTimer(time.Hour)
	talk.Stop()
	defer talk.Stop()

	say := func(text string, extra ...[]int16) {
		srcs := []media.FrameSource{media.NewPCMSource(c.speech[text])}
		for _, x := range extra {
			srcs = append(srcs, media.NewPCMSource(x))
		}
		playing = c.sess.Play(media.Concat(srcs...))
		c.update(func(l *CallLog) { l.Said = append(l.Said, text) })
		c.log.Info("callee speaks", "text", text)
	}
	if p.Kind == KindVoicemail {
		switch {
		case p.Greeting != "" && p.Beep:
			say(p.Greeting, beep())
		case p.Greeting != "":
			say(p.Greeting)
		case p.Beep:
			playing = c.sess.Play(media.NewPCMSource(beep()))
		}
	}
	speaks := !p.Silent && p.Kind != KindVoicemail
	for {
		select {
		case <-c.dlg.Context().Done():
			c.end(0, ByCaller, EndByeReceived, nil)
			c.log.Info("box hung up")
			return
		case <-c.s.closing:
			c.hangup(EndShutdown)
			return
		case <-hangupC:
			c.hangup(EndByeSent)
			return
		case <-maxDur.C:
			c.hangup(EndMaxDuration)
			return
		case <-playing:
			playing = nil
		case target := <-c.refer:
			if c.transfer(target) {
				return
			}
			playing, gapC, talkC = nil, nil, nil
		case <-gapC:
			gapC = nil
			if turn < len(p.Say) && playing == nil {
				say(p.Say[turn])
				turn++
			}
		case <-talkC:
			talkC = nil
			if turn == 0 && len(p.Say) > 0 {
				say(p.Say[0])
				turn++
			}
		case ev := <-c.box.events:
			switch ev {
			case media.VADSpeechStart:
				if gapC != nil { // the box started again: wait for it
					gap.Stop()
					gapC = nil
				}
				if speaks && p.Talkover && !talkArmed && turn == 0 {
					talkArmed = true
					talk.Reset(max(0, talkoverDelay-media.DefaultVADMinSpeech))
					talkC = talk.C
				}
			case media.VADSpeechEnd:
				if !firstEnded {
					firstEnded = true
					c.sendDigits()
				}
				if speaks && turn < len(p.Say) && playing == nil && talkC == nil {
					gap.Reset(minReplyGap + time.Duration(c.rng.Int64N(int64(maxReplyGap-minReplyGap)+1)))
					gapC = gap.C
				}
			}
		}
	}
}

// sendDigits queues the persona's DTMF digits as RFC 4733 events.
func (c *call) sendDigits() {
	if c.persona.DTMF == "" {
		return
	}
	sent := ""
	for _, d := range c.persona.DTMF {
		if err := c.sess.SendDTMF(d, dtmfDigitLength); err != nil {
			c.log.Error("DTMF digit not sent", "digit", string(d), "err", err)
			break
		}
		sent += string(d)
	}
	c.update(func(l *CallLog) { l.DigitsSent += sent })
	c.log.Info("callee sends DTMF", "digits", len(sent))
}

// hangup sends BYE.
func (c *call) hangup(reason string) {
	c.sess.StopPlay()
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	err := c.dlg.Bye(ctx)
	if err != nil && c.byeReceived.Load() {
		c.end(0, ByCaller, EndByeReceived, nil) // BYEs crossed
		return
	}
	if err != nil {
		c.log.Warn("BYE failed", "err", err)
		err = fmt.Errorf("BYE: %w", err)
	}
	c.end(0, ByCallee, reason, err)
	c.log.Info("callee hung up", "reason", reason)
}

// warning builds a Warning header (RFC 3261 20.43) carrying err's text.
func warning(err error) sip.Header {
	text := strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < ' ' {
			return '\''
		}
		return r
	}, err.Error())
	if len(text) > 200 {
		text = text[:200]
	}
	return sip.NewHeader("Warning", `399 callbox-sim "`+text+`"`)
}

// reasonPhrase returns the usual reason phrase of a failure code.
func reasonPhrase(code int) string {
	switch code {
	case 404:
		return "Not Found"
	case 408:
		return "Request Timeout"
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 500:
		return "Server Internal Error"
	case 503:
		return "Service Unavailable"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	case 604:
		return "Does Not Exist Anywhere"
	}
	return "Call Failed"
}

// fileSafe turns a Call-ID into a file name.
func fileSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '-' || r == '.' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
	if len(s) > 100 {
		s = s[:100]
	}
	if s == "" || s[0] == '.' {
		s = "call" + s
	}
	return s
}
