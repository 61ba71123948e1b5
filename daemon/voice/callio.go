package voice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"callbox/daemon/flow"
	"callbox/daemon/speech"
	"callbox/media"
)

// Defaults for Config fields left zero.
const (
	DefaultBargeInMinSpeech = 200 * time.Millisecond
	DefaultASRTimeout       = 4 * time.Second
	DefaultMaxUtterance     = 15 * time.Second
	DefaultInterDigit       = 2 * time.Second
)

// Config wires a CallIO to one answered call.
type Config struct {
	Session *media.Session         // required: the call's media
	TTS     speech.Synthesizer     // required: prompts (normally the cache)
	Voice   speech.Voice           // voice of the prompts
	ASR     speech.Recognizer      // nil: DTMF only, every spoken turn is no-input
	Lang    string                 // flow language, for the text emotion score
	DTMF    <-chan media.DTMFEvent // the call's received digits
	Done    <-chan struct{}        // closed when the call ends
	// Phrases maps a node's expected intents to the phrases the ASR may
	// hear (its grammar); nil sends no phrases.
	Phrases func(expect []string) []string
	// Hangup and Transfer implement the flow's hangup and transfer nodes.
	Hangup   func(ctx context.Context) error
	Transfer func(ctx context.Context, mode, target, summary string) error
	// SetRecording implements a set node's recording: paused|resumed
	// (flow.RecordingControl); nil: the call is not recorded.
	SetRecording func(paused bool) error
	// OnRecognized, when set, is called after each spoken turn the ASR
	// worked on with the time from the endpoint (end silence elapsed) to
	// its final result, and whether it failed or timed out (metrics).
	OnRecognized func(took time.Duration, failed bool)

	// BargeInMinSpeech is how long the caller must speak before an
	// interruptible prompt stops (a cough or "mm" is shorter). Default
	// 200 ms; the prompt stops on the next 20 ms tick after that.
	BargeInMinSpeech time.Duration
	// EndSilence ends a turn when the flow node gives none; default 500 ms.
	EndSilence time.Duration
	// ASRTimeout bounds the wait for the recognizer's final result after
	// the caller's end of speech; then the turn is no-input. Default 4 s.
	ASRTimeout time.Duration
	// MaxUtterance ends a turn that is still speech after this; default 15 s.
	MaxUtterance time.Duration
	VAD          media.VADConfig // thresholds; MinSpeech and EndSilence are set from the fields above
	Now          func() time.Time
	Log          *slog.Logger
}

// BargeIn is one prompt stopped by the caller.
type BargeIn struct {
	Onset   time.Time // first voiced frame of the caller's speech
	Stopped time.Time // when the prompt was stopped (the next tick sends no more of it)
}

// TurnTiming is where the time of one caller turn and the reply went.
type TurnTiming struct {
	Node        string
	SpeechEnd   time.Time // last voiced frame of the caller
	Endpoint    time.Time // end silence elapsed: the turn is over
	ASRDone     time.Time // final result (or failure) arrived
	ListenDone  time.Time // Listen returned
	SayStart    time.Time // the reply's Say was called
	TTSDone     time.Time // the reply's audio was ready
	FirstRTP    time.Time // the reply's first frame went out
	TTSCached   bool      // the reply came from the TTS cache (quick)
	ASRFailed   bool
	NoInput     bool
	Digits      bool
	PartialsNum int
}

// CallIO implements flow.IO over one call. Say and Listen are called from
// the interpreter's goroutine only.
type CallIO struct {
	cfg Config
	log *slog.Logger
	cap *capture

	pending  string   // digits received while a prompt played; interpreter goroutine only
	base     *Prosody // caller's first measured turn; interpreter goroutine only
	meter    prosodyMeter
	lastTurn *TurnTiming // awaiting its reply; interpreter goroutine only

	mu      sync.Mutex
	timings []TurnTiming // guarded by mu
	barges  []BargeIn    // guarded by mu
	closed  bool         // guarded by mu
}

