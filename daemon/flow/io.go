package flow

import (
	"context"
	"log/slog"
	"time"
)

// IO is how the interpreter reaches the call's audio. The daemon implements
// it over TTS, ASR, DTMF and VAD; callboxctl implements it over a terminal.
type IO interface {
	// Say speaks text. When interruptible is true the caller may barge in;
	// bargedIn reports that they did.
	Say(ctx context.Context, text string, interruptible bool) (bargedIn bool, err error)
	// Listen waits for one caller turn (speech or DTMF).
	Listen(ctx context.Context, opts ListenOpts) (Input, error)
	// Transfer hands the call to target (SIP URI or agent queue). For warm
	// transfers summary is spoken to the agent first.
	Transfer(ctx context.Context, mode, target, summary string) error
	// Hangup ends the call.
	Hangup(ctx context.Context) error
}

// RecordingControl is implemented by an IO whose call is recorded: a set
// node's recording: paused|resumed calls it (for the moments a caller reads
// out card data). An IO without it, or an error from it, is logged and the
// dialogue goes on; the transcript notes the change either way.
type RecordingControl interface {
	SetRecording(ctx context.Context, paused bool) error
}

// ListenMode says which input an ask or menu takes.
type ListenMode int

// Listen modes.
const (
	ListenSpeech ListenMode = iota // speech, DTMF also reported
	ListenDTMF                     // DTMF first; speech still reported for opt-out
)

// ListenOpts configures one Listen.
type ListenOpts struct {
	Node       string
	Lang       string
	Mode       ListenMode
	Expect     []string      // intents the ask expects (hint for ASR/NLU)
	Timeout    time.Duration // no input after this → Input.NoInput
	EndSilence time.Duration // end of utterance after this much silence
	MaxDigits  int           // menu: stop collecting after this many keys
}

// Input is one caller turn.
type Input struct {
	Text       string
	Digits     string
	NoInput    bool
	Confidence float64  // ASR confidence in [0, 1]; 0 when unknown
	Partials   []string // interim ASR hypotheses, for the transcript/debugging
	// Emotion, when set, is the turn's emotion score in [-1, 1] computed by
	// the IO (text and audio); nil lets the interpreter score the text.
	Emotion *float64
}

// Turn is one transcript entry.
type Turn struct {
	Who        string // "bot", "caller" or "system"
	Node       string
	Text       string
	Digits     string  `json:",omitempty"`
	Intent     string  `json:",omitempty"`
	Confidence float64 `json:",omitempty"`
	Emotion    float64 `json:",omitempty"`
	BargedIn   bool    `json:",omitempty"`
	NoInput    bool    `json:",omitempty"`
	Start, End time.Time
}

// Outcome is what a call's dialogue produced. Run returns it even with an
// error, so nothing said or decided is lost.
type Outcome struct {
	Disposition   string
	IntentLevel   string
	Tags          map[string]string
	Slots         map[string]string
	OptOut        bool
	Transferred   bool
	Transcript    []Turn
	EmotionScores []float64
	FailedTurns   int
	// ResumeNode is the last say/ask/menu node reached when the call was
	// cut off (error or cancelled context); "" when the flow ended itself.
	ResumeNode string
}

// RunOptions tunes one Run.
type RunOptions struct {
	Now      func() time.Time // clock for hour/weekday and transcript times; time.Now when nil
	Logger   *slog.Logger     // slog.Default() when nil
	NLU      NLU              // optional fallback classifier
	MaxSteps int              // node executions before ErrStepLimit; 1000 when zero
	CallID   string           // for log lines
	// Resume marks a callback after a call that was cut off. When the
	// flow is resumable it says the disclosure, then ResumeText, then
	// continues at ResumeAt (a say/ask/menu node; Start when empty);
	// otherwise the run starts over at Start as a new call.
	Resume   bool
	ResumeAt string
	// OnProgress, when set, is called with each say/ask/menu node as the
	// run reaches it (a callback's resume point); it must not block long.
	OnProgress func(node string)
}
