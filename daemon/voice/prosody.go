package voice

// This file holds emotion from audio: per-turn loudness, pitch and speech
// rate of the caller, compared with the caller's own first turn.

import (
	"math"
	"slices"

	"callbox/daemon/flow"
	"callbox/media"
)

// Prosody is what one caller turn sounded like.
type Prosody struct {
	VoicedMs int     // voiced audio measured
	LevelDB  float64 // mean level of voiced frames, dBFS
	PitchHz  float64 // median F0 of voiced frames; 0 when none was found
	Rate     float64 // syllable-like energy peaks per second of speech
}

// minVoicedMs is the least voiced audio a turn needs to be measured.
const minVoicedMs = 300

// prosodyMeter accumulates one turn's frames.
type prosodyMeter struct {
	prev    [media.FrameSamples]int16
	hasPrev bool
	levels  []float64 // dB of every frame inside the utterance
	voiced  []bool
	pitches []float64
	sumDB   float64
	nVoiced int
}

func (m *prosodyMeter) reset() {
	*m = prosodyMeter{levels: m.levels[:0], voiced: m.voiced[:0], pitches: m.pitches[:0]}
}

// add takes one frame of the utterance.
func (m *prosodyMeter) add(r *frameRec) {
	m.levels = append(m.levels, r.db)
	m.voiced = append(m.voiced, r.voiced)
	if r.voiced {
		m.nVoiced++
		m.sumDB += r.db
		if m.hasPrev {
			var buf [2 * media.FrameSamples]int16
			copy(buf[:], m.prev[:])
			copy(buf[media.FrameSamples:], r.pcm[:])
			if f0 := pitch(buf[:]); f0 > 0 {
				m.pitches = append(m.pitches, f0)
			}
		}
	}
	m.prev, m.hasPrev = r.pcm, true
}

// result summarises the turn.
func (m *prosodyMeter) result() Prosody {
	p := Prosody{VoicedMs: m.nVoiced * media.FrameDuration}
	if m.nVoiced == 0 {
		return p
	}
	p.LevelDB = m.sumDB / float64(m.nVoiced)
	if len(m.pitches) > 0 {
		s := slices.Clone(m.pitches)
		slices.Sort(s)
		p.PitchHz = s[len(s)/2]
	}
	// Syllable nuclei: voiced frames that are the loudest within ±2 frames
	// and at least 3 dB above the quietest of that window.
	peaks := 0
	for i, db := range m.levels {
		if !m.voiced[i] {
			continue
		}
		lo, hi := max(0, i-2), min(len(m.levels), i+3)
		isPeak, minDB := true, db
		for j := lo; j < hi; j++ {
			if j != i && (m.levels[j] > db || (m.levels[j] == db && j < i)) {
				isPeak = false
			}
			minDB = min(minDB, m.levels[j])
		}
		if isPeak && db-minDB >= 3 {
			peaks++
		}
	}
	secs := float64(len(m.levels)*media.FrameDuration) / 1000
	if secs > 0 {
		p.Rate = float64(peaks) / secs
	}
	return p
}

// pitch estimates F0 (70-400 Hz) of pcm by normalised autocorrelation;
// 0 when the frame is not periodic enough.
func pitch(pcm []int16) float64 {
	const minLag, maxLag = media.SampleRate / 400, media.SampleRate / 70
	if len(pcm) < 2*maxLag {
		return 0
	}
	var mean float64
	for _, s := range pcm {
		mean += float64(s)
	}
	mean /= float64(len(pcm))
	x := make([]float64, len(pcm))
	for i, s := range pcm {
		x[i] = float64(s) - mean
	}
	n := len(x) - maxLag
	best, bestLag := 0.0, 0
	for lag := minLag; lag <= maxLag; lag++ {
		var num, e0, e1 float64
		for i := 0; i < n; i++ {
			num += x[i] * x[i+lag]
			e0 += x[i] * x[i]
			e1 += x[i+lag] * x[i+lag]
		}
		if e0 == 0 || e1 == 0 {
			continue
		}
		if r := num / math.Sqrt(e0*e1); r > best {
			best, bestLag = r, lag
		}
	}
	if best < 0.5 || bestLag == 0 {
		return 0
	}
	return float64(media.SampleRate) / float64(bestLag)
}

// Arousal rates how much more agitated turn sounds than base (the caller's
// first measured turn), in [0, 1]: louder (6 dB = full), higher pitched
// (+20% = full) and faster (+30% = full), weighted 0.5/0.3/0.2.
func Arousal(base, turn Prosody) float64 {
	if base.VoicedMs < minVoicedMs || turn.VoicedMs < minVoicedMs {
		return 0
	}
	a := 0.5 * max(0, (turn.LevelDB-base.LevelDB)/6)
	if base.PitchHz > 0 && turn.PitchHz > 0 {
		a += 0.3 * max(0, (turn.PitchHz/base.PitchHz-1)/0.2)
	}
	if base.Rate > 0 && turn.Rate > 0 {
		a += 0.2 * max(0, (turn.Rate/base.Rate-1)/0.3)
	}
	return min(1, a)
}

// CombineEmotion merges the text score of a turn (flow.EmotionScore, in
// [-1, 1]) with its audio arousal: agitation pulls a neutral or negative
// turn down by up to 0.5; a positive turn stays positive (excitement is
// not anger).
func CombineEmotion(text, arousal float64) float64 {
	if text > 0 {
		return text
	}
	return max(-1, min(1, text-0.5*arousal))
}

// emotionFor scores one turn.
func emotionFor(lang, text string, base *Prosody, turn Prosody) float64 {
	ts := flow.EmotionScore(lang, text)
	if base == nil {
		return ts
	}
	return CombineEmotion(ts, Arousal(*base, turn))
}