var (
	_ flow.IO               = (*CallIO)(nil)
	_ flow.RecordingControl = (*CallIO)(nil)
)

// SetRecording implements flow.RecordingControl through Config.SetRecording.
func (c *CallIO) SetRecording(_ context.Context, paused bool) error {
	if c.cfg.SetRecording == nil {
		return ErrNoRecording
	}
	return c.cfg.SetRecording(paused)
}

// New attaches a CallIO to cfg.Session (its inbound sink). Close detaches it.
func New(cfg Config) (*CallIO, error) {
	if cfg.Session == nil || cfg.TTS == nil || cfg.Done == nil {
		return nil, fmt.Errorf("%w: Session, TTS and Done are required", ErrConfig)
	}
	if cfg.BargeInMinSpeech <= 0 {
		cfg.BargeInMinSpeech = DefaultBargeInMinSpeech
	}
	if cfg.EndSilence <= 0 {
		cfg.EndSilence = flow.DefaultEndSilence
	}
	if cfg.ASRTimeout <= 0 {
		cfg.ASRTimeout = DefaultASRTimeout
	}
	if cfg.MaxUtterance <= 0 {
		cfg.MaxUtterance = DefaultMaxUtterance
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	vc := cfg.VAD
	vc.MinSpeech = cfg.BargeInMinSpeech
	vc.EndSilence = 200 * time.Millisecond // re-arms speech start quickly; turns end on EndSilence here
	c := &CallIO{cfg: cfg, log: cfg.Log, cap: newCapture(vc, cfg.Now)}
	cfg.Session.SetInboundSink(c.cap)
	return c, nil
}

// Close detaches the CallIO from the session. Idempotent.
func (c *CallIO) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.cfg.Session.SetInboundSink(nil)
		c.cap.setBarge(nil)
	}
	return nil
}

// Timings returns the per-turn timings so far.
func (c *CallIO) Timings() []TurnTiming {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]TurnTiming(nil), c.timings...)
}

// BargeIns returns the prompts the caller stopped.
func (c *CallIO) BargeIns() []BargeIn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]BargeIn(nil), c.barges...)
}

// DroppedFrames counts caller frames lost because the listener fell behind.
func (c *CallIO) DroppedFrames() int { return c.cap.droppedFrames() }

// firstRead records when the clock first read a prompt.
type firstRead struct {
	src media.FrameSource
	at  atomic.Int64
	now func() time.Time
}

func (f *firstRead) ReadFrame(pcm []int16) (int, error) {
	if f.at.Load() == 0 {
		f.at.Store(f.now().UnixNano())
	}
	return f.src.ReadFrame(pcm)
}

// Say implements flow.IO: synthesise (cache first) and play; an
// interruptible prompt stops when the caller really speaks or presses a key.
func (c *CallIO) Say(ctx context.Context, text string, interruptible bool) (bool, error) {
	if err := c.ended(ctx); err != nil {
		return false, err
	}
	start := c.cfg.Now()
	pcm, err := c.cfg.TTS.Synthesize(ctx, text, c.cfg.Voice)
	if err != nil {
		return false, fmt.Errorf("voice: synthesis: %w", err)
	}
	ttsDone := c.cfg.Now()
	src := &firstRead{src: media.NewPCMSource(pcm), now: c.cfg.Now}
	var barged atomic.Bool
	sess := c.cfg.Session
	if interruptible {
		c.cap.setBarge(func(onset time.Time) {
			sess.StopPlay() // on the clock worker: the next tick sends silence
			barged.Store(true)
			c.mu.Lock()
			c.barges = append(c.barges, BargeIn{Onset: onset, Stopped: c.cfg.Now()})
			c.mu.Unlock()
		})
	}
	done := sess.Play(src)
	defer func() {
		c.cap.setBarge(nil)
		if t := c.lastTurn; t != nil {
			t.SayStart, t.TTSDone, t.TTSCached = start, ttsDone, ttsDone.Sub(start) < 5*time.Millisecond
			if at := src.at.Load(); at != 0 {
				t.FirstRTP = time.Unix(0, at)
			}
			c.mu.Lock()
			c.timings = append(c.timings, *t)
			c.mu.Unlock()
			c.lastTurn = nil
		}
	}()
	for {
		select {
		case <-done:
			return barged.Load(), nil
		case ev := <-c.cfg.DTMF:
			c.pending += string(ev.Digit)
			if interruptible {
				sess.StopPlay()
				barged.Store(true)
			}
		case <-c.cfg.Done:
			sess.StopPlay()
			return barged.Load(), ErrCallEnded
		case <-ctx.Done():
			sess.StopPlay()
			return barged.Load(), ctx.Err()
		}
	}
}

