package media

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
)

func TestSessionAudioRoundTrip(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		t.Run(c.Name, func(t *testing.T) {
			r := newRTPRig(t)
			a, b := r.pair(c, 0)
			var heard pcmCollector // b's inbound audio
			var rec pcmCollector   // a's recorder
			b.SetInboundSink(&heard)
			a.SetRecorder(&rec)
			src, ref := sineSource(40)
			done := a.Play(src)
			r.stepDelivered(50, a, b, nil)
			select {
			case <-done:
			default:
				t.Fatal("Play channel still open after the source returned io.EOF")
			}
			heard.mu.Lock()
			got := append([]int16(nil), heard.callee...)
			heard.mu.Unlock()
			if corr := bestCorrelation(ref[:30*FrameSamples], got, 10*FrameSamples); corr < 0.9 {
				t.Errorf("round trip correlation %.3f, want > 0.9", corr)
			}
			// The recorder's box channel holds exactly what was played.
			rec.mu.Lock()
			box := append([]int16(nil), rec.box...)
			rec.mu.Unlock()
			if corr := bestCorrelation(ref[:30*FrameSamples], box, 2*FrameSamples); corr < 0.999 {
				t.Errorf("recorded box channel correlation %.3f", corr)
			}
			if len(rec.box) != len(rec.callee) || len(rec.box) != 50*FrameSamples {
				t.Errorf("recorder got %d/%d samples, want %d each", len(rec.callee), len(rec.box), 50*FrameSamples)
			}
			sa, sb := a.Stats(), b.Stats()
			if sa.PacketsSent != 50 || sb.PacketsReceived != 50 || sb.Lost != 0 || sb.Concealed != 0 || sb.Late != 0 {
				t.Errorf("stats a %+v b %+v", sa, sb)
			}
			if sb.Codec != c || sb.RemoteAddr != addrPort(a.LocalAddr()).String() {
				t.Errorf("b codec %v remote %q", sb.Codec, sb.RemoteAddr)
			}
		})
	}
}

func TestSessionSourceLocking(t *testing.T) {
	r := newRTPRig(t)
	a, b := r.pair(PCMU, 0)
	r.stepDelivered(3, a, b, nil) // b latches a
	rogue := newRTPPeer(t)
	for range 7 {
		rogue.sendAudio(b.LocalAddr(), 0, 0xdead)
	}
	rtpWaitFor(t, "foreign packets counted", func() bool { return b.Stats().ForeignDropped == 7 })
	r.stepDelivered(5, a, b, nil)
	sb := b.Stats()
	if sb.PacketsReceived != 8 || sb.RemoteSSRC != a.SSRC() {
		t.Errorf("locked peer: received %d from %08x, want 8 from %08x", sb.PacketsReceived, sb.RemoteSSRC, a.SSRC())
	}
	// A re-INVITE with a new address resets the latch: the next valid
	// packet (from the new peer) is learned and a becomes foreign.
	b.SetRemote(rogue.addr(), PCMU, 0)
	rogue.sendAudio(b.LocalAddr(), 0, 0xdead)
	rtpWaitFor(t, "relatch", func() bool { return b.Stats().RemoteSSRC == 0xdead })
	r.step()
	rtpWaitFor(t, "a now foreign", func() bool { return b.Stats().ForeignDropped == 8 })
	if got := b.Stats().RemoteAddr; got != addrPort(rogue.addr()).String() {
		t.Errorf("latched %q, want the new peer", got)
	}
	// b now sends to the newly latched address.
	if p := rogue.read(2 * time.Second); p == nil || p.SSRC != b.SSRC() {
		t.Errorf("after relatch the peer got %v", p)
	}
}

