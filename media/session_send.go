package media

import (
	"errors"
	"net/netip"
	"time"

	"github.com/pion/rtcp"
)

// errBadSource stops a FrameSource that reported an impossible count.
var errBadSource = errors.New("media: frame source returned an invalid sample count")

// maxGapTicks bounds how many missed clock ticks are reflected in the RTP
// timestamp (beyond that the clock was stopped, not late).
const maxGapTicks = 500

// dtmfFlushAfter is how long after the last telephone-event packet an
// event whose end packets were lost is reported anyway.
const dtmfFlushAfter = 500 * time.Millisecond

// Tick runs one 20 ms media step; the Clock calls it. It sends one RTP
// packet (telephone-event, prompt audio or silence) unless the direction
// forbids sending, pops one frame of callee audio from the jitter buffer
// for the recorder and the inbound sink, runs in-band DTMF detection,
// sends an RTCP report when due, and finally delivers DTMF events.
func (s *Session) Tick(now time.Time) {
	var events [dtmfPendingLen + 2]DTMFEvent
	n := s.tick(now, &events)
	if n == 0 {
		return
	}
	s.mu.Lock()
	fn, closed := s.onDTMF, s.closed
	s.mu.Unlock()
	if fn == nil || closed {
		return
	}
	for _, ev := range events[:n] {
		s.dtmfDelivered.Add(1)
		fn(ev)
	}
}

// outKind is what the box sends on a tick.
type outKind int

const (
	outNone   outKind = iota // nothing (hold, no remote)
	outSilent                // encoded silence
	outAudio                 // pcmOut (prompt or in-band tone)
	outEvent                 // RFC 4733 payload in s.payload
)

func (s *Session) tick(now time.Time, events *[dtmfPendingLen + 2]DTMFEvent) int {
	s.tickMu.Lock()
	defer s.tickMu.Unlock()

	// Advance the media timeline; missed clock ticks still pass time.
	if !s.lastTickAt.IsZero() {
		if gap := int64(now.Sub(s.lastTickAt) / s.period); gap > 1 && gap <= maxGapTicks {
			s.ts += uint32(gap-1) * FrameSamples
		}
	}
	s.lastTickAt = now

	s.mu.Lock()
	if s.closed || !s.started {
		s.mu.Unlock()
		return 0
	}
	codec, dtmfPT, dir := s.codec, s.dtmfPT, s.dir
	recorder, inbound := s.recorder, s.inbound
	s.rxMu.Lock()
	dest := s.latched
	s.rxMu.Unlock()
	if !dest.IsValid() {
		dest = s.sdpRemote
	}
	kind := outNone
	eventLen, eventFirst := 0, false
	var p *playback
	if dir.sends() && codec.supported() && dest.IsValid() {
		kind = outSilent
		if dtmfPT != 0 {
			if n, first, ok := s.gen.Next(s.payload[:]); ok && n > 0 && n <= len(s.payload) {
				kind, eventLen, eventFirst = outEvent, n, first
			}
		}
		if kind == outSilent {
			if n, err := s.tone.ReadFrame(s.pcmOut[:]); err == nil && n > 0 && n <= FrameSamples {
				clear(s.pcmOut[n:])
				kind = outAudio
			}
		}
		if kind == outSilent && s.play != nil {
			p = s.play
			s.reading = p
		}
	}
	s.mu.Unlock()

	if p != nil {
		kind = s.readPrompt(p, kind)
	}

	box := s.pcmBox[:]
	sent := false
	switch kind {
	case outAudio:
		box = s.pcmOut[:]
		sent = s.sendAudio(codec, box, dest)
	case outSilent:
		sent = s.sendAudio(codec, box, dest)
	case outEvent:
		if eventFirst {
			s.eventTS = s.ts
		}
		sent = s.send(dtmfPT, eventFirst, s.eventTS, s.payload[:eventLen], dest, true)
	}
	if kind == outNone {
		s.needMarker = true // the next packet starts a talkspurt
	}
	s.notePacing(sent)
	s.ts += FrameSamples

	// Callee side: jitter buffer playout and queued RFC 4733 events.
	s.rxMu.Lock()
	s.jb.Pop(s.pcmIn[:])
	nev := copy(events[:], s.pending[:s.npending])
	s.npending = 0
	if s.dtmfOpen && s.now().Sub(s.dtmfLastAt) > dtmfFlushAfter {
		// The end packets of an event never came: report it anyway.
		s.dtmfOpen = false
		if ev, ok := s.dtmfRx.Flush(); ok {
			events[nev] = ev
			nev++
		}
	}
	rxDTMFPT := s.rxDTMFPT
	s.rxMu.Unlock()

	if rxDTMFPT == 0 && s.inband != nil {
		if ev, ok := s.inband.Process(s.pcmIn[:]); ok {
			events[nev] = ev
			nev++
		}
	}
	if recorder != nil {
		if err := recorder.WriteStereo(s.pcmIn[:], box); err != nil {
			s.sinkError("recorder", err)
		}
	}
	if inbound != nil {
		if err := inbound.WriteFrame(s.pcmIn[:]); err != nil {
			s.sinkError("inbound sink", err)
		}
	}

	s.rtcpDue--
	if s.rtcpDue <= 0 {
		s.rtcpDue = int(5 * time.Second / s.period)
		s.sendReport(now, dest)
	}
	return nev
}

