package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestDTMFCodeDigitMapping(t *testing.T) {
	keys := "0123456789*#ABCD"
	for i, k := range keys {
		code, ok := DTMFCode(k)
		if !ok || int(code) != i {
			t.Errorf("DTMFCode(%q) = %d, %v; want %d", k, code, ok, i)
		}
		d, ok := DTMFDigit(uint8(i))
		if !ok || d != k {
			t.Errorf("DTMFDigit(%d) = %q, %v; want %q", i, d, ok, k)
		}
	}
	if c, ok := DTMFCode('b'); !ok || c != 13 {
		t.Errorf("DTMFCode('b') = %d, %v", c, ok)
	}
	for _, bad := range []rune{'E', 'x', ' ', '+', 0, '٣'} {
		if _, ok := DTMFCode(bad); ok {
			t.Errorf("DTMFCode(%q) accepted", bad)
		}
	}
	for _, bad := range []uint8{16, 17, 255} {
		if _, ok := DTMFDigit(bad); ok {
			t.Errorf("DTMFDigit(%d) accepted", bad)
		}
	}
}

func TestDTMFPayloadRoundTrip(t *testing.T) {
	cases := []DTMFPayload{
		{Event: 0, Volume: 10, Duration: 160},
		{Event: 11, End: true, Volume: 63, Duration: 0xffff},
		{Event: 255, End: false, Volume: 0, Duration: 0},
	}
	for _, c := range cases {
		var b [4]byte
		n, err := c.MarshalTo(b[:])
		if err != nil || n != 4 {
			t.Fatalf("MarshalTo(%+v) = %d, %v", c, n, err)
		}
		var got DTMFPayload
		if err := got.Unmarshal(b[:]); err != nil {
			t.Fatal(err)
		}
		if got != c {
			t.Errorf("round trip %+v → %x → %+v", c, b, got)
		}
	}
	// Wire layout from RFC 4733 §2.3: event, E|R|volume, duration.
	var b [4]byte
	DTMFPayload{Event: 1, End: true, Volume: 10, Duration: 0x08c0}.MarshalTo(b[:])
	if want := [4]byte{0x01, 0x8a, 0x08, 0xc0}; b != want {
		t.Errorf("wire bytes %x, want %x", b, want)
	}
}

func TestDTMFPayloadErrors(t *testing.T) {
	var p DTMFPayload
	for _, n := range []int{0, 1, 3} {
		if err := p.Unmarshal(make([]byte, n)); !errors.Is(err, ErrShortDTMF) {
			t.Errorf("Unmarshal(%d bytes) = %v, want ErrShortDTMF", n, err)
		}
	}
	// The reserved bit is ignored.
	if err := p.Unmarshal([]byte{5, 0x40 | 7, 0, 160}); err != nil || p.Volume != 7 || p.End {
		t.Errorf("reserved bit: %+v, %v", p, err)
	}
	if _, err := (DTMFPayload{}).MarshalTo(make([]byte, 3)); !errors.Is(err, ErrDTMFBuffer) {
		t.Errorf("short buffer: %v", err)
	}
	if _, err := (DTMFPayload{Volume: 64}).MarshalTo(make([]byte, 4)); !errors.Is(err, ErrDTMFVolume) {
		t.Errorf("volume 64: %v", err)
	}
}

// pcapUDPPayloads returns the UDP payloads of an Ethernet libpcap file.
func pcapUDPPayloads(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 24 {
		t.Fatalf("%s: short pcap", path)
	}
	var bo binary.ByteOrder
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		bo = binary.LittleEndian
	case 0xd4c3b2a1, 0x4d3cb2a1:
		bo = binary.BigEndian
	default:
		t.Fatalf("%s: not a libpcap file", path)
	}
	if lt := bo.Uint32(data[20:]); lt != 1 {
		t.Fatalf("%s: link type %d, want Ethernet", path, lt)
	}
	var out [][]byte
	for off := 24; off+16 <= len(data); {
		incl := int(bo.Uint32(data[off+8:]))
		off += 16
		if off+incl > len(data) {
			t.Fatalf("%s: truncated record", path)
		}
		frame := data[off : off+incl]
		off += incl
		if len(frame) < 14 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 {
			continue // not IPv4
		}
		ip := frame[14:]
		ihl := int(ip[0]&0x0f) * 4
		if len(ip) < ihl+8 || ip[9] != 17 {
			continue // not UDP
		}
		udp := ip[ihl:]
		ulen := int(binary.BigEndian.Uint16(udp[4:]))
		if ulen < 8 || ulen > len(udp) {
			t.Fatalf("%s: bad UDP length %d", path, ulen)
		}
		out = append(out, udp[8:ulen])
	}
	return out
}

