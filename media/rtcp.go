package media

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/pion/rtcp"
)

// ErrMalformedRTCP is wrapped by the RTCP parse errors.
var ErrMalformedRTCP = errors.New("media: malformed RTCP")

// RFC 3550 appendix A.1 parameters.
const (
	maxDropout  = 3000
	maxMisorder = 100
	seqMod      = 1 << 16
)

// ntpEpochOffset is the number of seconds from 1900-01-01 to 1970-01-01.
const ntpEpochOffset = 2208988800

// rtpSourceStats keeps the RFC 3550 reception statistics of one inbound
// source: extended sequence numbers, expected/lost counts and the
// interarrival jitter estimate.
type rtpSourceStats struct {
	ssrc          uint32
	maxSeq        uint16
	cycles        uint32 // shifted count of sequence wraps
	baseSeq       uint32
	badSeq        uint32
	received      uint64
	expectedPrior uint64
	receivedPrior uint64

	haveTransit bool
	transit     int64
	jitter      float64 // timestamp units

	lastSRMid     uint32    // middle 32 bits of the NTP time in the last SR from this source
	lastSRArrival time.Time // when that SR arrived
}

// init starts tracking a source whose first packet has sequence seq.
func (s *rtpSourceStats) init(ssrc uint32, seq uint16) {
	*s = rtpSourceStats{ssrc: ssrc, baseSeq: uint32(seq), maxSeq: seq, badSeq: seqMod + 1}
}

// update accounts for a packet with sequence seq and reports whether it
// belongs to the sequence space being tracked (false for an isolated big
// jump, which RFC 3550 treats as a possible restart needing confirmation).
func (s *rtpSourceStats) update(seq uint16) bool {
	delta := seq - s.maxSeq
	switch {
	case delta < maxDropout:
		if seq < s.maxSeq {
			s.cycles += seqMod // wrapped
		}
		s.maxSeq = seq
	case uint32(delta) <= seqMod-maxMisorder:
		// A very large jump. Two in a row from the same point mean the
		// sender restarted its sequence: start over.
		if uint32(seq) == s.badSeq {
			s.init(s.ssrc, seq)
		} else {
			s.badSeq = (uint32(seq) + 1) & (seqMod - 1)
			return false
		}
	default:
		// duplicate or reordered: counted as received only
	}
	s.received++
	return true
}

func (s *rtpSourceStats) extendedMax() uint32 { return s.cycles + uint32(s.maxSeq) }

func (s *rtpSourceStats) expected() uint64 {
	return uint64(s.extendedMax()) - uint64(s.baseSeq) + 1
}

func (s *rtpSourceStats) lost() int64 {
	return int64(s.expected()) - int64(s.received)
}

// updateJitter runs the RFC 3550 A.8 estimator. arrival is in timestamp
// units on any fixed origin.
func (s *rtpSourceStats) updateJitter(ts uint32, arrival int64) {
	transit := arrival - int64(ts)
	if s.haveTransit {
		d := int64(int32(transit - s.transit)) // timestamps wrap at 2^32
		if d < 0 {
			d = -d
		}
		s.jitter += (float64(d) - s.jitter) / 16
	}
	s.transit, s.haveTransit = transit, true
}

// reportBlock returns the reception report block for this source and
// starts a new reporting interval.
func (s *rtpSourceStats) reportBlock(now time.Time) rtcp.ReceptionReport {
	expected := s.expected()
	expInt := expected - s.expectedPrior
	recInt := s.received - s.receivedPrior
	s.expectedPrior, s.receivedPrior = expected, s.received
	var fraction uint8
	if expInt > 0 && expInt > recInt {
		fraction = uint8((expInt - recInt) << 8 / expInt)
	}
	lost := s.lost()
	lost = min(max(lost, -0x800000), 0x7fffff) // 24-bit signed field
	rb := rtcp.ReceptionReport{
		SSRC:               s.ssrc,
		FractionLost:       fraction,
		TotalLost:          uint32(lost) & 0xffffff,
		LastSequenceNumber: s.extendedMax(),
		Jitter:             uint32(s.jitter),
	}
	if !s.lastSRArrival.IsZero() {
		rb.LastSenderReport = s.lastSRMid
		rb.Delay = uint32(now.Sub(s.lastSRArrival) * 65536 / time.Second)
	}
	return rb
}

// ntpTime converts t to the 64-bit NTP timestamp format.
func ntpTime(t time.Time) uint64 {
	ns := t.UnixNano()
	sec := uint64(ns/1e9) + ntpEpochOffset
	frac := uint64(ns%1e9) << 32 / 1e9
	return sec<<32 | frac
}

// ntpMid returns the middle 32 bits of the NTP timestamp of t, the unit of
// LSR and of round-trip computations (1/65536 s).
func ntpMid(t time.Time) uint32 { return uint32(ntpTime(t) >> 16) }

// senderInfo is what an SR says about our own stream.
type senderInfo struct {
	ntp     uint64
	rtpTime uint32
	packets uint32
	octets  uint32
}

