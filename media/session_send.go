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

// Tick runs one 20 ms media step. It sends one RTP packet
// (telephone-event, prompt audio or silence) unless the direction forbids
// sending, drains the sockets, pops one frame of callee audio from the
// jitter buffer for the recorder and the inbound sink, runs in-band DTMF
// detection, sends an RTCP report when due, and finally delivers DTMF
// events.
//
// The Clock does not call Tick but its two halves, tickSend for every
// session of a worker's shard and then tickRest for each, so that when a
// session's packet leaves within the tick does not depend on how much
// receive, recording or ASR work the sessions before it had.
func (s *Session) Tick(now time.Time) {
	s.tickSend(now)
	s.tickRest(now)
}

// rtcpDrainEvery is how often (in ticks) the RTCP socket is drained; RTCP
// arrives every few seconds and its arrival time comes from the kernel
// timestamp, so reading it late costs nothing but saves a system call per
// session and tick.
const rtcpDrainEvery = 8

// tickRest is the second half of Tick: receive, playout, recording, RTCP
// and DTMF delivery. It does nothing unless tickSend ran before it.
func (s *Session) tickRest(now time.Time) {
	var events [dtmfPendingLen + 2]DTMFEvent
	n := s.rest(now, &events)
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

// tickSend is the time-critical first half of Tick: it decides what the
// box says this tick, reads the prompt and sends the RTP packet.
func (s *Session) tickSend(now time.Time) {
	s.tickMu.Lock()
	defer s.tickMu.Unlock()
	s.half.pending = false

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
		return
	}
	codec, dtmfPT, dir := s.codec, s.dtmfPT, s.dir
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

	sent := false
	switch kind {
	case outAudio:
		sent = s.sendAudio(codec, s.pcmOut[:], dest)
	case outSilent:
		sent = s.sendAudio(codec, s.pcmBox[:], dest)
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
	s.half = halfTick{pending: true, boxAudio: kind == outAudio, dest: dest}
}

// rest does tickRest's work under the tick lock and returns the number of
// DTMF events to deliver.
func (s *Session) rest(now time.Time, events *[dtmfPendingLen + 2]DTMFEvent) int {
	s.tickMu.Lock()
	defer s.tickMu.Unlock()
	h := s.half
	if !h.pending {
		return 0
	}
	s.half.pending = false
	s.mu.Lock()
	if s.closed || !s.started {
		s.mu.Unlock()
		return 0
	}
	recorder, inbound := s.recorder, s.inbound
	s.mu.Unlock()
	box := s.pcmBox[:]
	if h.boxAudio {
		box = s.pcmOut[:]
	}
	s.tickCount++

	// Callee side: receive, jitter buffer playout and queued RFC 4733
	// events.
	s.rxMu.Lock()
	s.drainLocked(s.now(), s.tickCount%rtcpDrainEvery == uint64(s.ssrc%rtcpDrainEvery))
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
		s.sendReport(now, h.dest)
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
	s.rtpSock.setDest(&s.dstRTP, dest) // an unusable address fails in sendTo
	if err := s.rtpSock.sendTo(s.pktBuf[:n], &s.dstRTP); err != nil {
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
	s.rtcpSock.setDest(&s.dstRTCP, dest)
	if err := s.rtcpSock.sendTo(s.rtcpBuf[:n], &s.dstRTCP); err != nil {
		s.log.Debug("RTCP send failed", "remote", dest.String(), "err", err)
		return
	}
	s.statMu.Lock()
	s.tx.rtcp++
	s.statMu.Unlock()
}
