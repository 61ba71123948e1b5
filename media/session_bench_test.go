package media

import (
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// BenchmarkSessionTick measures one media tick of a busy session: prompt
// read, PCMU encode, RTP marshal and send over loopback, jitter buffer pop
// and recorder callback. It must not allocate.
func BenchmarkSessionTick(b *testing.B) {
	r := newRTPRig(b)
	s := r.session()
	peer := newRTPPeer(b) // never read: the kernel drops what overflows
	s.SetRemote(peer.addr(), PCMU, 101)
	s.SetRecorder(rtpStereoFunc(func(a, b []int16) error { return nil }))
	s.SetInboundSink(FrameSinkFunc(func([]int16) error { return nil }))
	s.Start()
	s.Play(loopSource())
	now := r.now.Now()
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(20 * time.Millisecond)
		s.Tick(now)
	}
}

// BenchmarkHandleRTP measures the receive path for one valid packet.
func BenchmarkHandleRTP(b *testing.B) {
	r := newRTPRig(b)
	s := r.session()
	peer := newRTPPeer(b)
	s.SetRemote(peer.addr(), PCMU, 101)
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 9}, Payload: make([]byte, FrameSamples)}
	from := addrPort(peer.addr())
	at := r.now.Now()
	var raw [FrameSamples + 12]byte
	var out [FrameSamples]int16
	b.ReportAllocs()
	for b.Loop() {
		pkt.SequenceNumber++
		pkt.Timestamp += FrameSamples
		at = at.Add(20 * time.Millisecond)
		n, _ := pkt.MarshalTo(raw[:])
		s.handleRTP(raw[:n], from, at)
		s.rxMu.Lock()
		s.jb.Pop(out[:])
		s.rxMu.Unlock()
	}
}

// tickSignal lets the benchmark wait for clock ticks.
type tickSignal chan struct{}

func (t tickSignal) Tick(time.Time) {
	select {
	case t <- struct{}{}:
	default:
	}
}

// BenchmarkClock500Sessions runs 250 session pairs (500 sessions) on one
// real 20 ms clock over loopback; one iteration is one tick. It reports the
// send interval deviation over all sessions (p50/p99/max, microseconds),
// the clock's worst lateness and its skipped deadlines, and the process's
// CPU time per session and tick (each tick sends and receives one packet
// per session).
func BenchmarkClock500Sessions(b *testing.B) {
	clock := NewClock(20*time.Millisecond, 0)
	ports, err := NewPortRange(rtpLoopback, 42000, 44999)
	if err != nil {
		b.Fatal(err)
	}
	var all []*Session
	defer func() {
		for _, s := range all {
			s.Close()
		}
		clock.Close()
	}()
	newS := func() *Session {
		s, err := NewSession(SessionConfig{Ports: ports, Clock: clock, Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, s)
		return s
	}
	for i := range 250 {
		c := PCMU
		if i%2 == 1 {
			c = PCMA
		}
		x, y := newS(), newS()
		x.SetRemote(y.LocalAddr(), c, 101)
		y.SetRemote(x.LocalAddr(), c, 101)
		x.SetRecorder(rtpStereoFunc(func(a, b []int16) error { return nil }))
		x.Start()
		y.Start()
		x.Play(loopSource())
	}
	ticks := make(tickSignal, 1)
	clock.Register(ticks)
	clock.Start()
	for range 10 { // warm up: latch, fill jitter buffers
		<-ticks
	}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	ticked := 0
	for b.Loop() {
		<-ticks
		ticked++
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	b.StopTimer()
	cpu := time.Duration(syscall.TimevalToNsec(ru1.Utime) + syscall.TimevalToNsec(ru1.Stime) - syscall.TimevalToNsec(ru0.Utime) - syscall.TimevalToNsec(ru0.Stime))
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(max(ticked, 1)*len(all)), "cpu-ns/session-tick")
	var h DeviationHistogram
	var recv uint64
	for _, s := range all {
		st := s.Stats()
		h.Merge(st.SendInterval)
		recv += st.PacketsReceived
	}
	cs := clock.Stats()
	b.ReportMetric(float64(h.Quantile(0.50).Microseconds()), "p50-dev-us")
	b.ReportMetric(float64(h.Quantile(0.99).Microseconds()), "p99-dev-us")
	b.ReportMetric(float64(h.Max.Microseconds()), "max-dev-us")
	b.ReportMetric(float64(cs.MaxLateness.Microseconds()), "clock-late-max-us")
	b.ReportMetric(float64(cs.Skipped), "skipped-ticks")
	b.ReportMetric(float64(cs.MaxWork.Microseconds()), "worker-max-us")
	if recv == 0 {
		b.Fatalf("no packets received; first session %+v", all[0].Stats())
	}
}

// BenchmarkSessionDrain measures the tick's receive path for one waiting
// datagram: one recvmmsg (with its kernel timestamp), parsing, statistics,
// decoding into the jitter buffer. The peer's send is outside the timer.
func BenchmarkSessionDrain(b *testing.B) {
	clock := NewClock(20*time.Millisecond, 1) // not started: the benchmark drains by hand
	defer clock.Close()
	ports, err := NewPortRange(rtpLoopback, 42000, 44999)
	if err != nil {
		b.Fatal(err)
	}
	s, err := NewSession(SessionConfig{Ports: ports, Clock: clock, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	peer := newRTPPeer(b)
	s.SetRemote(peer.addr(), PCMU, 101)
	s.Start()
	to := s.LocalAddr().AddrPort()
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 9}, Payload: make([]byte, FrameSamples)}
	var raw [FrameSamples + 12]byte
	var out [FrameSamples]int16
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		pkt.SequenceNumber++
		pkt.Timestamp += FrameSamples
		n, _ := pkt.MarshalTo(raw[:])
		peer.conn.WriteToUDPAddrPort(raw[:n], to)
		b.StartTimer()
		s.rxMu.Lock()
		s.drainLocked(time.Now(), false)
		s.jb.Pop(out[:])
		s.rxMu.Unlock()
	}
	if st := s.Stats(); st.PacketsReceived == 0 {
		b.Fatalf("nothing received: %+v", st)
	}
}