func TestDTMFReceiverSIPpPcaps(t *testing.T) {
	files := map[string]rune{"star": '*', "pound": '#'}
	for d := '0'; d <= '9'; d++ {
		files[string(d)] = d
	}
	for name, want := range files {
		path := filepath.Join("/usr/share/sip-tester", "dtmf_2833_"+name+".pcap")
		if _, err := os.Stat(path); err != nil {
			t.Skipf("SIPp pcaps not installed: %v", err)
		}
		t.Run(name, func(t *testing.T) {
			var r DTMFReceiver
			var got []DTMFEvent
			packets := pcapUDPPayloads(t, path)
			if len(packets) == 0 {
				t.Fatal("no UDP packets")
			}
			for _, udp := range packets {
				var pkt rtp.Packet
				if err := pkt.Unmarshal(udp); err != nil {
					t.Fatalf("RTP: %v", err)
				}
				ev, ok, err := r.Handle(pkt.Timestamp, pkt.Payload)
				if err != nil {
					t.Fatalf("Handle: %v", err)
				}
				if ok {
					got = append(got, ev)
				}
			}
			if _, ok := r.Flush(); ok {
				t.Error("Flush reported an event after the end packets")
			}
			if len(got) != 1 {
				t.Fatalf("got %d events %v, want exactly one", len(got), got)
			}
			if got[0].Digit != want || got[0].Source != DTMFSourceRFC4733 {
				t.Errorf("event %v, want digit %q from rfc4733", got[0], want)
			}
			// The capture's end packets carry duration 0x08c0 = 2240 samples.
			if got[0].Duration != 280*time.Millisecond {
				t.Errorf("duration %s, want 280ms", got[0].Duration)
			}
		})
	}
}

func dtmfPkt(ev uint8, end bool, dur uint16) []byte {
	var b [4]byte
	DTMFPayload{Event: ev, End: end, Volume: 10, Duration: dur}.MarshalTo(b[:])
	return b[:]
}

func TestDTMFReceiverLostEndAndStale(t *testing.T) {
	var r DTMFReceiver
	// Event '5' at ts 1000 whose end packets are all lost.
	for i := uint16(1); i <= 4; i++ {
		if _, ok, err := r.Handle(1000, dtmfPkt(5, false, i*160)); ok || err != nil {
			t.Fatalf("mid-event packet reported: %v %v", ok, err)
		}
	}
	// Next event '7' starts: '5' is reported with its last duration.
	ev, ok, err := r.Handle(5000, dtmfPkt(7, false, 160))
	if err != nil || !ok || ev.Digit != '5' || ev.Duration != 80*time.Millisecond {
		t.Fatalf("lost end: %v %v %v", ev, ok, err)
	}
	// A late packet of '5' is ignored.
	if _, ok, _ := r.Handle(1000, dtmfPkt(5, true, 800)); ok {
		t.Fatal("stale packet of an older event reported")
	}
	ev, ok, _ = r.Handle(5000, dtmfPkt(7, true, 640))
	if !ok || ev.Digit != '7' || ev.Duration != 80*time.Millisecond {
		t.Fatalf("end of 7: %v %v", ev, ok)
	}
	for range 2 {
		if _, ok, _ := r.Handle(5000, dtmfPkt(7, true, 640)); ok {
			t.Fatal("retransmitted end reported twice")
		}
	}
	// Lost end followed by a lone end packet of the next event: both come out.
	r.Handle(9000, dtmfPkt(1, false, 160))
	ev, ok, _ = r.Handle(12000, dtmfPkt(2, true, 800))
	if !ok || ev.Digit != '1' {
		t.Fatalf("lost end before lone end: %v %v", ev, ok)
	}
	ev, ok, _ = r.Handle(12000, dtmfPkt(2, true, 800))
	if !ok || ev.Digit != '2' {
		t.Fatalf("lone end on retransmission: %v %v", ev, ok)
	}
	// Timestamp wrap-around counts as newer.
	r = DTMFReceiver{}
	r.Handle(0xffffff00, dtmfPkt(3, true, 320))
	if ev, ok, _ := r.Handle(0x100, dtmfPkt(4, true, 320)); !ok || ev.Digit != '4' {
		t.Fatalf("after wrap: %v %v", ev, ok)
	}
	// Flush reports an event whose end never came.
	r.Handle(0x2000, dtmfPkt(9, false, 160))
	if ev, ok := r.Flush(); !ok || ev.Digit != '9' {
		t.Fatalf("Flush: %v %v", ev, ok)
	}
	if _, ok := r.Flush(); ok {
		t.Fatal("Flush twice")
	}
}

func TestDTMFReceiverErrors(t *testing.T) {
	var r DTMFReceiver
	if _, _, err := r.Handle(1, []byte{1, 2}); !errors.Is(err, ErrShortDTMF) {
		t.Errorf("short: %v", err)
	}
	if _, _, err := r.Handle(1, dtmfPkt(16, true, 160)); !errors.Is(err, ErrNotDTMF) {
		t.Errorf("flash: %v", err)
	}
	// The ignored non-DTMF event did not disturb state.
	if ev, ok, err := r.Handle(1, dtmfPkt(3, true, 160)); !ok || err != nil || ev.Digit != '3' {
		t.Errorf("after flash: %v %v %v", ev, ok, err)
	}
}

