package sipua

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"callbox/media"
)

func dialTo(t *testing.T, u *UA, req DialRequest) (*Call, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if req.Trunk == "" {
		req.Trunk = "carrier"
	}
	if req.Number == "" {
		req.Number = "+8613812345678"
	}
	return u.Dial(ctx, req)
}

func testAnsweredCall(t *testing.T, transport string) {
	t.Parallel()
	sp := freePort(t, "127.0.0.1")
	mp := freePort(t, "127.0.0.1")
	args := []string{"-mi", "127.0.0.1", "-mp", strconv.Itoa(mp), "-rtp_echo"}
	if transport == "tcp" {
		args = append(args, "-t", "t1")
	}
	sipp := startSipp(t, "127.0.0.1", "uas_answer.xml", sp, args...)
	if transport == "tcp" {
		waitTCP(t, sp)
	}
	u := newTestUA(t, []string{"udp", "tcp"}, []TrunkConfig{ipTrunk(sp, transport)}, nil)

	c, err := dialTo(t, u, DialRequest{CallerID: "95588", RingTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	info := c.Info()
	if info.AnswerAt.IsZero() || info.InviteAt.IsZero() || info.RingAt.IsZero() || info.Direction != DirectionOutbound || info.CallerID != "95588" {
		t.Fatalf("bad call info %+v", info)
	}
	if n := c.Negotiated(); n.Codec != media.PCMU || n.DTMFPT != 101 || n.Remote == nil || n.Remote.Port != mp {
		t.Fatalf("negotiated %+v, want PCMU/101 to port %d", n, mp)
	}
	if got := len(u.ActiveCalls()); got != 1 {
		t.Fatalf("ActiveCalls = %d, want 1", got)
	}
	// The trunk cap (MaxCalls 1) is reached while this call is up.
	_, err = dialTo(t, u, DialRequest{})
	if !errors.Is(err, ErrTrunkBusy) {
		t.Fatalf("second Dial: want ErrTrunkBusy, got %v", err)
	}
	// SIPp echoes our RTP back.
	eventually(t, 5*time.Second, "echoed RTP", func() bool { return c.Media().Stats().PacketsReceived > 5 })

	if err := c.Hangup(context.Background()); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	if err := c.Hangup(context.Background()); err != nil {
		t.Fatalf("second Hangup: %v", err)
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done not closed after Hangup")
	}
	if end, by, _ := c.End(); end.IsZero() || by != HangupByBox {
		t.Fatalf("End = %v %q, want box", end, by)
	}
	if got := u.Trunks()[0].ActiveCalls; got != 0 {
		t.Fatalf("trunk ActiveCalls after hangup = %d", got)
	}
	sipp.wait(10 * time.Second)
}

func TestAnsweredCallUDP(t *testing.T) { testAnsweredCall(t, "udp") }
func TestAnsweredCallTCP(t *testing.T) { testAnsweredCall(t, "tcp") }

func TestDialBusy(t *testing.T) {
	t.Parallel()
	sp := freePort(t, "127.0.0.1")
	sipp := startSipp(t, "127.0.0.1", "uas_busy.xml", sp)
	u := newTestUA(t, nil, []TrunkConfig{ipTrunk(sp, "udp")}, nil)
	_, err := dialTo(t, u, DialRequest{RingTimeout: 10 * time.Second})
	wantDialError(t, err, Busy, 486)
	if n := len(u.ActiveCalls()); n != 0 {
		t.Fatalf("ActiveCalls = %d after busy", n)
	}
	sipp.wait(10 * time.Second)
}

func TestDialNoAnswerSendsCancel(t *testing.T) {
	t.Parallel()
	sp := freePort(t, "127.0.0.1")
	sipp := startSipp(t, "127.0.0.1", "uas_noanswer.xml", sp)
	u := newTestUA(t, nil, []TrunkConfig{ipTrunk(sp, "udp")}, nil)
	start := time.Now()
	_, err := dialTo(t, u, DialRequest{RingTimeout: 1 * time.Second})
	de := wantDialError(t, err, NoAnswer, 487)
	if !errors.Is(de, context.DeadlineExceeded) {
		t.Fatalf("want wrapped DeadlineExceeded, got %v", err)
	}
	if time.Since(start) < time.Second {
		t.Fatalf("Dial returned before the ring timeout")
	}
	// SIPp exits 0 only if it received our CANCEL and the ACK for 487.
	sipp.wait(10 * time.Second)
}

func TestDialEarlyMedia(t *testing.T) {
	t.Parallel()
	sp := freePort(t, "127.0.0.1")
	mp := freePort(t, "127.0.0.1")
	sipp := startSipp(t, "127.0.0.1", "uas_early.xml", sp, "-mi", "127.0.0.1", "-mp", strconv.Itoa(mp), "-rtp_echo")
	u := newTestUA(t, nil, []TrunkConfig{ipTrunk(sp, "udp")}, nil)
	early := make(chan *Call, 1)
	var echoedEarly uint64
	c, err := dialTo(t, u, DialRequest{RingTimeout: 10 * time.Second, OnEarlyMedia: func(c *Call) {
		// Early media flows (SIPp echoes it) before the 200.
		deadline := time.Now().Add(600 * time.Millisecond)
		for time.Now().Before(deadline) && c.Media().Stats().PacketsReceived == 0 {
			time.Sleep(10 * time.Millisecond)
		}
		echoedEarly = c.Media().Stats().PacketsReceived
		early <- c
	}})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	select {
	case ec := <-early:
		if ec != c {
			t.Fatal("OnEarlyMedia got another call")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OnEarlyMedia not called")
	}
	info := c.Info()
	if info.EarlyMediaAt.IsZero() || !info.EarlyMediaAt.Before(info.AnswerAt) {
		t.Fatalf("EarlyMediaAt %v should precede AnswerAt %v", info.EarlyMediaAt, info.AnswerAt)
	}
	if echoedEarly == 0 {
		t.Fatal("no RTP came back during early media")
	}
	if err := c.Hangup(context.Background()); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	sipp.wait(10 * time.Second)
}

func TestRemoteBye(t *testing.T) {
	t.Parallel()
	sp := freePort(t, "127.0.0.1")
	sipp := startSipp(t, "127.0.0.1", "uas_remote_bye.xml", sp)
	u := newTestUA(t, nil, []TrunkConfig{ipTrunk(sp, "udp")}, nil)
	c, err := dialTo(t, u, DialRequest{RingTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after the callee's BYE")
	}
	if _, by, cause := c.End(); by != HangupByCallee {
		t.Fatalf("hangupBy = %q (%s), want callee", by, cause)
	}
	if err := c.Hangup(context.Background()); err != nil {
		t.Fatalf("Hangup after remote BYE: %v", err)
	}
	sipp.wait(10 * time.Second)
}

func TestReinviteHold(t *testing.T) {
	t.Parallel()
	sp := freePort(t, "127.0.0.1")
	mp := freePort(t, "127.0.0.1")
	sipp := startSipp(t, "127.0.0.1", "uas_reinvite.xml", sp, "-mi", "127.0.0.1", "-mp", strconv.Itoa(mp))
	u := newTestUA(t, nil, []TrunkConfig{ipTrunk(sp, "udp")}, nil)
	c, err := dialTo(t, u, DialRequest{RingTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if d := c.Negotiated().Local; d != media.SendRecv {
		t.Fatalf("direction before hold = %v", d)
	}
	eventually(t, 5*time.Second, "hold via re-INVITE", func() bool { return c.Negotiated().Local == media.RecvOnly })
	if d := c.Media().Direction(); d != media.RecvOnly {
		t.Fatalf("media direction = %v, want RecvOnly", d)
	}
	if err := c.Hangup(context.Background()); err != nil {
		t.Fatalf("Hangup: %v", err)
	}
	// SIPp checks our 200 carried a=recvonly.
	sipp.wait(10 * time.Second)
}

func TestRegisterRefreshUnregister(t *testing.T) {
	t.Parallel()
	sp := freePort(t, "127.0.0.1")
	sipp := startSipp(t, "127.0.0.1", "uas_register.xml", sp)
	tr := ipTrunk(sp, "udp")
	tr.Auth, tr.Username, tr.Password, tr.Realm, tr.RegisterExpiry = AuthRegister, "alice", "s3cret", "callbox.test", time.Minute
	u := newTestUA(t, nil, []TrunkConfig{tr}, nil)

	eventually(t, 5*time.Second, "first registration", func() bool { return u.Trunks()[0].Registered })
	first := u.Trunks()[0]
	if d := time.Until(first.NextRefresh); d > 2*time.Second {
		t.Fatalf("refresh in %v, want ~1.6s (80%% of 2s)", d)
	}
	// The registrar granted 2 s; the refresh gets 60 s (refresh in ~48 s).
	eventually(t, 6*time.Second, "refresh registration", func() bool {
		s := u.Trunks()[0]
		return s.Registered && time.Until(s.NextRefresh) > 30*time.Second
	})
	if err := u.Close(); err != nil {
		t.Fatalf("Close (unregister): %v", err)
	}
	if s := u.Trunks()[0]; s.RegState != RegUnregistered {
		t.Fatalf("RegState after Close = %q", s.RegState)
	}
	sipp.wait(10 * time.Second)
}

func TestOptionsKeepalive(t *testing.T) {
	t.Parallel()
	sp := freePort(t, "127.0.0.1")
	tr := ipTrunk(sp, "udp")
	tr.OptionsInterval, tr.OptionsFailures = 150*time.Millisecond, 2
	u := newTestUA(t, nil, []TrunkConfig{tr}, nil)
	// Nothing listens on the trunk port: OPTIONS go unanswered.
	eventually(t, 5*time.Second, "trunk down", func() bool { return !u.Trunks()[0].Up })
	_, err := dialTo(t, u, DialRequest{})
	wantDialError(t, err, Unreachable, 0)
	if !errors.Is(err, ErrTrunkDown) {
		t.Fatalf("want ErrTrunkDown, got %v", err)
	}
	sipp := startSipp(t, "127.0.0.1", "uas_options.xml", sp, "-m", "1000")
	eventually(t, 5*time.Second, "trunk up again", func() bool { return u.Trunks()[0].Up })
	if u.Trunks()[0].LastOptionsAt.IsZero() {
		t.Fatal("LastOptionsAt not set")
	}
	_ = sipp
}
