package media

// This file holds the energy voice-activity detector with endpointing, used
// for barge-in and end-of-turn, and the frame level classifier it shares
// with AMD.

import (
	"math"
	"time"
)

// VADEvent is what VAD.Process reports for a frame.
type VADEvent int

// VAD events.
const (
	VADNone        VADEvent = iota // nothing changed
	VADSpeechStart                 // speech has lasted MinSpeech
	VADSpeechEnd                   // speech was followed by EndSilence of silence
)

// String names the event for logs.
func (e VADEvent) String() string {
	switch e {
	case VADNone:
		return "none"
	case VADSpeechStart:
		return "speech-start"
	case VADSpeechEnd:
		return "speech-end"
	}
	return "unknown"
}

// VADConfig tunes the VAD. Zero fields take the defaults shown.
type VADConfig struct {
	// SpeechThresholdDB is how far above the adaptive noise floor a frame
	// must be to count as voiced. Default 12 dB.
	SpeechThresholdDB float64
	// MinLevelDBFS is the absolute level (dBFS, negative) below which a
	// frame is never voiced, whatever the noise floor. Default -50 dBFS.
	MinLevelDBFS float64
	// MinSpeech is how long voiced audio must last (gaps up to MaxGap
	// bridged) before SpeechStart. Default 200 ms; a 100 ms click or cough
	// does not start speech.
	MinSpeech time.Duration
	// EndSilence is how long silence must last after speech before
	// SpeechEnd. Default 500 ms.
	EndSilence time.Duration
	// MaxGap is the longest unvoiced gap bridged while speech is building
	// up to MinSpeech (between syllables). Default 60 ms.
	MaxGap time.Duration
}

// VAD defaults.
const (
	DefaultVADThresholdDB = 12
	DefaultVADMinLevel    = -50
	DefaultVADMinSpeech   = 200 * time.Millisecond
	DefaultVADEndSilence  = 500 * time.Millisecond
	DefaultVADMaxGap      = 60 * time.Millisecond
	// vadInitialFloorCapDB caps the noise floor taken from the first frame.
	vadInitialFloorCapDB = -35
)

func (c VADConfig) withDefaults() VADConfig {
	if c.SpeechThresholdDB <= 0 {
		c.SpeechThresholdDB = DefaultVADThresholdDB
	}
	if c.MinLevelDBFS >= 0 {
		c.MinLevelDBFS = DefaultVADMinLevel
	}
	if c.MinSpeech <= 0 {
		c.MinSpeech = DefaultVADMinSpeech
	}
	if c.EndSilence <= 0 {
		c.EndSilence = DefaultVADEndSilence
	}
	if c.MaxGap <= 0 {
		c.MaxGap = DefaultVADMaxGap
	}
	return c
}

// levelTracker classifies frames as voiced or not against an adaptive noise
// floor estimated by minimum statistics: the floor is the quietest frame of
// the last levelWindow (kept as levelBuckets per-bucket minima), since even
// continuous speech dips to the noise between words while steady noise never
// goes away. The first frame seeds every bucket, capped at
// vadInitialFloorCapDB, so line noise is learnt at once while a callee who is
// already talking in the first frame is still heard as speech.
type levelTracker struct {
	thresholdDB, minLevelDB float64
	floorDB                 float64
	lastDB                  float64
	started                 bool
	buckets                 [levelBuckets]float64 // per-bucket minimum level
	cur                     int                   // bucket being filled
	curDur                  time.Duration         // audio time in the current bucket
}

// Noise floor window: levelBuckets buckets of levelBucketDur.
const (
	levelBuckets   = 8
	levelBucketDur = 250 * time.Millisecond
	levelMinFloor  = -100
)

func newLevelTracker(thresholdDB, minLevelDB float64) levelTracker {
	return levelTracker{thresholdDB: thresholdDB, minLevelDB: minLevelDB, lastDB: -120, floorDB: levelMinFloor}
}