func TestSessionMalformedAndWrongPayload(t *testing.T) {
	r := newRTPRig(t)
	s := r.session()
	peer := newRTPPeer(t)
	before := func() SessionStats { return s.Stats() }
	_ = before
	s.Start()
	// Before SetRemote nothing is accepted.
	peer.sendAudio(s.LocalAddr(), 0, 1)
	rtpWaitFor(t, "not ready", func() bool { return s.Stats().NotReady == 1 })
	s.SetRemote(peer.addr(), PCMU, 101)
	peer.sendAudio(s.LocalAddr(), 0, 1)
	garbage := [][]byte{
		{},
		{0x80},
		make([]byte, 11),                        // version 0, truncated header
		{0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0},       // 10 bytes
		{0x8f, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1}, // 15 CSRCs announced, none present
		{0x90, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 9}, // extension runs past the end
		{0xa0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 1, 0xff},             // padding longer than the packet
		{0x40, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0xff},             // RTP version 1
		make([]byte, rxBufSize+100),                               // oversize: truncated by the read
	}
	for _, g := range garbage {
		peer.sendRaw(s.LocalAddr(), g)
	}
	peer.sendAudio(s.LocalAddr(), 18, 1) // G.729: not negotiated
	peer.sendAudio(s.LocalAddr(), 0, 1)
	rtpWaitFor(t, "all counted", func() bool {
		st := s.Stats()
		return st.PacketsReceived == 2 && st.WrongPayloadType == 1 && st.Malformed == uint64(len(garbage))
	})
	// Still healthy: it keeps sending to the peer.
	r.step()
	if p := peer.read(2 * time.Second); p == nil {
		t.Fatal("session stopped sending after garbage")
	}
}

// lossyProxy relays RTP and RTCP between two sessions, dropping chosen
// RTP packets from a to b.
type lossyProxy struct {
	rtpConn, rtcpConn *net.UDPConn
	a, b              netip.AddrPort // RTP addresses of the sessions
	mu                sync.Mutex
	fromA             int          // guarded by mu: RTP packets seen from a
	drop              map[int]bool // guarded by mu: indexes (1-based) of a's packets to drop
	dropped           uint64       // guarded by mu
	wg                sync.WaitGroup
}

func newLossyProxy(t *testing.T, ports *PortRange, a, b *Session, drop map[int]bool) *lossyProxy {
	rc, cc, err := ports.Listen()
	if err != nil {
		t.Fatal(err)
	}
	p := &lossyProxy{rtpConn: rc, rtcpConn: cc, a: addrPort(a.LocalAddr()), b: addrPort(b.LocalAddr()), drop: drop}
	p.wg.Add(2)
	go p.relay(rc, 0)
	go p.relay(cc, 1)
	t.Cleanup(func() {
		rc.Close()
		cc.Close()
		p.wg.Wait()
	})
	return p
}

func (p *lossyProxy) relay(c *net.UDPConn, portOff uint16) {
	defer p.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		to := p.a
		if from.Port() == p.a.Port()+portOff {
			to = p.b
			if portOff == 0 {
				p.mu.Lock()
				p.fromA++
				skip := p.drop[p.fromA]
				if skip {
					p.dropped++
				}
				p.mu.Unlock()
				if skip {
					continue
				}
			}
		}
		c.WriteToUDPAddrPort(buf[:n], netip.AddrPortFrom(to.Addr(), to.Port()+portOff))
	}
}

func (p *lossyProxy) lost() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

// holdReports keeps s from sending a scheduled report (its first one comes
// 50-300 ticks after creation, at random) so a test sees only forced ones.
func holdReports(s *Session) {
	s.tickMu.Lock()
	s.rtcpDue = 1 << 30
	s.tickMu.Unlock()
}

func forceReport(s *Session) {
	s.tickMu.Lock()
	s.rtcpDue = 1
	s.tickMu.Unlock()
}

func TestSessionLossReportedOverRTCP(t *testing.T) {
	r := newRTPRig(t)
	a, b := r.session(), r.session()
	// A scheduled report of b's within the 60 ticks (about 1 run in 20)
	// would start a new interval and change the fraction lost.
	holdReports(a)
	holdReports(b)
	drop := map[int]bool{20: true, 21: true, 22: true, 30: true, 31: true}
	px := newLossyProxy(t, r.ports, a, b, drop)
	via := px.rtpConn.LocalAddr().(*net.UDPAddr)
	a.SetRemote(via, PCMA, 0)
	b.SetRemote(via, PCMA, 0)
	a.Start()
	b.Start()
	r.stepDelivered(60, a, b, px.lost)
	sb := b.Stats()
	if sb.Lost != 5 || sb.Expected != 60 || sb.Concealed < 5 {
		t.Fatalf("b local stats: lost %d expected %d concealed %d, want 5/60/>=5", sb.Lost, sb.Expected, sb.Concealed)
	}
	// a reports first (SR), then b answers with its report about a.
	forceReport(a)
	r.step()
	rtpWaitFor(t, "b gets a's SR", func() bool { return b.Stats().RTCPReceived >= 1 })
	forceReport(b)
	r.step()
	rtpWaitFor(t, "a gets b's report", func() bool { return a.Stats().RTCPReceived >= 1 })
	sa := a.Stats()
	if sa.RemoteTotalLost != 5 {
		t.Errorf("remote-reported loss %d, want 5", sa.RemoteTotalLost)
	}
	if want := 5.0 / 62; sa.RemoteFractionLost < want-0.01 || sa.RemoteFractionLost > want+0.01 {
		t.Errorf("remote fraction lost %.3f, want ~%.3f", sa.RemoteFractionLost, want)
	}
	if sa.RTT < 0 || sa.RTT > 50*time.Millisecond {
		t.Errorf("RTT %v", sa.RTT)
	}
	if sa.RTCPSent == 0 || sa.RTCPForeign != 0 || sa.RTCPMalformed != 0 {
		t.Errorf("a RTCP counters %+v", sa)
	}
}

