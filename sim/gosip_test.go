package sim

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"callbox/media"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// boxLeg is a tiny sipgo caller with a media.Session: the test's box.
type boxLeg struct {
	t     *testing.T
	ua    *sipgo.UserAgent
	dlg   *sipgo.DialogClientSession
	sess  *media.Session
	clock *media.Clock

	mu      sync.Mutex
	digits  string    // guarded by mu
	frames  []float64 // guarded by mu: RMS of each inbound frame
	byeSeen chan struct{}
}

func rms(pcm []int16) float64 {
	var sq float64
	for _, s := range pcm {
		sq += float64(s) * float64(s)
	}
	if len(pcm) == 0 {
		return 0
	}
	return sq / float64(len(pcm))
}

// dial calls number on the simulator at addr and waits for the answer.
func dial(t *testing.T, addr, number string) *boxLeg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	b := &boxLeg{t: t, byeSeen: make(chan struct{})}
	ip := net.IPv4(127, 0, 0, 1)
	ports, err := media.NewPortRange(ip, 46000+int(rtpBase.Add(1)%40)*20, 46000+int(rtpBase.Load()%40)*20+19)
	if err != nil {
		t.Fatal(err)
	}
	b.clock = media.NewClock(20*time.Millisecond, 1)
	b.clock.Start()
	t.Cleanup(func() { b.clock.Close() })
	b.sess, err = media.NewSession(media.SessionConfig{IP: ip, Ports: ports, Clock: b.clock, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.sess.Close() })
	b.sess.OnDTMF(func(ev media.DTMFEvent) {
		b.mu.Lock()
		b.digits += string(ev.Digit)
		b.mu.Unlock()
	})
	b.sess.SetInboundSink(media.FrameSinkFunc(func(pcm []int16) error {
		b.mu.Lock()
		b.frames = append(b.frames, rms(pcm))
		b.mu.Unlock()
		return nil
	}))

	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	local := conn.LocalAddr().(*net.UDPAddr)
	b.ua, err = sipgo.NewUA(sipgo.WithUserAgentHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sipgo.NewServer(b.ua, sipgo.WithServerLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	client, err := sipgo.NewClient(b.ua, sipgo.WithClientLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	contact := sip.ContactHeader{Address: sip.Uri{User: "box", Host: "127.0.0.1", Port: local.Port}}
	dcache := sipgo.NewDialogClientCache(client, contact)
	var once sync.Once
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if err := dcache.ReadBye(req, tx); err != nil {
			_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		}
		once.Do(func() { close(b.byeSeen) })
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = srv.ServeUDP(conn)
	}()
	t.Cleanup(func() {
		b.ua.Close()
		conn.Close()
		wg.Wait()
	})

	la := b.sess.LocalAddr()
	sdpOffer := "v=0\r\no=box 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio " + strconv.Itoa(la.Port) + " RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n"
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	b.dlg, err = dcache.Invite(ctx, sip.Uri{User: number, Host: host, Port: p}, []byte(sdpOffer),
		sip.NewHeader("Content-Type", "application/sdp"))
	if err != nil {
		t.Fatalf("INVITE: %v", err)
	}
	if err := b.dlg.WaitAnswer(ctx, sipgo.AnswerOptions{}); err != nil {
		t.Fatalf("waiting for the answer: %v", err)
	}
	if err := b.dlg.Ack(ctx); err != nil {
		t.Fatalf("ACK: %v", err)
	}
	ans, err := parseOffer(b.dlg.InviteResponse.Body())
	if err != nil {
		t.Fatalf("simulator's SDP answer: %v", err)
	}
	if ans.Codec != media.PCMA || !ans.HasDTMF || ans.DTMFPT != 101 {
		t.Fatalf("answer %+v: want PCMA (first offered) and telephone-event 101", ans)
	}
	dtmf := uint8(0)
	if ans.HasDTMF {
		dtmf = ans.DTMFPT
	}
	if err := b.sess.UpdateRemote(&net.UDPAddr{IP: ans.Addr.Addr().AsSlice(), Port: int(ans.Addr.Port())}, ans.Codec, dtmf); err != nil {
		t.Fatal(err)
	}
	b.sess.Start()
	return b
}

// frameCount returns how many inbound frames were seen so far.
func (b *boxLeg) frameCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.frames)
}

