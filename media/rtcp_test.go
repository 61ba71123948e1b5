package media

import (
	"errors"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestMarshalReportParsesWithPion(t *testing.T) {
	now := time.Unix(1_700_000_000, 500_000_000)
	si := &senderInfo{ntp: ntpTime(now), rtpTime: 12345, packets: 77, octets: 77 * 160}
	rb := &rtcp.ReceptionReport{SSRC: 0xabcdef01, FractionLost: 64, TotalLost: 5, LastSequenceNumber: 70000, Jitter: 40, LastSenderReport: 0x1234, Delay: 0x5678}
	var buf [512]byte
	for _, tc := range []struct {
		name string
		si   *senderInfo
		rb   *rtcp.ReceptionReport
	}{{"SR+block", si, rb}, {"SR", si, nil}, {"RR+block", nil, rb}, {"RR", nil, nil}} {
		n := marshalReport(buf[:], 0x11223344, tc.si, tc.rb, []byte("callbox@127.0.0.1"))
		if n == 0 || n%4 != 0 {
			t.Fatalf("%s: length %d", tc.name, n)
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			t.Fatalf("%s: pion rejects our packet: %v", tc.name, err)
		}
		if len(pkts) != 2 {
			t.Fatalf("%s: %d packets, want report + SDES", tc.name, len(pkts))
		}
		var reports []rtcp.ReceptionReport
		switch p := pkts[0].(type) {
		case *rtcp.SenderReport:
			if tc.si == nil {
				t.Fatalf("%s: got SR", tc.name)
			}
			if p.SSRC != 0x11223344 || p.NTPTime != si.ntp || p.RTPTime != 12345 || p.PacketCount != 77 || p.OctetCount != 77*160 {
				t.Errorf("%s: SR fields %+v", tc.name, p)
			}
			reports = p.Reports
		case *rtcp.ReceiverReport:
			if tc.si != nil {
				t.Fatalf("%s: got RR", tc.name)
			}
			reports = p.Reports
		default:
			t.Fatalf("%s: first packet %T", tc.name, p)
		}
		if tc.rb != nil && (len(reports) != 1 || reports[0] != *rb) {
			t.Errorf("%s: report blocks %+v, want %+v", tc.name, reports, *rb)
		}
		sdes, ok := pkts[1].(*rtcp.SourceDescription)
		if !ok || len(sdes.Chunks) != 1 || sdes.Chunks[0].Items[0].Text != "callbox@127.0.0.1" {
			t.Errorf("%s: SDES %+v", tc.name, pkts[1])
		}
	}
	if n := marshalReport(buf[:20], 1, si, rb, nil); n != 0 {
		t.Errorf("short buffer: wrote %d", n)
	}
}

func TestSourceStatsLossAndWrap(t *testing.T) {
	var s rtpSourceStats
	seq := uint16(65530)
	s.init(7, seq)
	received := 0
	for i := range 40 {
		if i >= 10 && i < 13 { // lose 3 packets across the wrap
			continue
		}
		if !s.update(seq + uint16(i)) {
			t.Fatalf("packet %d rejected", i)
		}
		received++
	}
	if s.expected() != 40 || s.lost() != 3 || s.received != uint64(received) {
		t.Errorf("expected %d lost %d received %d", s.expected(), s.lost(), s.received)
	}
	if s.extendedMax() != 1<<16+uint32(uint16(seq+39)) {
		t.Errorf("extended max %d: wrap not counted", s.extendedMax())
	}
	rb := s.reportBlock(time.Now())
	if rb.TotalLost != 3 || rb.FractionLost != uint8(3*256/40) {
		t.Errorf("report block %+v", rb)
	}
	// Next interval: no loss.
	for i := 40; i < 60; i++ {
		s.update(seq + uint16(i))
	}
	if rb := s.reportBlock(time.Now()); rb.FractionLost != 0 || rb.TotalLost != 3 {
		t.Errorf("second interval %+v", rb)
	}
	// Duplicate counts as received (lost goes down, RFC 3550).
	s.update(seq + 59)
	if s.lost() != 2 {
		t.Errorf("lost after duplicate = %d", s.lost())
	}
}

func TestSourceStatsRestart(t *testing.T) {
	var s rtpSourceStats
	s.init(1, 100)
	s.update(100)
	s.update(101)
	if s.update(30000) {
		t.Fatal("isolated jump accepted")
	}
	if !s.update(30001) {
		t.Fatal("confirmed restart rejected")
	}
	if s.expected() != 1 || s.lost() != 0 {
		t.Errorf("after restart expected %d lost %d", s.expected(), s.lost())
	}
}

func TestRTCPParseRemoteReport(t *testing.T) {
	const ours = 0x0badcafe
	sent := time.Unix(1_700_000_000, 0)
	now := sent.Add(300 * time.Millisecond)
	sr := rtcp.SenderReport{
		SSRC: 99, NTPTime: ntpTime(sent.Add(-time.Second)),
		Reports: []rtcp.ReceptionReport{
			{SSRC: 12345, FractionLost: 200, TotalLost: 1000}, // about someone else
			{SSRC: ours, FractionLost: 128, TotalLost: 0xffffff, Jitter: 80,
				LastSenderReport: ntpMid(sent), Delay: 65536 / 10}, // 100 ms
		},
	}
	raw, err := rtcp.Marshal([]rtcp.Packet{&sr, &rtcp.Goodbye{Sources: []uint32{99}}})
	if err != nil {
		t.Fatal(err)
	}
	var p rtcpParser
	res, err := p.parse(raw, ours, 8000, now)
	if err != nil {
		t.Fatal(err)
	}
	if !res.haveSR || res.srSSRC != 99 || !res.bye || res.packets != 2 {
		t.Errorf("result %+v", res)
	}
	r := res.report
	if !r.have || r.fractionLost != 0.5 || r.totalLost != -1 || r.jitterMs != 10 {
		t.Errorf("report %+v", r)
	}
	if r.rtt < 195*time.Millisecond || r.rtt > 205*time.Millisecond {
		t.Errorf("rtt %v, want ~200ms", r.rtt)
	}
	// Reusing the parser does not allocate.
	allocs := testing.AllocsPerRun(50, func() { _, _ = p.parse(raw, ours, 8000, now) })
	if allocs != 0 {
		t.Errorf("parse allocates %.1f", allocs)
	}
}

func TestRTCPParseMalformed(t *testing.T) {
	var p rtcpParser
	bad := [][]byte{
		nil,
		{0x80},
		{0x40, 200, 0, 1, 0, 0, 0, 0}, // version 1
		{0x80, 201, 0, 9, 0, 0, 0, 0}, // length past the end
		{0x81, 201, 0, 1, 0, 0, 0, 1}, // RR claims one block, has none
		{0x80, 200, 0, 1, 0, 0, 0, 1}, // SR too short
	}
	for _, b := range bad {
		if _, err := p.parse(b, 1, 8000, time.Now()); !errors.Is(err, ErrMalformedRTCP) {
			t.Errorf("parse(%x) err = %v, want ErrMalformedRTCP", b, err)
		}
	}
}

// FuzzRTCP drives the session's RTCP parse path with arbitrary datagrams.
func FuzzRTCP(f *testing.F) {
	var buf [512]byte
	now := time.Unix(1_700_000_000, 0)
	n := marshalReport(buf[:], 1, &senderInfo{ntp: ntpTime(now), packets: 3}, &rtcp.ReceptionReport{SSRC: 2, TotalLost: 4}, []byte("x"))
	f.Add(append([]byte(nil), buf[:n]...))
	n = marshalReport(buf[:], 1, nil, nil, nil)
	f.Add(append([]byte(nil), buf[:n]...))
	f.Add([]byte{0x80, 203, 0, 1, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		var p rtcpParser
		res, err := p.parse(data, 2, 8000, now)
		if err != nil && !errors.Is(err, ErrMalformedRTCP) {
			t.Fatalf("error %v does not wrap ErrMalformedRTCP", err)
		}
		if err == nil && res.packets == 0 {
			t.Fatal("accepted a datagram with no packets")
		}
		if r := res.report; r.fractionLost < 0 || r.fractionLost >= 1 || r.rtt < 0 {
			t.Fatalf("impossible report %+v", r)
		}
	})
}