func TestDTMFGeneratorToReceiver(t *testing.T) {
	var g DTMFGenerator
	digits := "0123456789*#ABCD"
	for _, d := range digits {
		if err := g.Start(d, 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	var r DTMFReceiver
	var got []rune
	var ts, eventTS uint32
	var payload [8]byte
	var lastEnd int = -1000
	tick, packets, endsInEvent := 0, 0, 0
	for ; tick < 2000 && g.Pending(); tick++ {
		ts += FrameSamples
		n, first, ok := g.Next(payload[:])
		if !ok {
			continue
		}
		if n != 4 {
			t.Fatalf("n = %d", n)
		}
		var p DTMFPayload
		p.Unmarshal(payload[:n])
		if first {
			if gap := tick - lastEnd - 1; gap < 2 {
				t.Fatalf("gap before event at tick %d is %d ticks (< 40 ms)", tick, gap)
			}
			eventTS, packets, endsInEvent = ts, 0, 0
			if p.End {
				t.Fatal("first packet is an end packet for a 100 ms press")
			}
		}
		packets++
		if want := uint16(min(packets, 5) * FrameSamples); p.Duration != want {
			t.Fatalf("packet %d duration %d, want %d", packets, p.Duration, want)
		}
		if p.End {
			endsInEvent++
			lastEnd = tick
		}
		if endsInEvent > 3 {
			t.Fatal("more than 3 end packets")
		}
		ev, ok, err := r.Handle(eventTS, payload[:n])
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			if ev.Duration != 100*time.Millisecond {
				t.Errorf("digit %q duration %s", ev.Digit, ev.Duration)
			}
			got = append(got, ev.Digit)
		}
	}
	if string(got) != digits {
		t.Fatalf("received %q, want %q", string(got), digits)
	}
	if _, _, ok := g.Next(payload[:]); ok {
		t.Fatal("generator not idle")
	}
}

func TestDTMFGeneratorErrors(t *testing.T) {
	var g DTMFGenerator
	if err := g.Start('x', 100*time.Millisecond); !errors.Is(err, ErrInvalidDigit) {
		t.Errorf("bad digit: %v", err)
	}
	for _, d := range []time.Duration{0, 39 * time.Millisecond, 9 * time.Second} {
		if err := g.Start('1', d); !errors.Is(err, ErrDTMFDuration) {
			t.Errorf("duration %s: %v", d, err)
		}
	}
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = g.Start('1', 40*time.Millisecond)
	}
	if !errors.Is(err, ErrDTMFQueueFull) {
		t.Errorf("queue overflow: %v", err)
	}
	if _, _, ok := g.Next(make([]byte, 3)); ok {
		t.Error("Next wrote into a 3-byte buffer")
	}
	if err := g.SetVolume(64); !errors.Is(err, ErrDTMFVolume) {
		t.Errorf("volume: %v", err)
	}
	g.Clear()
	if g.Pending() {
		t.Fatal("Pending after Clear")
	}
	g.SetVolume(0)
	g.Start('1', 40*time.Millisecond)
	var b [4]byte
	if _, first, ok := g.Next(b[:]); !ok || !first || b[1]&0x3f != 0 {
		t.Errorf("after Clear: ok=%v first=%v volume=%d", ok, first, b[1]&0x3f)
	}
}

func TestDTMFGeneratorNoAlloc(t *testing.T) {
	var g DTMFGenerator
	var b [4]byte
	allocs := testing.AllocsPerRun(200, func() {
		if !g.Pending() {
			g.Start('5', 200*time.Millisecond)
		}
		g.Next(b[:])
	})
	if allocs != 0 {
		t.Errorf("%v allocations per tick", allocs)
	}
	var r DTMFReceiver
	p := dtmfPkt(5, true, 160)
	var ts uint32
	allocs = testing.AllocsPerRun(200, func() {
		ts += 800
		r.Handle(ts, p)
	})
	if allocs != 0 {
		t.Errorf("receiver: %v allocations per packet", allocs)
	}
}

func FuzzDTMFPayload(f *testing.F) {
	f.Add([]byte{0x01, 0x8a, 0x08, 0xc0}, uint32(0x33e0))
	f.Add([]byte{0x0b, 0x0a, 0x00, 0x00}, uint32(0))
	f.Add([]byte{0x10, 0xff}, uint32(7))
	f.Fuzz(func(t *testing.T, b []byte, ts uint32) {
		var p DTMFPayload
		err := p.Unmarshal(b)
		if len(b) < 4 {
			if !errors.Is(err, ErrShortDTMF) {
				t.Fatalf("short payload: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var out [4]byte
		if _, err := p.MarshalTo(out[:]); err != nil {
			t.Fatal(err)
		}
		if out[0] != b[0] || out[1] != b[1]&^0x40 || out[2] != b[2] || out[3] != b[3] {
			t.Fatalf("re-marshal %x != %x", out, b[:4])
		}
		var r DTMFReceiver
		for i := range 5 {
			ev, ok, err := r.Handle(ts+uint32(i/3), b)
			if ok {
				if _, valid := DTMFCode(ev.Digit); !valid || err != nil {
					t.Fatalf("bad event %v %v", ev, err)
				}
			}
		}
		_ = fmt.Sprint(p)
	})
}
