package sim

import (
	"context"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callbox/media"

	"github.com/pion/rtp"
)

// mediaPeer is the test's stand-in for the box's RTP endpoint: the port
// SIPp advertises in its SDP.
type mediaPeer struct {
	conn *net.UDPConn

	mu       sync.Mutex
	audio    int           // guarded by mu: PCMU packets from the simulator
	pts      map[uint8]int // guarded by mu
	events   []byte        // guarded by mu: digits ended (RFC 4733 E bit), in order
	lastTS   uint32        // guarded by mu: timestamp of the last ended event
	haveEnd  bool          // guarded by mu
	from     *net.UDPAddr  // guarded by mu: the simulator's RTP address
	gotFirst chan struct{}
	once     sync.Once
	done     chan struct{}
	wg       sync.WaitGroup
}

func newMediaPeer(t *testing.T) *mediaPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &mediaPeer{conn: conn, pts: map[uint8]int{}, gotFirst: make(chan struct{}), done: make(chan struct{})}
	p.wg.Add(1)
	go p.read()
	t.Cleanup(p.close)
	return p
}

func (p *mediaPeer) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

func (p *mediaPeer) close() {
	select {
	case <-p.done:
	default:
		close(p.done)
	}
	p.conn.Close()
	p.wg.Wait()
}

func (p *mediaPeer) read() {
	defer p.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := p.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		var pkt rtp.Packet
		if pkt.Unmarshal(buf[:n]) != nil || pkt.Version != 2 {
			continue
		}
		p.mu.Lock()
		p.pts[pkt.PayloadType]++
		switch {
		case pkt.PayloadType == 0:
			p.audio++
		case pkt.PayloadType == 101 && len(pkt.Payload) >= 4:
			end := pkt.Payload[1]&0x80 != 0
			if end && (!p.haveEnd || pkt.Timestamp != p.lastTS) {
				if d, ok := media.DTMFDigit(pkt.Payload[0]); ok {
					p.events = append(p.events, byte(d))
				}
				p.lastTS, p.haveEnd = pkt.Timestamp, true
			}
		}
		if p.from == nil {
			p.from = from
		}
		p.mu.Unlock()
		p.once.Do(func() { close(p.gotFirst) })
	}
}

// speak sends d of a 440 Hz tone, then silence for quiet, as PCMU RTP to
// the simulator's RTP address at a 20 ms pace (the box's "prompt").
func (p *mediaPeer) speak(t *testing.T, d, quiet time.Duration) {
	t.Helper()
	select {
	case <-p.gotFirst:
	case <-time.After(10 * time.Second):
		t.Error("no RTP from the simulator within 10 s")
		return
	}
	p.mu.Lock()
	to := p.from
	p.mu.Unlock()
	tone := media.Sine(440, int(d/time.Millisecond), 8000)
	frames := int((d + quiet) / (20 * time.Millisecond))
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SSRC: 0x1234, Marker: true}}
	payload := make([]byte, media.FrameSamples)
	pcm := make([]int16, media.FrameSamples)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for i := range frames {
		clear(pcm)
		if off := i * media.FrameSamples; off < len(tone) {
			copy(pcm, tone[off:])
		}
		media.PCMU.Encode(payload, pcm)
		pkt.SequenceNumber = uint16(i)
		pkt.Timestamp = uint32(i * media.FrameSamples)
		pkt.Payload = payload
		b, err := pkt.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.conn.WriteToUDP(b, to); err != nil {
			return
		}
		pkt.Marker = false
		select {
		case <-tick.C:
		case <-p.done:
			return
		}
	}
}

func (p *mediaPeer) snapshot() (audio int, pts map[uint8]int, digits string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[uint8]int, len(p.pts))
	for k, v := range p.pts {
		m[k] = v
	}
	return p.audio, m, string(p.events)
}

func sippCfg() Config {
	return Config{Rules: []Rule{
		{Prefix: "100", Persona: "answer"},
		{Prefix: "200", Persona: "busy"},
		{Prefix: "300", Persona: "noanswer"},
		{Prefix: "400", Persona: "dtmf"},
	}}
}

