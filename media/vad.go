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
	// vadInitialFloorDB is the noise floor assumed before any audio.
	vadInitialFloorDB = -70
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
// floor. The floor drops at once to a quieter frame, rises with a ~300 ms
// time constant on unvoiced frames, and creeps up (~0.5 dB/s) during long
// voiced stretches so steady noise is eventually learnt as the floor.
type levelTracker struct {
	thresholdDB, minLevelDB float64
	floorDB                 float64
	lastDB                  float64
}

func newLevelTracker(thresholdDB, minLevelDB float64) levelTracker {
	return levelTracker{thresholdDB: thresholdDB, minLevelDB: minLevelDB, floorDB: vadInitialFloorDB, lastDB: -120}
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
	db := frameDBFS(pcm)
	t.lastDB = db
	voiced := db >= t.minLevelDB && db >= t.floorDB+t.thresholdDB
	sec := d.Seconds()
	switch {
	case db < t.floorDB:
		t.floorDB = db
	case !voiced:
		a := 1 - math.Exp(-sec/0.3)
		t.floorDB += a * (db - t.floorDB)
	default:
		t.floorDB += 0.5 * sec
	}
	if t.floorDB < -100 {
		t.floorDB = -100
	}
	return voiced
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