// frameDBFS returns the AC power of pcm in dBFS (a full-scale square wave is
// 0 dBFS); silence gives -120.
func frameDBFS(pcm []int16) float64 {
	if len(pcm) == 0 {
		return -120
	}
	var sum, sq float64
	for _, s := range pcm {
		v := float64(s)
		sum += v
		sq += v * v
	}
	n := float64(len(pcm))
	p := sq/n - (sum/n)*(sum/n)
	if p < 1e-3 {
		return -120
	}
	return 10*math.Log10(p) - 90.309 // 20·log10(32768)
}

// classify updates the floor with one frame lasting d and reports whether
// the frame is voiced.
func (t *levelTracker) classify(pcm []int16, d time.Duration) bool {
	db := max(frameDBFS(pcm), levelMinFloor)
	t.lastDB = db
	if !t.started {
		t.started = true
		for i := range t.buckets {
			t.buckets[i] = min(db, vadInitialFloorCapDB)
		}
	}
	t.buckets[t.cur] = min(t.buckets[t.cur], db)
	floor := t.buckets[0]
	for _, b := range t.buckets[1:] {
		floor = min(floor, b)
	}
	t.floorDB = floor
	t.curDur += d
	if t.curDur >= levelBucketDur {
		t.curDur = 0
		t.cur = (t.cur + 1) % levelBuckets
		t.buckets[t.cur] = math.Inf(1)
	}
	return db >= t.minLevelDB && db >= t.floorDB+t.thresholdDB
}

// VAD is an energy voice-activity detector with endpointing. Feed it the
// callee's audio one frame at a time; it is not safe for concurrent use and
// does not allocate.
type VAD struct {
	cfg     VADConfig
	lvl     levelTracker
	t       time.Duration // audio time processed
	speech  bool          // inside an utterance (SpeechStart sent)
	voiced  time.Duration // voiced time accumulated towards MinSpeech
	gap     time.Duration // current unvoiced run
	onset   time.Duration // start of the first voiced frame of the candidate utterance
	lastEnd time.Duration
}

// NewVAD returns a VAD with cfg (zero fields defaulted).
func NewVAD(cfg VADConfig) *VAD {
	cfg = cfg.withDefaults()
	return &VAD{cfg: cfg, lvl: newLevelTracker(cfg.SpeechThresholdDB, cfg.MinLevelDBFS)}
}

// Config returns the configuration in use, defaults filled in.
func (v *VAD) Config() VADConfig { return v.cfg }

// Process consumes one frame (any length; normally FrameSamples) and reports
// SpeechStart once speech has lasted MinSpeech, SpeechEnd once EndSilence of
// silence followed it, else VADNone.
func (v *VAD) Process(pcm []int16) VADEvent {
	if len(pcm) == 0 {
		return VADNone
	}
	d := samplesToDuration(int64(len(pcm)))
	start := v.t
	v.t += d
	voiced := v.lvl.classify(pcm, d)
	if voiced {
		if v.voiced == 0 {
			v.onset = start
		}
		v.voiced += d
		v.gap = 0
		if !v.speech && v.voiced >= v.cfg.MinSpeech {
			v.speech = true
			return VADSpeechStart
		}
		return VADNone
	}
	v.gap += d
	if v.speech {
		if v.gap >= v.cfg.EndSilence {
			v.speech, v.voiced = false, 0
			v.lastEnd = v.t - v.gap
			return VADSpeechEnd
		}
		return VADNone
	}
	if v.gap > v.cfg.MaxGap {
		v.voiced = 0
	}
	return VADNone
}

// Speaking reports whether the VAD is inside an utterance.
func (v *VAD) Speaking() bool { return v.speech }

// Onset returns the audio time (since the first frame) at which the current
// or last utterance started: with SpeechStart this is when the speech
// actually began, MinSpeech earlier than the event.
func (v *VAD) Onset() time.Duration { return v.onset }

// LastEnd returns the audio time at which the last utterance's speech ended
// (EndSilence before the SpeechEnd event).
func (v *VAD) LastEnd() time.Duration { return v.lastEnd }

// NoiseFloorDBFS returns the current noise floor estimate.
func (v *VAD) NoiseFloorDBFS() float64 { return v.lvl.floorDB }

// LevelDBFS returns the level of the last frame.
func (v *VAD) LevelDBFS() float64 { return v.lvl.lastDB }

// Elapsed returns the audio time processed so far.
func (v *VAD) Elapsed() time.Duration { return v.t }
