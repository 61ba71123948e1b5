package voice

import (
	"context"
	"errors"
	"testing"
	"time"

	"callbox/daemon/flow"
	"callbox/daemon/speech"
	"callbox/media"
)

// newIO builds a CallIO on the pair's box session.
func newIO(t *testing.T, p *pair, asr speech.Recognizer, dtmf chan media.DTMFEvent) *CallIO {
	t.Helper()
	if dtmf == nil {
		dtmf = make(chan media.DTMFEvent, 16)
	}
	p.box.OnDTMF(func(ev media.DTMFEvent) {
		select {
		case dtmf <- ev:
		default:
		}
	})
	io, err := New(Config{Session: p.box, TTS: testTTS(t), Voice: speech.Voice{Name: "en-us"}, ASR: asr,
		Lang: flow.LangEN, DTMF: dtmf, Done: p.done, ASRTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { io.Close() })
	return io
}

const longPrompt = "Hello, this is a long prompt from the automated assistant of Example Bank, about your appointment next Tuesday at ten in the morning at the city branch."

// Real speech from the caller stops an interruptible prompt within 300 ms
// of its onset; the time is measured from the caller's first sent frame to
// the prompt being stopped on the box.
func TestBargeInStopsPromptWithin300ms(t *testing.T) {
	p := newPair(t)
	io := newIO(t, p, nil, nil)
	talk := &timedSource{src: media.NewPCMSource(speak(t, "Sorry, who is this? What is this about?"))}
	time.AfterFunc(1200*time.Millisecond, func() { p.peer.Play(talk) })
	start := time.Now()
	barged, err := io.Say(context.Background(), longPrompt, true)
	if err != nil {
		t.Fatal(err)
	}
	if !barged {
		t.Fatalf("prompt not barged in after %v", time.Since(start))
	}
	bs := io.BargeIns()
	if len(bs) != 1 {
		t.Fatalf("barge-ins = %d, want 1", len(bs))
	}
	lat := bs[0].Stopped.Sub(talk.started())
	t.Logf("barge-in: caller speech sent at +%v, prompt stopped %v after it (VAD onset estimate %v before stop)",
		talk.started().Sub(start).Round(time.Millisecond), lat.Round(time.Millisecond), bs[0].Stopped.Sub(bs[0].Onset).Round(time.Millisecond))
	if lat <= 0 || lat > 300*time.Millisecond {
		t.Fatalf("prompt stopped %v after the caller's speech onset; want ≤ 300 ms", lat)
	}
}

// A 100 ms noise burst (a cough, a click) does not stop the prompt, nor
// does speech during a non-interruptible prompt (the disclosure).
func TestNoBargeInOnNoiseBurstOrDisclosure(t *testing.T) {
	p := newPair(t)
	io := newIO(t, p, nil, nil)
	time.AfterFunc(800*time.Millisecond, func() { p.peer.Play(media.NewPCMSource(noise(100 * time.Millisecond))) })
	time.AfterFunc(2500*time.Millisecond, func() { p.peer.Play(media.NewPCMSource(noise(100 * time.Millisecond))) })
	barged, err := io.Say(context.Background(), "This call is from the automated assistant of Example Bank, please hold on.", true)
	if err != nil {
		t.Fatal(err)
	}
	if barged || len(io.BargeIns()) != 0 {
		t.Fatalf("a 100 ms noise burst stopped the prompt: %+v", io.BargeIns())
	}
	time.AfterFunc(500*time.Millisecond, func() { p.peer.Play(media.NewPCMSource(speak(t, "Sorry, who is this?"))) })
	barged, err = io.Say(context.Background(), "This call is from the automated assistant of Example Bank.", false)
	if err != nil {
		t.Fatal(err)
	}
	if barged {
		t.Fatal("the non-interruptible disclosure was interrupted")
	}
}

// An ASR engine that hangs never leaves dead air: the turn ends as
// no-input within end silence + ASR timeout of the caller's last word.
func TestHungASRFallsBackToNoInput(t *testing.T) {
	p := newPair(t)
	asr := &hungASR{}
	io := newIO(t, p, asr, nil)
	talk := &timedSource{src: media.NewPCMSource(speak(t, "Yes, that's right."))}
	time.AfterFunc(300*time.Millisecond, func() { p.peer.Play(talk) })
	start := time.Now()
	in, err := io.Listen(context.Background(), flow.ListenOpts{Node: "q", Lang: "en", Timeout: 5 * time.Second, EndSilence: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if !in.NoInput || in.Text != "" {
		t.Fatalf("input = %+v, want no-input", in)
	}
	tm := io.cfgTimingsForTest()
	if len(tm) == 0 || !tm[0].ASRFailed {
		t.Fatalf("turn not marked ASR failed: %+v", tm)
	}
	// speech ~1.3 s + 0.5 s end silence + 1 s ASR timeout, never the 5 s no-input timeout
	if took > 4*time.Second || asr.started.Load() != 1 {
		t.Fatalf("turn took %v (asr starts %d); the caller waited in dead air", took, asr.started.Load())
	}
	t.Logf("hung ASR: turn over %v after listen start (speech end → done %v)", took.Round(time.Millisecond), tm[0].ASRDone.Sub(tm[0].SpeechEnd).Round(time.Millisecond))
}

// With the ASR engine down, DTMF still answers the turn.
func TestDTMFWorksWithASRDown(t *testing.T) {
	p := newPair(t)
	io := newIO(t, p, downASR{}, nil)
	time.AfterFunc(400*time.Millisecond, func() {
		_ = p.peer.SendDTMF('2', 120*time.Millisecond)
	})
	in, err := io.Listen(context.Background(), flow.ListenOpts{Node: "menu", Lang: "en", Mode: flow.ListenDTMF, MaxDigits: 1, Timeout: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if in.Digits != "2" {
		t.Fatalf("input = %+v, want digit 2", in)
	}
}

type downASR struct{}

func (downASR) Start(context.Context, speech.ListenOptions) (speech.Stream, error) {
	return nil, errors.New("connection refused")
}

// A call that ends mid-prompt returns ErrCallEnded at once.
func TestSayReturnsWhenCallEnds(t *testing.T) {
	p := newPair(t)
	io := newIO(t, p, nil, nil)
	time.AfterFunc(300*time.Millisecond, func() { close(p.done) })
	_, err := io.Say(context.Background(), longPrompt, false)
	if !errors.Is(err, ErrCallEnded) {
		t.Fatalf("err = %v, want ErrCallEnded", err)
	}
}