// marshalReport writes a compound RTCP packet into dst: an SR (when si is
// not nil) or an RR, with at most one report block, followed by an SDES
// packet carrying our CNAME. It returns the length written, or 0 when dst
// is too small. It does not allocate.
func marshalReport(dst []byte, ssrc uint32, si *senderInfo, rb *rtcp.ReceptionReport, cname []byte) int {
	cname = cname[:min(len(cname), 255)]
	blocks := 0
	if rb != nil {
		blocks = 1
	}
	first := 8 + 24*blocks
	if si != nil {
		first += 20
	}
	sdesChunk := 4 + 2 + len(cname) + 1 // SSRC, item header, text, END
	sdesChunk = (sdesChunk + 3) &^ 3
	total := first + 4 + sdesChunk
	if len(dst) < total {
		return 0
	}
	b := dst[:total]
	clear(b)

	pt := byte(rtcp.TypeReceiverReport)
	if si != nil {
		pt = byte(rtcp.TypeSenderReport)
	}
	b[0] = 2<<6 | byte(blocks)
	b[1] = pt
	binary.BigEndian.PutUint16(b[2:], uint16(first/4-1))
	binary.BigEndian.PutUint32(b[4:], ssrc)
	off := 8
	if si != nil {
		binary.BigEndian.PutUint64(b[off:], si.ntp)
		binary.BigEndian.PutUint32(b[off+8:], si.rtpTime)
		binary.BigEndian.PutUint32(b[off+12:], si.packets)
		binary.BigEndian.PutUint32(b[off+16:], si.octets)
		off += 20
	}
	if rb != nil {
		binary.BigEndian.PutUint32(b[off:], rb.SSRC)
		binary.BigEndian.PutUint32(b[off+4:], uint32(rb.FractionLost)<<24|rb.TotalLost&0xffffff)
		binary.BigEndian.PutUint32(b[off+8:], rb.LastSequenceNumber)
		binary.BigEndian.PutUint32(b[off+12:], rb.Jitter)
		binary.BigEndian.PutUint32(b[off+16:], rb.LastSenderReport)
		binary.BigEndian.PutUint32(b[off+20:], rb.Delay)
		off += 24
	}

	// SDES with one chunk: SSRC, CNAME item, END, padding to 32 bits.
	b[off] = 2<<6 | 1
	b[off+1] = byte(rtcp.TypeSourceDescription)
	binary.BigEndian.PutUint16(b[off+2:], uint16((4+sdesChunk)/4-1))
	binary.BigEndian.PutUint32(b[off+4:], ssrc)
	b[off+8] = byte(rtcp.SDESCNAME)
	b[off+9] = byte(len(cname))
	copy(b[off+10:], cname)
	return total
}

// remoteReport is what the peer told us about our stream.
type remoteReport struct {
	have         bool
	fractionLost float64
	totalLost    int64
	jitterMs     float64
	rtt          time.Duration
}

// rtcpParser walks compound RTCP packets with reusable pion structures, so
// steady-state parsing does not allocate.
type rtcpParser struct {
	sr rtcp.SenderReport
	rr rtcp.ReceiverReport
}

// rtcpResult collects what one datagram carried.
type rtcpResult struct {
	haveSR  bool
	srSSRC  uint32
	srNTP   uint64
	report  remoteReport
	bye     bool
	packets int
}

// parse decodes one RTCP datagram. ourSSRC selects the report blocks that
// are about our stream; clockRate converts jitter to milliseconds; now is
// the arrival time (for the round-trip time).
func (p *rtcpParser) parse(b []byte, ourSSRC uint32, clockRate int, now time.Time) (rtcpResult, error) {
	var res rtcpResult
	if len(b) < 4 {
		return res, errors.Join(ErrMalformedRTCP, errors.New("shorter than an RTCP header"))
	}
	for len(b) > 0 {
		var h rtcp.Header
		if err := h.Unmarshal(b); err != nil {
			return res, errors.Join(ErrMalformedRTCP, err)
		}
		size := (int(h.Length) + 1) * 4
		if size > len(b) {
			return res, errors.Join(ErrMalformedRTCP, errors.New("length field runs past the datagram"))
		}
		pkt := b[:size]
		b = b[size:]
		res.packets++
		var reports []rtcp.ReceptionReport
		switch h.Type {
		case rtcp.TypeSenderReport:
			p.sr.Reports = p.sr.Reports[:0]
			p.sr.ProfileExtensions = nil
			if err := p.sr.Unmarshal(pkt); err != nil {
				return res, errors.Join(ErrMalformedRTCP, err)
			}
			res.haveSR, res.srSSRC, res.srNTP = true, p.sr.SSRC, p.sr.NTPTime
			reports = p.sr.Reports
		case rtcp.TypeReceiverReport:
			p.rr.Reports = p.rr.Reports[:0]
			p.rr.ProfileExtensions = nil
			if err := p.rr.Unmarshal(pkt); err != nil {
				return res, errors.Join(ErrMalformedRTCP, err)
			}
			reports = p.rr.Reports
		case rtcp.TypeGoodbye:
			res.bye = true
		}
		for i := range reports {
			rb := &reports[i]
			if rb.SSRC != ourSSRC {
				continue
			}
			lost := int64(rb.TotalLost & 0xffffff)
			if lost&0x800000 != 0 {
				lost -= 1 << 24 // sign-extend the 24-bit field
			}
			res.report = remoteReport{
				have:         true,
				fractionLost: float64(rb.FractionLost) / 256,
				totalLost:    lost,
				jitterMs:     float64(rb.Jitter) * 1000 / float64(max(clockRate, 1)),
			}
			if rb.LastSenderReport != 0 {
				rtt := int64(ntpMid(now)) - int64(rb.LastSenderReport) - int64(rb.Delay)
				if rtt = int64(int32(rtt)); rtt >= 0 {
					res.report.rtt = time.Duration(rtt) * time.Second / 65536
				}
			}
		}
	}
	return res, nil
}