func (c *CallIO) ended(ctx context.Context) error {
	select {
	case <-c.cfg.Done:
		return ErrCallEnded
	default:
	}
	return ctx.Err()
}

// digitsComplete reports whether collected digits end the turn.
func digitsComplete(d string, opts flow.ListenOpts) bool {
	if d == "" {
		return false
	}
	if strings.HasSuffix(d, "#") {
		return true
	}
	want := opts.MaxDigits
	if want <= 0 {
		want = 1
	}
	return len(d) >= want
}

// Listen implements flow.IO: one caller turn of speech or DTMF.
func (c *CallIO) Listen(ctx context.Context, opts flow.ListenOpts) (flow.Input, error) {
	if err := c.ended(ctx); err != nil {
		return flow.Input{}, err
	}
	t := &TurnTiming{Node: opts.Node}
	defer func() {
		t.ListenDone = c.cfg.Now()
		c.lastTurn = t
	}()
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = flow.DefaultTimeout
	}
	endSil := opts.EndSilence
	if endSil <= 0 {
		endSil = c.cfg.EndSilence
	}
	digits := c.pending
	c.pending = ""
	if digitsComplete(digits, opts) {
		t.Digits = true
		return flow.Input{Digits: strings.TrimSuffix(digits, "#")}, nil
	}

	turnCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stream speech.Stream
	var results <-chan speech.Result
	asrFailed := false
	if c.cfg.ASR != nil {
		var phrases []string
		if c.cfg.Phrases != nil {
			phrases = c.cfg.Phrases(opts.Expect)
		}
		s, err := c.cfg.ASR.Start(turnCtx, speech.ListenOptions{Lang: opts.Lang, Phrases: phrases})
		if err != nil {
			c.log.Warn("asr not started; this turn takes DTMF only", "node", opts.Node, "err", err)
			asrFailed = true
		} else {
			stream, results = s, s.Results()
			defer s.Close()
		}
	}
	c.cap.arm(prerollFrames)
	defer c.cap.disarm()
	c.meter.reset()

	noInput := time.NewTimer(timeout)
	defer noInput.Stop()
	interDigit := time.NewTimer(time.Hour)
	interDigit.Stop()
	defer interDigit.Stop()
	if digits != "" {
		noInput.Stop()
		interDigit.Reset(DefaultInterDigit)
	}

	var (
		pre       []frameRec // frames before the onset, written when speech starts
		inSpeech  bool
		silence   time.Duration
		uttLen    time.Duration
		endpoint  bool
		finals    []string
		partials  []string
		conf      float64
		asrWait   <-chan time.Time
		writeFail bool
	)
	const frameDur = media.FrameDuration * time.Millisecond
	write := func(r *frameRec) {
		if stream == nil || writeFail {
			return
		}
		if err := stream.Write(r.pcm[:]); err != nil {
			c.log.Warn("asr write failed; the turn ends as no-input", "node", opts.Node, "err", err)
			writeFail, asrFailed = true, true
		}
	}
	finish := func() (flow.Input, error) {
		in := flow.Input{Digits: strings.TrimSuffix(digits, "#"), Partials: partials, Confidence: conf}
		if !asrFailed {
			in.Text = strings.TrimSpace(strings.Join(finals, " "))
		}
		t.ASRFailed, t.PartialsNum, t.Digits = asrFailed, len(partials), digits != ""
		if stream != nil && endpoint && !t.ASRDone.IsZero() && c.cfg.OnRecognized != nil {
			c.cfg.OnRecognized(t.ASRDone.Sub(t.Endpoint), asrFailed)
		}
		if in.Text != "" {
			p := c.meter.result()
			score := emotionFor(c.cfg.Lang, in.Text, c.base, p)
			in.Emotion = &score
			if c.base == nil && p.VoicedMs >= minVoicedMs {
				c.base = &p
			}
		}
		if in.Text == "" && in.Digits == "" {
			in.NoInput = true
			t.NoInput = true
		}
		return in, nil
	}
	for {
		select {
		case <-ctx.Done():
			return flow.Input{}, ctx.Err()
		case <-c.cfg.Done:
			return flow.Input{}, ErrCallEnded
		case ev := <-c.cfg.DTMF:
			digits += string(ev.Digit)
			noInput.Stop()
			if digitsComplete(digits, opts) && (opts.Mode == flow.ListenDTMF || opts.MaxDigits > 0 || strings.HasSuffix(digits, "#")) {
				return finish()
			}
			interDigit.Reset(DefaultInterDigit)
		case <-interDigit.C:
			return finish()
		case <-noInput.C:
			if !inSpeech {
				return finish()
			}
		case <-asrWait:
			c.log.Warn("asr gave no final result in time; the turn ends as no-input", "node", opts.Node, "timeout", c.cfg.ASRTimeout)
			asrFailed = true
			t.ASRDone = c.cfg.Now()
			return finish()
		case r, ok := <-results:
			if !ok {
				results = nil
				if err := stream.Err(); err != nil {
					c.log.Warn("asr failed; the turn ends as no-input", "node", opts.Node, "err", err)
					asrFailed = true
				}
				if endpoint || asrFailed {
					t.ASRDone = c.cfg.Now()
					if endpoint {
						return finish()
					}
				}
				continue
			}
			if r.Final {
				if s := strings.TrimSpace(r.Text); s != "" {
					finals = append(finals, s)
					conf = r.Confidence
				}
			} else if s := strings.TrimSpace(r.Text); s != "" {
				partials = append(partials, s)
			}
		case r := <-c.cap.out:
			if endpoint {
				continue
			}
			if !inSpeech {
				if r.ev != media.VADSpeechStart && !r.speaking {
					pre = append(pre, r)
					if len(pre) > prerollFrames {
						pre = pre[1:]
					}
					continue
				}
				inSpeech = true
				noInput.Stop()
				for i := range pre {
					write(&pre[i])
				}
				pre = nil
			}
			c.meter.add(&r)
			write(&r)
			uttLen += frameDur
			if r.voiced {
				silence = 0
				t.SpeechEnd = r.at
			} else {
				silence += frameDur
			}
			if silence >= endSil || uttLen >= c.cfg.MaxUtterance {
				endpoint = true
				t.Endpoint = c.cfg.Now()
				if stream == nil || asrFailed {
					t.ASRDone = t.Endpoint
					return finish()
				}
				if err := stream.CloseSend(); err != nil {
					c.log.Warn("asr close-send failed; the turn ends as no-input", "node", opts.Node, "err", err)
					asrFailed = true
					t.ASRDone = t.Endpoint
					return finish()
				}
				if results == nil { // already closed
					t.ASRDone = t.Endpoint
					return finish()
				}
				asrWait = time.After(c.cfg.ASRTimeout)
			}
		}
	}
}

// Transfer implements flow.IO through the daemon's hook.
func (c *CallIO) Transfer(ctx context.Context, mode, target, summary string) error {
	if c.cfg.Transfer == nil {
		return ErrNoTransfer
	}
	c.cfg.Session.StopPlay()
	return c.cfg.Transfer(ctx, mode, target, summary)
}

// Hangup implements flow.IO.
func (c *CallIO) Hangup(ctx context.Context) error {
	c.cfg.Session.StopPlay()
	if c.cfg.Hangup == nil {
		return nil
	}
	if err := c.cfg.Hangup(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
