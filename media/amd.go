package media

// This file holds answering-machine detection on the callee's audio in the
// first seconds after answer: greeting length, words and silences decide
// Human / Machine / NotSure, and a separate detector finds the voicemail
// beep so the bot can leave its message after it.

import (
	"fmt"
	"math"
	"time"
)

// AMDDecision is the verdict of AMD.
type AMDDecision int

// AMD decisions.
const (
	AMDUndecided AMDDecision = iota // no verdict yet
	AMDHuman
	AMDMachine
	AMDNotSure
)

// String names the decision for logs and call records.
func (d AMDDecision) String() string {
	switch d {
	case AMDUndecided:
		return "undecided"
	case AMDHuman:
		return "human"
	case AMDMachine:
		return "machine"
	case AMDNotSure:
		return "notsure"
	}
	return "unknown"
}

// AMD reasons, in AMDResult.Reason.
const (
	AMDReasonInitialSilence = "initial-silence" // nobody spoke within InitialSilence
	AMDReasonLongGreeting   = "long-greeting"   // greeting longer than GreetingLength
	AMDReasonMaxWords       = "max-words"       // MaxWords words or more
	AMDReasonShortGreeting  = "short-greeting"  // short greeting then AfterGreetingSilence
	AMDReasonTimeout        = "timeout"         // TotalAnalysisTime reached
	AMDReasonBeep           = "beep"            // a beep before any other verdict
)

// AMDConfig tunes AMD. Zero fields take the defaults shown.
type AMDConfig struct {
	// InitialSilence: no speech for this long after answer → NotSure.
	// Default 2.5 s.
	InitialSilence time.Duration
	// GreetingLength: a greeting still going after this long → Machine.
	// Default 1.5 s.
	GreetingLength time.Duration
	// AfterGreetingSilence: silence this long after a greeting shorter than
	// GreetingLength → Human. Default 800 ms.
	AfterGreetingSilence time.Duration
	// ShortGreeting, ShortWord and HumanSilence decide a live answer
	// early: a greeting of at most ShortGreeting of speech (first word
	// start to last voiced frame), none of whose words (unbroken voiced
	// stretches) is longer than ShortWord, followed by HumanSilence of
	// silence → Human, without waiting for AfterGreetingSilence. A person
	// says "Hello?" and waits; a recording talks on after a breath between
	// sentences, and reads in long unbroken runs. Defaults 1.4 s, 1 s and
	// 320 ms, tuned on the labelled set (docs/PERFORMANCE.md "Campaigns"):
	// the longest pause inside its machine greetings' first 1.4 s of
	// speech is 280 ms. HumanSilence >= AfterGreetingSilence turns the
	// early decision off.
	ShortGreeting, ShortWord, HumanSilence time.Duration
	// MinWordLength: voiced stretches shorter than this are not words.
	// Default 100 ms.
	MinWordLength time.Duration
	// BetweenWordsSilence: silence that separates two words. Default 50 ms.
	BetweenWordsSilence time.Duration
	// MaxWords: this many words in the greeting → Machine. Default 4.
	MaxWords int
	// TotalAnalysisTime: no verdict after this much audio → NotSure.
	// Default 5 s.
	TotalAnalysisTime time.Duration
	// DisableBeep turns beep detection off.
	DisableBeep bool
	// BeepMinFreq, BeepMaxFreq: the band a beep may sit in. Default
	// 400-2000 Hz.
	BeepMinFreq, BeepMaxFreq float64
	// BeepMinLength: a steady tone at least this long is a beep. Default
	// 150 ms (measured in whole frames, so one frame less is tolerated
	// for a beep that does not start on a frame boundary).
	BeepMinLength time.Duration
	// BeepTimeout: stop looking for a beep after this much audio. Default
	// 30 s.
	BeepTimeout time.Duration
	// SpeechThresholdDB and MinLevelDBFS tune the voiced/unvoiced decision
	// as in VADConfig.
	SpeechThresholdDB, MinLevelDBFS float64
}

