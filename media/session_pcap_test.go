package media

import (
	"encoding/binary"
	"os"
	"testing"
	"time"
)

// rtpPcapPayloads returns the UDP payloads of a classic little-endian
// Ethernet/IPv4 pcap file, like the ones SIPp replays.
func rtpPcapPayloads(t testing.TB, path string) [][]byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("pcap not available: %v", err)
	}
	if len(raw) < 24 || binary.LittleEndian.Uint32(raw) != 0xa1b2c3d4 {
		t.Fatalf("%s: not a little-endian pcap", path)
	}
	linkType := binary.LittleEndian.Uint32(raw[20:])
	var out [][]byte
	for off := 24; off+16 <= len(raw); {
		incl := int(binary.LittleEndian.Uint32(raw[off+8:]))
		off += 16
		if off+incl > len(raw) {
			break
		}
		frame := raw[off : off+incl]
		off += incl
		switch linkType {
		case 1: // Ethernet
			if len(frame) < 14 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 {
				continue
			}
			frame = frame[14:]
		case 113: // Linux cooked
			if len(frame) < 16 {
				continue
			}
			frame = frame[16:]
		default:
			t.Fatalf("%s: link type %d", path, linkType)
		}
		if len(frame) < 20 || frame[0]>>4 != 4 || frame[9] != 17 {
			continue
		}
		ihl := int(frame[0]&0x0f) * 4
		if len(frame) < ihl+8 {
			continue
		}
		udp := frame[ihl:]
		ulen := int(binary.BigEndian.Uint16(udp[4:]))
		if ulen < 8 || ulen > len(udp) {
			continue
		}
		out = append(out, udp[8:ulen])
	}
	return out
}

// TestSessionReplaysSIPpPcaps feeds the RTP SIPp sends (its bundled
// captures of a real G.711 A-law call and of RFC 2833 digits) through a
// session's socket and checks everything is accepted and understood.
func TestSessionReplaysSIPpPcaps(t *testing.T) {
	audio := rtpPcapPayloads(t, "/usr/share/sip-tester/g711a.pcap")
	digit := rtpPcapPayloads(t, "/usr/share/sip-tester/dtmf_2833_7.pcap")
	if len(audio) < 50 || len(digit) < 3 {
		t.Fatalf("pcaps too small: %d audio, %d dtmf packets", len(audio), len(digit))
	}
	r := newRTPRig(t)
	s := r.session()
	peer := newRTPPeer(t)
	evs := make(chan DTMFEvent, 4)
	s.OnDTMF(func(ev DTMFEvent) { evs <- ev })
	s.SetRemote(peer.addr(), PCMA, 101)
	var heard pcmCollector
	s.SetInboundSink(&heard)
	s.Start()
	const frames = 100
	for i, p := range audio[:frames] {
		peer.sendRaw(s.LocalAddr(), p)
		rtpWaitFor(t, "packet", func() bool { return s.Stats().PacketsReceived == uint64(i+1) })
		r.step()
	}
	st := s.Stats()
	if st.Malformed != 0 || st.WrongPayloadType != 0 || st.Lost != 0 {
		t.Fatalf("SIPp audio: %+v", st)
	}
	heard.mu.Lock()
	var energy float64
	for _, v := range heard.callee {
		energy += float64(v) * float64(v)
	}
	n := len(heard.callee)
	heard.mu.Unlock()
	if n != frames*FrameSamples || energy == 0 {
		t.Errorf("heard %d samples with energy %.0f", n, energy)
	}
	// The digit capture is another stream (new SSRC) from the same peer.
	for _, p := range digit {
		peer.sendRaw(s.LocalAddr(), p)
	}
	rtpWaitFor(t, "dtmf packets", func() bool { return s.Stats().PacketsReceived >= uint64(frames+len(digit)) })
	for range 3 {
		r.now.Advance(time.Second) // let a lost end packet be flushed
		r.step()
	}
	select {
	case ev := <-evs:
		if ev.Digit != '7' {
			t.Errorf("digit %q from SIPp capture, want 7", ev.Digit)
		}
	default:
		t.Errorf("no DTMF event from SIPp capture; stats %+v", s.Stats())
	}
}