// readPrompt reads one frame from the current prompt outside the session
// lock and settles the prompt's state afterwards.
func (s *Session) readPrompt(p *playback, kind outKind) outKind {
	n, err := p.src.ReadFrame(s.pcmOut[:])
	if n < 0 || n > FrameSamples {
		s.log.Error("prompt source returned an impossible sample count; stopping it", "n", n)
		n, err = 0, errBadSource
	}
	if n > 0 {
		clear(s.pcmOut[n:])
		kind = outAudio
	}
	s.mu.Lock()
	s.reading = nil
	if err != nil && s.play == p {
		s.play = nil
	}
	if (err != nil || s.play != p) && !p.closed {
		p.closed = true
		close(p.done)
	}
	s.mu.Unlock()
	return kind
}

// sendAudio encodes pcm and sends it.
func (s *Session) sendAudio(codec Codec, pcm []int16, dest netip.AddrPort) bool {
	n := codec.Encode(s.payload[:], pcm)
	marker := s.needMarker
	s.needMarker = false
	return s.send(codec.PayloadType, marker, s.ts, s.payload[:n], dest, false)
}

// send marshals one RTP packet into the preallocated buffer and writes it.
func (s *Session) send(pt uint8, marker bool, ts uint32, payload []byte, dest netip.AddrPort, event bool) bool {
	s.seq++
	h := &s.txPkt.Header
	h.Version = 2
	h.PayloadType = pt
	h.Marker = marker
	h.SequenceNumber = s.seq
	h.Timestamp = ts
	h.SSRC = s.ssrc
	s.txPkt.Payload = payload
	n, err := s.txPkt.MarshalTo(s.pktBuf[:])
	if err != nil {
		s.log.Error("marshal RTP", "err", err)
		return false
	}
	if _, err := s.rtpConn.WriteToUDPAddrPort(s.pktBuf[:n], dest); err != nil {
		s.statMu.Lock()
		s.tx.sendErrors++
		first := s.tx.sendErrors == 1 || s.tx.sendErrors%1000 == 0
		s.statMu.Unlock()
		if first {
			s.log.Warn("RTP send failed", "remote", dest.String(), "err", err)
		}
		return false
	}
	s.statMu.Lock()
	s.tx.packets++
	s.tx.bytes += uint64(len(payload))
	if event {
		s.tx.dtmf++
	}
	s.statMu.Unlock()
	return true
}

// notePacing records the deviation of the real interval between two
// consecutive sends from the clock period.
func (s *Session) notePacing(sent bool) {
	if !sent {
		s.prevSent = false
		return
	}
	at := s.now()
	if s.prevSent {
		s.statMu.Lock()
		s.hist.Add(at.Sub(s.lastSendAt) - s.period)
		s.statMu.Unlock()
	}
	s.prevSent, s.lastSendAt = true, at
}

func (s *Session) sinkError(which string, err error) {
	s.statMu.Lock()
	s.tx.sinkErrors++
	s.statMu.Unlock()
	if !s.sinkErrLogged {
		s.sinkErrLogged = true
		s.log.Error("audio sink failed; further errors are only counted", "sink", which, "err", err)
	}
}

// sendReport sends an SR (or an RR if we never sent) plus SDES to the
// peer's RTCP address. Called from tick with tickMu held.
func (s *Session) sendReport(now time.Time, rtpDest netip.AddrPort) {
	s.rxMu.Lock()
	dest := s.rtcpLatched
	if !dest.IsValid() && rtpDest.IsValid() && rtpDest.Port() < 65535 {
		dest = netip.AddrPortFrom(rtpDest.Addr(), rtpDest.Port()+1)
	}
	var rb rtcp.ReceptionReport
	haveRB := s.haveSrc && s.src.received > 0
	if haveRB {
		rb = s.src.reportBlock(now)
	}
	s.rxMu.Unlock()
	if !dest.IsValid() {
		return
	}
	var si *senderInfo
	s.statMu.Lock()
	info := senderInfo{ntp: ntpTime(now), rtpTime: s.ts, packets: uint32(s.tx.packets), octets: uint32(s.tx.bytes)}
	s.statMu.Unlock()
	if info.packets > 0 {
		si = &info // we are a sender: SR, else RR
	}
	var rbp *rtcp.ReceptionReport
	if haveRB {
		rbp = &rb
	}
	n := marshalReport(s.rtcpBuf[:], s.ssrc, si, rbp, s.cname)
	if n == 0 {
		return
	}
	if _, err := s.rtcpConn.WriteToUDPAddrPort(s.rtcpBuf[:n], dest); err != nil {
		s.log.Debug("RTCP send failed", "remote", dest.String(), "err", err)
		return
	}
	s.statMu.Lock()
	s.tx.rtcp++
	s.statMu.Unlock()
}