func (c AMDConfig) withDefaults() AMDConfig {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.InitialSilence, 2500*time.Millisecond)
	def(&c.GreetingLength, 1500*time.Millisecond)
	def(&c.AfterGreetingSilence, 800*time.Millisecond)
	def(&c.ShortGreeting, 1400*time.Millisecond)
	def(&c.ShortWord, time.Second)
	def(&c.HumanSilence, 320*time.Millisecond)
	def(&c.MinWordLength, 100*time.Millisecond)
	def(&c.BetweenWordsSilence, 50*time.Millisecond)
	def(&c.TotalAnalysisTime, 5*time.Second)
	def(&c.BeepMinLength, 150*time.Millisecond)
	def(&c.BeepTimeout, 30*time.Second)
	if c.MaxWords <= 0 {
		c.MaxWords = 4
	}
	if c.BeepMinFreq <= 0 {
		c.BeepMinFreq = 400
	}
	if c.BeepMaxFreq <= c.BeepMinFreq || c.BeepMaxFreq >= SampleRate/2 {
		c.BeepMaxFreq = max(2000, c.BeepMinFreq+100)
	}
	if c.SpeechThresholdDB <= 0 {
		c.SpeechThresholdDB = DefaultVADThresholdDB
	}
	if c.MinLevelDBFS >= 0 {
		c.MinLevelDBFS = DefaultVADMinLevel
	}
	return c
}

// AMDResult is a report from AMD.Process.
type AMDResult struct {
	Decision AMDDecision
	Reason   string        // one of the AMDReason constants
	At       time.Duration // audio time after answer when the verdict was reached
	Beep     bool          // a beep has been detected
	BeepAt   time.Duration // audio time at which the beep ended its minimum length
	BeepFreq float64       // its frequency in Hz
}

// String formats the result for logs.
func (r AMDResult) String() string {
	s := fmt.Sprintf("%s(%s) at %s", r.Decision, r.Reason, r.At)
	if r.Beep {
		s += fmt.Sprintf(", beep %.0f Hz at %s", r.BeepFreq, r.BeepAt)
	}
	return s
}

// AMD decides whether a human or a machine answered, from the callee's
// audio fed one frame at a time from answer on. It is not safe for
// concurrent use and does not allocate.
type AMD struct {
	cfg AMDConfig
	lvl levelTracker
	t   time.Duration

	res     AMDResult
	decided bool

	words         int
	inWord        bool
	voicedRun     time.Duration
	silenceRun    time.Duration
	greetingStart time.Duration
	lastVoiced    time.Duration // end of the latest voiced frame
	longestWord   time.Duration // longest unbroken voiced run so far

	beepRun  time.Duration // consecutive tonal time at a steady frequency
	beepFreq float64
	beepDone bool
}

// NewAMD returns a detector with cfg (zero fields defaulted).
func NewAMD(cfg AMDConfig) *AMD {
	cfg = cfg.withDefaults()
	return &AMD{cfg: cfg, lvl: newLevelTracker(cfg.SpeechThresholdDB, cfg.MinLevelDBFS)}
}

// Config returns the configuration in use, defaults filled in.
func (a *AMD) Config() AMDConfig { return a.cfg }

// Result returns the latest result (Decision is AMDUndecided until a verdict).
func (a *AMD) Result() AMDResult { return a.res }

// Process consumes one frame of callee audio. It returns ok=true when there
// is news: once when the verdict is reached, and once more when a beep is
// detected after the verdict (Beep set, verdict unchanged). A beep heard
// before any verdict gives Machine with reason "beep" and Beep set in the
// same report.
func (a *AMD) Process(pcm []int16) (AMDResult, bool) {
	if len(pcm) == 0 {
		return a.res, false
	}
	d := samplesToDuration(int64(len(pcm)))
	a.t += d
	beep := a.detectBeep(pcm, d)
	if a.decided {
		return a.res, beep
	}
	if beep {
		return a.decide(AMDMachine, AMDReasonBeep), true
	}
	voiced := a.lvl.classify(pcm, d)
	if voiced {
		a.silenceRun = 0
		a.lastVoiced = a.t
		a.voicedRun += d
		a.longestWord = max(a.longestWord, a.voicedRun)
		if !a.inWord && a.voicedRun >= a.cfg.MinWordLength {
			a.inWord = true
			a.words++
			if a.words == 1 {
				a.greetingStart = a.t - a.voicedRun
			}
			if a.words >= a.cfg.MaxWords {
				return a.decide(AMDMachine, AMDReasonMaxWords), true
			}
		}
	} else {
		a.silenceRun += d
		if a.silenceRun >= a.cfg.BetweenWordsSilence {
			a.voicedRun, a.inWord = 0, false
		}
	}
	switch {
	case a.words > 0 && a.inWord && a.t-a.greetingStart >= a.cfg.GreetingLength:
		return a.decide(AMDMachine, AMDReasonLongGreeting), true
	case a.words > 0 && a.silenceRun >= a.cfg.AfterGreetingSilence:
		return a.decide(AMDHuman, AMDReasonShortGreeting), true
	case a.words > 0 && a.silenceRun >= a.cfg.HumanSilence && a.lastVoiced-a.greetingStart <= a.cfg.ShortGreeting &&
		a.longestWord <= a.cfg.ShortWord:
		return a.decide(AMDHuman, AMDReasonShortGreeting), true
	case a.words == 0 && a.t >= a.cfg.InitialSilence:
		return a.decide(AMDNotSure, AMDReasonInitialSilence), true
	case a.t >= a.cfg.TotalAnalysisTime:
		return a.decide(AMDNotSure, AMDReasonTimeout), true
	}
	return a.res, false
}

