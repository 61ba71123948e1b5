package media

import (
	"errors"
	"net/netip"
	"time"
)

// maxDrainPerTick bounds the datagrams read from one socket per drain, so
// a flood on one port cannot stall the worker's other sessions; the rest
// waits for the next tick (or overflows the socket buffer and is dropped
// by the kernel).
const maxDrainPerTick = 8 * rxBatchLen

// drainLocked reads every datagram waiting on the RTP socket (and on the
// RTCP socket when rtcp is set) without blocking and processes it.
// now is the time of the drain; with kernel timestamps each datagram's
// arrival is placed back at the moment the kernel queued it. Called with
// rxMu held.
func (s *Session) drainLocked(now time.Time, rtcp bool) {
	s.drainSocketLocked(s.rtpSock, now, false)
	if rtcp {
		s.drainSocketLocked(s.rtcpSock, now, true)
	}
}

func (s *Session) drainSocketLocked(u *udpSocket, now time.Time, isRTCP bool) {
	for read := 0; read < maxDrainPerTick; {
		n, err := u.recvBatch(&s.rx)
		if err != nil {
			if !errors.Is(err, errSocketClosed) {
				s.rxErrs++
				if s.rxErrs == 1 || s.rxErrs%1000 == 0 {
					s.log.Warn("RTP/RTCP receive error", "port", u.port, "err", err, "count", s.rxErrs)
				}
			}
			return
		}
		for i := range n {
			d := s.rx.datagram(i)
			at := now
			if s.kernelTS && !d.kernelAt.IsZero() {
				// Keep now's monotonic reading: step back by the age.
				if age := now.Sub(d.kernelAt); age > 0 && age < time.Second {
					at = now.Add(-age)
				}
			}
			b := d.b
			if d.truncated {
				b = s.rx.bufs[i][:rxBufSize] // full buffer: handled as truncated
			}
			if isRTCP {
				s.handleRTCPLocked(b, d.from, at)
			} else {
				s.handleRTPLocked(b, d.from, at)
			}
		}
		read += n
		if n < rxBatchLen {
			return
		}
	}
}

// handleRTP processes one datagram received on the RTP socket: validation,
// source latching, payload type filtering, RFC 3550 statistics, and then
// either the DTMF receiver or decoding into the jitter buffer. It never
// keeps a reference to b.
func (s *Session) handleRTP(b []byte, from netip.AddrPort, now time.Time) {
	s.rxMu.Lock()
	defer s.rxMu.Unlock()
	s.handleRTPLocked(b, from, now)
}

// handleRTPLocked is handleRTP with rxMu held.
func (s *Session) handleRTPLocked(b []byte, from netip.AddrPort, now time.Time) {
	if rtcpType(b) {
		s.handleRTCPLocked(b, from, now)
		return
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	c := &s.rxCounters
	if len(b) >= rxBufSize {
		c.malformed++ // filled the buffer: probably truncated
		return
	}
	pkt := &s.rxPkt
	if err := pkt.Unmarshal(b); err != nil || pkt.Version != 2 {
		c.malformed++
		if c.malformed == 1 || c.malformed%1000 == 0 {
			s.log.Debug("malformed RTP dropped", "from", from.String(), "len", len(b), "count", c.malformed)
		}
		return
	}
	if !s.rxReady {
		c.notReady++
		return
	}
	if s.latched.IsValid() && from != s.latched {
		c.foreign++
		if c.foreign == 1 || c.foreign%1000 == 0 {
			s.log.Warn("RTP from foreign source dropped", "from", from.String(), "latched", s.latched.String(), "count", c.foreign)
		}
		return
	}
	pt := pkt.PayloadType
	isDTMF := s.rxDTMFPT != 0 && pt == s.rxDTMFPT
	if pt != s.rxCodec.PayloadType && !isDTMF {
		c.wrongPT++
		return
	}
	if !s.latched.IsValid() {
		s.latched = from
		s.log.Info("RTP source latched", "from", from.String())
	}
	if !s.haveSrc || pkt.SSRC != s.src.ssrc {
		if s.haveSrc {
			s.log.Info("remote SSRC changed", "from_ssrc", s.src.ssrc, "to_ssrc", pkt.SSRC)
		}
		s.src.init(pkt.SSRC, pkt.SequenceNumber)
		s.haveSrc = true
		s.dtmfRx = DTMFReceiver{}
	}
	if !s.src.update(pkt.SequenceNumber) {
		c.seqJumps++ // isolated sequence jump: wait for confirmation (RFC 3550 A.1)
		return
	}
	c.packets++
	c.bytes += uint64(len(pkt.Payload))

	if isDTMF {
		s.dtmfOpen, s.dtmfLastAt = true, now
		ev, ok, err := s.dtmfRx.Handle(pkt.Timestamp, pkt.Payload)
		if err != nil {
			c.dtmfErrors++
			return
		}
		if ok {
			if s.npending == len(s.pending) {
				c.dtmfDropped++
				return
			}
			s.pending[s.npending] = ev
			s.npending++
		}
		return
	}
	if s.epoch.IsZero() {
		s.epoch = now
	}
	arrival := int64(now.Sub(s.epoch)) * int64(s.rxCodec.ClockRate) / int64(time.Second)
	s.src.updateJitter(pkt.Timestamp, arrival)
	n := s.rxCodec.Decode(s.decodeBuf, pkt.Payload)
	s.jb.Push(pkt.SSRC, pkt.Timestamp, pkt.Marker, s.decodeBuf[:n], now)
}

// handleRTCP processes one RTCP datagram: it must come from the remote's
// IP, then SR/RR report blocks about our stream update the remote-reported
// loss, jitter and round-trip time.
func (s *Session) handleRTCP(b []byte, from netip.AddrPort, now time.Time) {
	s.rxMu.Lock()
	defer s.rxMu.Unlock()
	s.handleRTCPLocked(b, from, now)
}

// handleRTCPLocked is handleRTCP with rxMu held.
func (s *Session) handleRTCPLocked(b []byte, from netip.AddrPort, now time.Time) {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	c := &s.rxCounters
	switch {
	case s.rtcpLatched.IsValid():
		if from != s.rtcpLatched {
			c.rtcpForeign++
			return
		}
	case s.latched.IsValid():
		if from.Addr() != s.latched.Addr() {
			c.rtcpForeign++
			return
		}
	case s.rxSDP.IsValid():
		if from.Addr() != s.rxSDP.Addr() {
			c.rtcpForeign++
			return
		}
	default:
		c.rtcpForeign++ // no idea who the peer is yet
		return
	}
	clockRate := s.rxCodec.ClockRate
	res, err := s.rtcpIn.parse(b, s.ssrc, clockRate, now)
	if err != nil {
		c.rtcpMalformed++
		return
	}
	c.rtcpReceived++
	if !s.rtcpLatched.IsValid() && s.latched.IsValid() {
		s.rtcpLatched = from
	}
	if res.haveSR && s.haveSrc && res.srSSRC == s.src.ssrc {
		s.src.lastSRMid = uint32(res.srNTP >> 16)
		s.src.lastSRArrival = now
	}
	if res.report.have {
		s.remote = res.report
	}
	if res.bye {
		s.log.Info("remote sent RTCP BYE")
	}
}