func TestSIPpAnswerSendsRTP(t *testing.T) {
	needBinary(t, "sipp")
	t.Parallel()
	s := startSim(t, sippCfg())
	peer := newMediaPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := runSIPp(ctx, t, "uac_answer.xml", s.Addr(), "1001", map[string]string{
		"rtpport": itoa(peer.port()), "-d": "1500",
	})
	if err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	calls := waitCalls(t, s, 1)
	audio, pts, _ := peer.snapshot()
	// 1.5 s of hold at 20 ms is 75 packets; allow for the time the
	// answer takes and a loaded machine.
	if audio < 25 {
		t.Errorf("simulator sent %d PCMU packets to SIPp's SDP port, want >= 25 (payload types %v)", audio, pts)
	}
	for pt := range pts {
		if pt != 0 {
			t.Errorf("unexpected payload type %d from simulator (answer persona sends no DTMF)", pt)
		}
	}
	c := calls[0]
	if c.Persona != "answer" || c.ChosenBy != "rule" || c.Number != "1001" {
		t.Errorf("persona %q chosen by %q for %q, want answer by rule for 1001", c.Persona, c.ChosenBy, c.Number)
	}
	if c.Status != 200 || c.AnsweredAt.IsZero() || c.HungUpBy != ByCaller || c.EndReason != EndByeReceived {
		t.Errorf("call log %+v: want status 200, answered, hung up by caller with BYE", c)
	}
	if c.Codec != "PCMU" || !strings.HasSuffix(c.RemoteRTP, ":"+itoa(peer.port())) {
		t.Errorf("codec %q remote %q, want PCMU to port %d", c.Codec, c.RemoteRTP, peer.port())
	}
}

func TestSIPpBusy(t *testing.T) {
	needBinary(t, "sipp")
	t.Parallel()
	s := startSim(t, sippCfg())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := runSIPp(ctx, t, "uac_busy.xml", s.Addr(), "2001", map[string]string{"rtpport": itoa(freeUDPPort(t))})
	if err != nil {
		t.Fatalf("sipp did not see 486: %v\n%s", err, out)
	}
	c := waitCalls(t, s, 1)[0]
	if c.Status != 486 || c.HungUpBy != ByCallee || c.EndReason != EndRejected || !c.AnsweredAt.IsZero() {
		t.Errorf("call log %+v: want 486 rejected by callee, never answered", c)
	}
}

func TestSIPpNoAnswerCancel(t *testing.T) {
	needBinary(t, "sipp")
	t.Parallel()
	s := startSim(t, sippCfg())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := runSIPp(ctx, t, "uac_cancel.xml", s.Addr(), "3001", map[string]string{
		"rtpport": itoa(freeUDPPort(t)), "-d": "1000",
	})
	if err != nil {
		t.Fatalf("sipp: CANCEL did not end in 200 + 487: %v\n%s", err, out)
	}
	c := waitCalls(t, s, 1)[0]
	if !c.CancelSeen || c.Status != 487 || c.HungUpBy != ByCaller || c.EndReason != EndCancel {
		t.Errorf("call log %+v: want CANCEL seen, 487, hung up by caller", c)
	}
	if ring := c.EndedAt.Sub(c.ReceivedAt); ring < 900*time.Millisecond {
		t.Errorf("call ended %v after the INVITE, want it to ring until the CANCEL (~1 s)", ring)
	}
}

func TestSIPpDTMFPersonaSendsRFC4733(t *testing.T) {
	needBinary(t, "sipp")
	t.Parallel()
	s := startSim(t, sippCfg())
	peer := newMediaPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// The box's first prompt: 1.2 s of tone, then silence, so the
		// persona's VAD sees the prompt end.
		peer.speak(t, 1200*time.Millisecond, 3*time.Second)
	}()
	out, err := runSIPp(ctx, t, "uac_answer.xml", s.Addr(), "4001", map[string]string{
		"rtpport": itoa(peer.port()), "-d": "4500",
	})
	peer.close()
	wg.Wait()
	if err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	c := waitCalls(t, s, 1)[0]
	_, pts, digits := peer.snapshot()
	if pts[101] == 0 {
		t.Fatalf("no payload type 101 packets from the dtmf persona (payload types %v); call log %+v", pts, c)
	}
	if digits != "1234#" {
		t.Errorf("RFC 4733 digits %q, want 1234#", digits)
	}
	if c.DigitsSent != "1234#" || c.BoxSpeechSegments != 1 {
		t.Errorf("call log digits sent %q, box speech segments %d; want 1234# and 1", c.DigitsSent, c.BoxSpeechSegments)
	}
	if ms := c.BoxSpeechMs; math.Abs(float64(ms)-1200) > 300 {
		t.Errorf("box speech measured %d ms, want about 1200", ms)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