func TestSessionHoldStopsSending(t *testing.T) {
	r := newRTPRig(t)
	s := r.session()
	peer := newRTPPeer(t)
	s.SetRemote(peer.addr(), PCMU, 0)
	s.Start()
	var last *rtp.Packet
	for i := range 3 {
		r.step()
		last = peer.read(2 * time.Second)
		if last == nil {
			t.Fatal("no packet")
		}
		if (i == 0) != last.Marker {
			t.Errorf("packet %d marker %v", i, last.Marker)
		}
	}
	for _, d := range []Direction{Inactive, RecvOnly} {
		s.SetDirection(d)
		sent := s.Stats().PacketsSent
		for range 4 {
			r.step()
		}
		if p := peer.read(50 * time.Millisecond); p != nil {
			t.Fatalf("%v: packet sent while on hold", d)
		}
		if s.Stats().PacketsSent != sent {
			t.Fatalf("%v: PacketsSent grew", d)
		}
	}
	s.SetDirection(SendRecv)
	r.step()
	p := peer.read(2 * time.Second)
	if p == nil {
		t.Fatal("no packet after resume")
	}
	if !p.Marker || p.SequenceNumber != last.SequenceNumber+1 || p.Timestamp != last.Timestamp+9*FrameSamples {
		t.Errorf("resume: marker %v seq %d ts %d, want marker, seq %d, ts %d (time kept running)",
			p.Marker, p.SequenceNumber, p.Timestamp, last.SequenceNumber+1, last.Timestamp+9*FrameSamples)
	}
	if s.Direction() != SendRecv || Inactive.String() != "inactive" {
		t.Error("direction accessors")
	}
}

