package media

import (
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// rtpFakeNow is an injectable clock for sessions driven by Clock.Step.
type rtpFakeNow struct{ ns atomic.Int64 }

func (f *rtpFakeNow) Now() time.Time          { return time.Unix(0, f.ns.Load()) }
func (f *rtpFakeNow) Advance(d time.Duration) { f.ns.Add(int64(d)) }

// rtpRig builds sessions on loopback, driven step by step.
type rtpRig struct {
	t     testing.TB
	clock *Clock
	now   *rtpFakeNow
	ports *PortRange
}

func newRTPRig(t testing.TB) *rtpRig {
	now := &rtpFakeNow{}
	now.ns.Store(time.Unix(1_700_000_000, 0).UnixNano())
	ports, err := NewPortRange(rtpLoopback, 42000, 44999)
	if err != nil {
		t.Fatal(err)
	}
	return &rtpRig{t: t, clock: NewClockWithConfig(ClockConfig{Workers: 1, Now: now.Now}), now: now, ports: ports}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func (r *rtpRig) session() *Session {
	r.t.Helper()
	s, err := NewSession(SessionConfig{Ports: r.ports, Clock: r.clock, Logger: quietLogger(), Now: r.now.Now})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { s.Close() })
	return s
}

// pair returns two started sessions talking to each other.
func (r *rtpRig) pair(c Codec, dtmfPT uint8) (*Session, *Session) {
	a, b := r.session(), r.session()
	a.SetRemote(b.LocalAddr(), c, dtmfPT)
	b.SetRemote(a.LocalAddr(), c, dtmfPT)
	a.Start()
	b.Start()
	return a, b
}

// step advances time by one period and ticks every session.
func (r *rtpRig) step() {
	r.t.Helper()
	r.now.Advance(20 * time.Millisecond)
	if err := r.clock.Step(r.now.Now()); err != nil {
		r.t.Fatal(err)
	}
}

// stepDelivered runs n periods of the pair, ticking a then b by hand and
// waiting after each tick until the packet reached the other side (minus
// lossA packets dropped on the way to b), so playout is deterministic.
func (r *rtpRig) stepDelivered(n int, a, b *Session, lossA func() uint64) {
	r.t.Helper()
	for range n {
		r.now.Advance(20 * time.Millisecond)
		now := r.now.Now()
		a.Tick(now)
		rtpWaitFor(r.t, "delivery to b", func() bool {
			lost := uint64(0)
			if lossA != nil {
				lost = lossA()
			}
			sb := b.Stats()
			return sb.PacketsReceived+sb.SequenceJumps+lost >= a.Stats().PacketsSent
		})
		b.Tick(now)
		rtpWaitFor(r.t, "delivery to a", func() bool { return a.Stats().PacketsReceived >= b.Stats().PacketsSent })
	}
}

// rtpPeer is a plain UDP socket playing the far end.
type rtpPeer struct {
	t    testing.TB
	conn *net.UDPConn
	seq  uint16
	ts   uint32
	buf  [2048]byte
}

func newRTPPeer(t testing.TB) *rtpPeer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: rtpLoopback})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rtpPeer{t: t, conn: c, seq: 100, ts: 5000}
}

func (p *rtpPeer) addr() *net.UDPAddr { return p.conn.LocalAddr().(*net.UDPAddr) }

func (p *rtpPeer) sendRaw(to *net.UDPAddr, b []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDP(b, to); err != nil {
		p.t.Fatal(err)
	}
}

// sendAudio sends one valid 20 ms packet with payload type pt.
func (p *rtpPeer) sendAudio(to *net.UDPAddr, pt uint8, ssrc uint32) {
	p.t.Helper()
	p.seq++
	p.ts += FrameSamples
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: ssrc}, Payload: make([]byte, FrameSamples)}
	b, err := pkt.Marshal()
	if err != nil {
		p.t.Fatal(err)
	}
	p.sendRaw(to, b)
}

// read returns the next RTP packet, or nil after wait.
func (p *rtpPeer) read(wait time.Duration) *rtp.Packet {
	p.t.Helper()
	p.conn.SetReadDeadline(time.Now().Add(wait))
	n, _, err := p.conn.ReadFromUDP(p.buf[:])
	if err != nil {
		return nil
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(append([]byte(nil), p.buf[:n]...)); err != nil {
		p.t.Fatalf("session sent invalid RTP: %v", err)
	}
	return &pkt
}

// sineSource plays frames of a 1 kHz sine, then io.EOF.
func sineSource(frames int) (FrameSource, []int16) {
	ref := make([]int16, frames*FrameSamples)
	rtpSine(ref, 1000, 8000, 0)
	pos := 0
	return FrameSourceFunc(func(pcm []int16) (int, error) {
		if pos >= len(ref) {
			return 0, io.EOF
		}
		n := copy(pcm, ref[pos:])
		pos += n
		return n, nil
	}), ref
}

// pcmCollector gathers frames from a sink.
type pcmCollector struct {
	mu        sync.Mutex
	callee    []int16 // guarded by mu
	box       []int16 // guarded by mu
	fail      error
	collected atomic.Int64
}

func (c *pcmCollector) WriteFrame(pcm []int16) error {
	c.mu.Lock()
	c.callee = append(c.callee, pcm...)
	c.mu.Unlock()
	c.collected.Add(1)
	return c.fail
}

func (c *pcmCollector) WriteStereo(callee, box []int16) error {
	c.mu.Lock()
	c.callee = append(c.callee, callee...)
	c.box = append(c.box, box...)
	c.mu.Unlock()
	c.collected.Add(1)
	return c.fail
}

// bestCorrelation returns the highest normalised correlation between ref
// and got[lag:] over lags 0..maxLag.
func bestCorrelation(ref, got []int16, maxLag int) float64 {
	best := -1.0
	for lag := 0; lag <= maxLag && lag+len(ref) <= len(got); lag++ {
		var xy, xx, yy float64
		for i, x := range ref {
			y := float64(got[lag+i])
			xy += float64(x) * y
			xx += float64(x) * float64(x)
			yy += y * y
		}
		if xx > 0 && yy > 0 {
			best = max(best, xy/math.Sqrt(xx*yy))
		}
	}
	return best
}

func addrPort(a *net.UDPAddr) netip.AddrPort { return a.AddrPort() }
