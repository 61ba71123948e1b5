package media

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// FuzzRTPReceive feeds arbitrary datagrams to the session's receive path
// (the function the RTP read goroutine calls). The first input byte picks
// the source (latched peer or a stranger); every datagram must be counted
// exactly once under one of the receive counters, and the jitter buffer
// must keep producing frames.
func FuzzRTPReceive(f *testing.F) {
	valid := func(pt uint8, seq uint16, payload []byte) []byte {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 7}, Payload: payload}
		b, _ := p.Marshal()
		return b
	}
	f.Add(byte(0), valid(0, 1, make([]byte, 160)))
	f.Add(byte(0), valid(101, 2, []byte{5, 0x8a, 0, 160}))
	f.Add(byte(1), valid(0, 3, make([]byte, 160)))
	f.Add(byte(0), []byte{0x80, 200, 0, 1, 0, 0, 0, 1})
	f.Add(byte(0), []byte{0xa0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 1, 0xff})

	r := newRTPRig(f)
	s := r.session()
	peer := newRTPPeer(f)
	s.SetRemote(peer.addr(), PCMU, 101)
	latched := addrPort(peer.addr())
	stranger := netip.MustParseAddrPort("127.0.0.1:9")
	now := r.now.Now()
	s.handleRTP(valid(0, 0, make([]byte, 160)), latched, now) // latch
	var out [FrameSamples]int16

	f.Fuzz(func(t *testing.T, which byte, data []byte) {
		total := func() uint64 {
			st := s.Stats()
			return st.PacketsReceived + st.Malformed + st.ForeignDropped + st.WrongPayloadType +
				st.NotReady + st.SequenceJumps + st.RTCPReceived + st.RTCPMalformed + st.RTCPForeign
		}
		before := total()
		from := latched
		if which&1 == 1 {
			from = stranger
		}
		now = now.Add(20 * time.Millisecond)
		s.handleRTP(data, from, now)
		if after := total(); after != before+1 {
			t.Fatalf("datagram counted %d times", after-before)
		}
		s.rxMu.Lock()
		st := s.jb.Pop(out[:])
		s.npending = 0
		s.rxMu.Unlock()
		if st < JitterIdle || st > JitterConcealed {
			t.Fatalf("pop status %d", st)
		}
	})
}