// loudFrames counts inbound frames in [from, to) above an RMS power of
// about -40 dBFS.
func (b *boxLeg) loudFrames(from, to int) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for i := from; i < min(to, len(b.frames)); i++ {
		if b.frames[i] > 330*330 {
			n++
		}
	}
	return n
}

func (b *boxLeg) hangup() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := b.dlg.Bye(ctx); err != nil {
		b.t.Errorf("BYE: %v", err)
	}
}

func espeakPrompt(t *testing.T) []int16 {
	t.Helper()
	pcm, err := Espeak(context.Background(), "Hello, this is your bank calling about your card.", "en-us", false)
	if err != nil {
		t.Fatalf("espeak prompt: %v", err)
	}
	return pcm
}

func TestGoCallerYesPersonaSpeaksAfterPrompt(t *testing.T) {
	needBinary(t, "espeak-ng")
	t.Parallel()
	s := startSim(t, Config{Default: "yes"})
	prompt := espeakPrompt(t)
	b := dial(t, s.Addr(), "+8613912345678")
	start := b.frameCount()
	select {
	case <-b.sess.Play(media.NewPCMSource(prompt)):
	case <-time.After(15 * time.Second):
		t.Fatal("prompt did not finish playing")
	}
	promptEnd := b.frameCount()
	time.Sleep(3500 * time.Millisecond) // VAD end (500 ms) + gap (<= 700 ms) + reply
	end := b.frameCount()
	b.hangup()
	calls := waitCalls(t, s, 1)

	if during := b.loudFrames(start, promptEnd); during > 2 {
		t.Errorf("the yes persona made %d loud frames while the box's prompt played, want silence", during)
	}
	after := b.loudFrames(promptEnd, end)
	if after < 20 { // "Yes, that's right." is about a second of speech
		t.Errorf("only %d loud inbound frames in 3.5 s after the prompt, want the persona's reply", after)
	}
	c := calls[0]
	if len(c.Said) != 1 || c.Said[0] != "Yes, that's right." {
		t.Errorf("said %q, want the first utterance only", c.Said)
	}
	if c.BoxSpeechSegments < 1 || c.BoxSpeechMs < 1000 {
		t.Errorf("box speech %d segments / %d ms, want the espeak prompt measured", c.BoxSpeechSegments, c.BoxSpeechMs)
	}
	if c.Persona != "yes" || c.ChosenBy != "default" || c.HungUpBy != ByCaller || c.Codec != "PCMA" {
		t.Errorf("call log %+v", c)
	}
}

func TestGoCallerDTMFPersonaDigitsArrive(t *testing.T) {
	needBinary(t, "espeak-ng")
	t.Parallel()
	s := startSim(t, Config{Rules: []Rule{{Prefix: "+86139", Persona: "dtmf"}}})
	prompt := espeakPrompt(t)
	b := dial(t, s.Addr(), "+8613912345678")
	if err := b.sess.SendDTMF('9', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	<-b.sess.Play(media.NewPCMSource(prompt))
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b.mu.Lock()
		d := b.digits
		b.mu.Unlock()
		if len(d) >= 5 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.mu.Lock()
	got := b.digits
	b.mu.Unlock()
	b.hangup()
	c := waitCalls(t, s, 1)[0]
	if got != "1234#" {
		t.Errorf("box received digits %q via OnDTMF, want 1234#", got)
	}
	if c.DigitsReceived != "9" || c.DigitsSent != "1234#" {
		t.Errorf("call log digits received %q sent %q, want 9 and 1234#", c.DigitsReceived, c.DigitsSent)
	}
}

func TestGoCallerHangupMidwayCalleeSendsBye(t *testing.T) {
	t.Parallel()
	p := Persona{Name: "quick", Kind: KindHangup, HangupAfter: 800 * time.Millisecond, RingFor: 100 * time.Millisecond, Silent: true}
	s := startSim(t, Config{Personas: map[string]Persona{"quick": p}, Default: "quick"})
	b := dial(t, s.Addr(), "555")
	select {
	case <-b.byeSeen:
	case <-time.After(10 * time.Second):
		t.Fatal("the simulator did not send BYE")
	}
	c := waitCalls(t, s, 1)[0]
	if c.HungUpBy != ByCallee || c.EndReason != EndByeSent {
		t.Errorf("call log %+v: want hung up by callee with bye-sent", c)
	}
	if d := c.EndedAt.Sub(c.AnsweredAt); d < 700*time.Millisecond || d > 5*time.Second {
		t.Errorf("callee hung up %v after answering, want about 800 ms", d)
	}
}