func (a *AMD) decide(d AMDDecision, reason string) AMDResult {
	a.decided = true
	a.res.Decision, a.res.Reason, a.res.At = d, reason, a.t
	return a.res
}

// detectBeep looks for a steady pure tone in the beep band and reports true
// once, when one has lasted BeepMinLength.
func (a *AMD) detectBeep(pcm []int16, d time.Duration) bool {
	if a.cfg.DisableBeep || a.beepDone || a.t > a.cfg.BeepTimeout {
		return false
	}
	f, ok := toneFrequency(pcm)
	if !ok || f < a.cfg.BeepMinFreq || f > a.cfg.BeepMaxFreq {
		a.beepRun = 0
		return false
	}
	if a.beepRun > 0 && math.Abs(f-a.beepFreq) > 0.03*a.beepFreq {
		a.beepRun = 0
	}
	if a.beepRun == 0 {
		a.beepFreq = f
	}
	a.beepRun += d
	if a.beepRun+FrameDuration*time.Millisecond < a.cfg.BeepMinLength {
		return false
	}
	a.beepDone = true
	a.res.Beep, a.res.BeepAt, a.res.BeepFreq = true, a.t, a.beepFreq
	return true
}

// Tone test parameters: a frame is a pure tone when one sinusoid carries
// this share of its power, at a level of at least toneMinDBFS.
const (
	tonePurity  = 0.8
	toneMinDBFS = -45
)

// toneFrequency estimates the frequency of a frame from its mean-crossings
// (interpolated) and confirms with a Goertzel filter that a single sinusoid
// carries most of the power.
func toneFrequency(pcm []int16) (float64, bool) {
	n := len(pcm)
	if n < 32 {
		return 0, false
	}
	var sum, sq float64
	for _, s := range pcm {
		sum += float64(s)
		sq += float64(s) * float64(s)
	}
	mean := sum / float64(n)
	power := sq/float64(n) - mean*mean
	if power <= 0 || 10*math.Log10(power)-90.309 < toneMinDBFS {
		return 0, false
	}
	// Upward crossings of the mean, with sub-sample interpolation.
	first, last := -1.0, -1.0
	crossings := 0
	prev := float64(pcm[0]) - mean
	for i := 1; i < n; i++ {
		cur := float64(pcm[i]) - mean
		if prev < 0 && cur >= 0 {
			x := float64(i-1) + (-prev)/(cur-prev)
			if first < 0 {
				first = x
			}
			last = x
			crossings++
		}
		prev = cur
	}
	if crossings < 3 || last <= first {
		return 0, false
	}
	f := float64(crossings-1) * SampleRate / (last - first)
	if f <= 0 || f >= SampleRate/2 {
		return 0, false
	}
	// Goertzel at f over the (DC-removed) frame.
	coef := goertzelCoef(f)
	var s1, s2 float64
	for _, s := range pcm {
		s0 := float64(s) - mean + coef*s1 - s2
		s2, s1 = s1, s0
	}
	p := 2 * (s1*s1 + s2*s2 - coef*s1*s2) / (float64(n) * float64(n))
	if p < tonePurity*power {
		return 0, false
	}
	return f, true
}