func TestSessionDTMFRFC4733(t *testing.T) {
	r := newRTPRig(t)
	a, b := r.pair(PCMU, 101)
	var mu sync.Mutex
	var got []DTMFEvent
	b.OnDTMF(func(ev DTMFEvent) {
		mu.Lock()
		got = append(got, ev)
		mu.Unlock()
		b.StopPlay() // barge-in from the callback must not deadlock
	})
	src, _ := sineSource(1000)
	stopped := b.Play(src)
	if err := a.SendDTMF('5', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if err := a.SendDTMF('#', 60*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	r.stepDelivered(30, a, b, nil)
	r.step() // events reach the callback on the tick after arrival
	mu.Lock()
	defer mu.Unlock()
	var digits strings.Builder
	for _, ev := range got {
		digits.WriteRune(ev.Digit)
		if ev.Source != DTMFSourceRFC4733 {
			t.Errorf("event %+v: source", ev)
		}
	}
	if digits.String() != "5#" {
		t.Fatalf("digits %q, want \"5#\"", digits.String())
	}
	if got[0].Duration != 100*time.Millisecond {
		t.Errorf("duration %v", got[0].Duration)
	}
	select {
	case <-stopped:
	default:
		t.Error("StopPlay from OnDTMF did not stop the prompt")
	}
	if st := a.Stats(); st.DTMFPacketsSent < 8 {
		t.Errorf("DTMF packets sent %d", st.DTMFPacketsSent)
	}
	if err := a.SendDTMF('x', time.Second); !errors.Is(err, ErrInvalidDigit) {
		t.Errorf("bad digit: %v", err)
	}
	if err := a.SendDTMF('1', time.Millisecond); !errors.Is(err, ErrDTMFDuration) {
		t.Errorf("bad duration: %v", err)
	}
}

func TestSessionDTMFInband(t *testing.T) {
	r := newRTPRig(t)
	a, b := r.pair(PCMA, 0)
	evs := make(chan DTMFEvent, 8)
	b.OnDTMF(func(ev DTMFEvent) { evs <- ev })
	if err := a.SendDTMF('7', 120*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	r.stepDelivered(25, a, b, nil)
	select {
	case ev := <-evs:
		if ev.Digit != '7' || ev.Source != DTMFSourceInband {
			t.Errorf("event %+v", ev)
		}
	default:
		t.Fatal("in-band digit not detected")
	}
	if n := a.Stats().DTMFPacketsSent; n != 0 {
		t.Errorf("%d telephone-event packets sent without a negotiated payload type", n)
	}
}

func TestSessionPlaySemantics(t *testing.T) {
	r := newRTPRig(t)
	s := r.session()
	peer := newRTPPeer(t)
	s.SetRemote(peer.addr(), PCMU, 0)
	s.Start()
	src1, _ := sineSource(100)
	src2, _ := sineSource(100)
	d1 := s.Play(src1)
	r.step()
	d2 := s.Play(src2)
	select {
	case <-d1:
	default:
		t.Fatal("replaced prompt's channel still open")
	}
	s.StopPlay()
	select {
	case <-d2:
	default:
		t.Fatal("stopped prompt's channel still open")
	}
	bad := s.Play(FrameSourceFunc(func(pcm []int16) (int, error) { return 10000, nil }))
	r.step()
	select {
	case <-bad:
	default:
		t.Fatal("a source returning an impossible count was not stopped")
	}
	d3 := s.Play(src1)
	<-s.Play(nil) // nil stops and returns a closed channel
	select {
	case <-d3:
	default:
		t.Fatal("Play(nil) did not stop the prompt")
	}
	d4 := s.Play(src1)
	s.Close()
	select {
	case <-d4:
	default:
		t.Fatal("Close did not close the Play channel")
	}
	select {
	case <-s.Play(src1):
	default:
		t.Fatal("Play after Close returned an open channel")
	}
	if err := s.SendDTMF('1', time.Second); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("SendDTMF after Close: %v", err)
	}
	if err := s.UpdateRemote(peer.addr(), PCMU, 0); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("UpdateRemote after Close: %v", err)
	}
}

func TestSessionUpdateRemoteValidation(t *testing.T) {
	r := newRTPRig(t)
	s := r.session()
	good := &net.UDPAddr{IP: rtpLoopback, Port: 4000}
	cases := []struct {
		addr   *net.UDPAddr
		c      Codec
		pt     uint8
		target error
	}{
		{good, Codec{"G729", 18, 8000}, 0, ErrUnsupportedCodec},
		{good, Codec{}, 0, ErrUnsupportedCodec},
		{good, PCMU, 0x80, ErrInvalidRemote},
		{good, PCMA, 8, ErrInvalidRemote},
		{&net.UDPAddr{IP: rtpLoopback, Port: 0}, PCMU, 0, ErrInvalidRemote},
		{&net.UDPAddr{IP: net.IP{1, 2, 3}, Port: 4000}, PCMU, 0, ErrInvalidRemote},
	}
	for _, c := range cases {
		if err := s.UpdateRemote(c.addr, c.c, c.pt); !errors.Is(err, c.target) {
			t.Errorf("UpdateRemote(%v, %v, %d) = %v, want %v", c.addr, c.c, c.pt, err, c.target)
		}
	}
	if err := s.SendDTMF('1', time.Second); !errors.Is(err, ErrNoRemote) {
		t.Errorf("SendDTMF before SetRemote: %v", err)
	}
	// Old-style hold address: accepted, nothing is sent until latching.
	if err := s.UpdateRemote(&net.UDPAddr{IP: net.IPv4zero, Port: 4000}, PCMU, 101); err != nil {
		t.Fatal(err)
	}
	s.Start()
	r.step()
	if n := s.Stats().PacketsSent; n != 0 {
		t.Errorf("sent %d packets to 0.0.0.0", n)
	}
	if _, err := NewSession(SessionConfig{Clock: r.clock}); !errors.Is(err, ErrInvalidSessionConfig) {
		t.Errorf("no ports: %v", err)
	}
	if _, err := NewSession(SessionConfig{Ports: r.ports}); !errors.Is(err, ErrInvalidSessionConfig) {
		t.Errorf("no clock: %v", err)
	}
}

func TestSessionSinkErrorsCounted(t *testing.T) {
	r := newRTPRig(t)
	a, b := r.pair(PCMU, 0)
	rec := &pcmCollector{fail: errors.New("disk full")}
	b.SetRecorder(rec)
	b.SetInboundSink(rec)
	r.stepDelivered(3, a, b, nil)
	if n := b.Stats().SinkErrors; n != 6 {
		t.Errorf("SinkErrors = %d, want 6", n)
	}
}

func TestSessionOnDTMFMayClose(t *testing.T) {
	r := newRTPRig(t)
	a, b := r.pair(PCMU, 101)
	closed := make(chan struct{})
	b.OnDTMF(func(DTMFEvent) {
		b.Close()
		close(closed)
	})
	a.SendDTMF('1', 40*time.Millisecond)
	for range 15 {
		r.step()
		time.Sleep(2 * time.Millisecond)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close from OnDTMF did not return")
	}
}

func TestSessionRealClockAndCloseLeakFree(t *testing.T) {
	base := runtime.NumGoroutine()
	clock := NewClock(20*time.Millisecond, 2)
	clock.Start()
	ports, err := NewPortRange(rtpLoopback, 42000, 44999)
	if err != nil {
		t.Fatal(err)
	}
	var all []*Session
	var heard [3]pcmCollector
	for i := range 3 {
		a, err := NewSession(SessionConfig{Ports: ports, Clock: clock, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewSession(SessionConfig{Ports: ports, Clock: clock, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		a.SetRemote(b.LocalAddr(), PCMU, 101)
		b.SetRemote(a.LocalAddr(), PCMU, 101)
		b.SetInboundSink(&heard[i])
		a.Start()
		b.Start()
		src, _ := sineSource(1000)
		a.Play(src)
		all = append(all, a, b)
	}
	rtpWaitFor(t, "traffic", func() bool {
		for _, s := range all {
			if s.Stats().PacketsReceived < 10 {
				return false
			}
		}
		return true
	})
	if !clock.Healthy(time.Now()) {
		t.Error("clock unhealthy while running sessions")
	}
	for _, s := range all {
		st := s.Stats()
		if st.SendInterval.Total == 0 || st.ForeignDropped != 0 || st.Malformed != 0 {
			t.Errorf("stats %+v", st)
		}
	}
	for _, s := range all {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil { // idempotent
			t.Fatal(err)
		}
	}
	clock.Close()
	rtpWaitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= base })
}

func TestSessionTickNoAlloc(t *testing.T) {
	r := newRTPRig(t)
	s := r.session()
	peer := newRTPPeer(t)
	s.SetRemote(peer.addr(), PCMU, 101)
	s.SetRecorder(rtpStereoFunc(func(a, b []int16) error { return nil }))
	s.Start()
	s.Play(loopSource())
	r.step()
	now := r.now.Now()
	allocs := testing.AllocsPerRun(200, func() {
		now = now.Add(20 * time.Millisecond)
		s.Tick(now)
	})
	if allocs != 0 {
		t.Errorf("Tick allocates %.2f per call", allocs)
	}
	// Receive path: a valid packet from the latched peer.
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 9}, Payload: make([]byte, FrameSamples)}
	from := addrPort(peer.addr())
	arrival := r.now.Now()
	var raw [FrameSamples + 12]byte
	allocs = testing.AllocsPerRun(200, func() {
		pkt.SequenceNumber++
		pkt.Timestamp += FrameSamples
		arrival = arrival.Add(20 * time.Millisecond)
		n, _ := pkt.MarshalTo(raw[:])
		s.handleRTP(raw[:n], from, arrival)
	})
	if allocs != 0 {
		t.Errorf("handleRTP allocates %.2f per packet", allocs)
	}
}

// rtpStereoFunc adapts a function to StereoSink.
type rtpStereoFunc func(callee, box []int16) error

func (f rtpStereoFunc) WriteStereo(callee, box []int16) error { return f(callee, box) }

// loopSource is a zero-allocation endless 1 kHz tone.
func loopSource() FrameSource {
	ref := make([]int16, FrameSamples)
	rtpSine(ref, 1000, 8000, 0)
	return FrameSourceFunc(func(pcm []int16) (int, error) { return copy(pcm, ref), nil })
}
