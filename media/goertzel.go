package media

// This file holds in-band DTMF detection: Goertzel filters over the eight
// DTMF frequencies on a sliding 20 ms window with a 10 ms hop, with level,
// twist and relative-energy checks that reject speech, music and noise.

import (
	"math"
	"time"
)

// dtmfRowFreqs and dtmfColFreqs are the DTMF low (row) and high (column)
// group frequencies in Hz.
var (
	dtmfRowFreqs = [4]float64{697, 770, 852, 941}
	dtmfColFreqs = [4]float64{1209, 1336, 1477, 1633}
	dtmfKeypad   = [4][4]rune{
		{'1', '2', '3', 'A'},
		{'4', '5', '6', 'B'},
		{'7', '8', '9', 'C'},
		{'*', '0', '#', 'D'},
	}
)

// Detector tuning. Powers are mean powers of the sinusoid (A²/2) in squared
// sample units.
const (
	goertzelWindow = FrameSamples     // 20 ms analysis window
	goertzelHop    = FrameSamples / 2 // 10 ms between analyses
	// dtmfHitsNeeded consecutive hits of one key (window 20 ms + 2 hops of
	// 10 ms) span 40 ms of tone.
	dtmfHitsNeeded = 3
	// dtmfMissesToRelease consecutive non-hits end a key press (20 ms).
	dtmfMissesToRelease = 2
	// dtmfMinTonePower: each of the two tones must have at least this mean
	// power: amplitude ≈ 250 of 32767, about -42 dBFS (-39 dBm0).
	dtmfMinTonePower = 250 * 250 / 2
	// dtmfMaxTwist: the two tones may differ by at most 8 dB either way.
	dtmfMaxTwist = 6.31 // 8 dB as a power ratio
	// dtmfPeakRatio: the strongest frequency of each group must beat the
	// other three of the group by 8 dB.
	dtmfPeakRatio = 6.31
	// dtmfEnergyRatio: the two tones must carry at least this share of the
	// window's total power (speech and music spread their energy).
	dtmfEnergyRatio = 0.75
)

// goertzelCoef returns 2·cos(2πf/fs) for a Goertzel filter at f Hz.
func goertzelCoef(f float64) float64 {
	return 2 * math.Cos(2*math.Pi*f/SampleRate)
}

// goertzelPower returns the mean power (A²/2 for a sinusoid of amplitude A)
// of the component of x at the frequency whose coefficient is coef.
func goertzelPower(x []float64, coef float64) float64 {
	var s1, s2 float64
	for _, v := range x {
		s0 := v + coef*s1 - s2
		s2, s1 = s1, s0
	}
	p := s1*s1 + s2*s2 - coef*s1*s2
	n := float64(len(x))
	return 2 * p / (n * n)
}

// InbandDetector finds DTMF key presses in 8 kHz PCM. Create it with
// NewInbandDetector; it is not safe for concurrent use. All state is
// preallocated: Process does not allocate.
type InbandDetector struct {
	ring   [goertzelWindow]float64 // last goertzelWindow samples, circular
	pos    int                     // next write position in ring
	filled int                     // samples in ring (up to goertzelWindow)
	sinceA int                     // samples since the last analysis
	win    [goertzelWindow]float64 // linearised copy of ring for analysis

	rowCoef, colCoef [4]float64
	cand             rune // key seen in the last hits, 0 if none
	hits, misses     int
	reported         bool // cand has been reported for this press
	pending          DTMFEvent
	havePending      bool
}

// NewInbandDetector returns a detector ready for the first frame.
func NewInbandDetector() *InbandDetector {
	d := &InbandDetector{}
	for i := range 4 {
		d.rowCoef[i] = goertzelCoef(dtmfRowFreqs[i])
		d.colCoef[i] = goertzelCoef(dtmfColFreqs[i])
	}
	return d
}

// Reset forgets all audio and detection state.
func (d *InbandDetector) Reset() {
	fresh := NewInbandDetector()
	*d = *fresh
}

// Process consumes one frame of 8 kHz PCM (normally FrameSamples long; any
// length works) and reports a key press once, as soon as it has been present
// for 40 ms. The event's Duration is how long the key had been detected at
// that moment. A key held down is reported once; the same key again needs a
// release (20 ms without it) in between.
func (d *InbandDetector) Process(pcm []int16) (DTMFEvent, bool) {
	for _, s := range pcm {
		d.ring[d.pos] = float64(s)
		d.pos++
		if d.pos == len(d.ring) {
			d.pos = 0
		}
		if d.filled < len(d.ring) {
			d.filled++
		}
		d.sinceA++
		if d.filled == len(d.ring) && d.sinceA >= goertzelHop {
			d.sinceA = 0
			d.step(d.analyse())
		}
	}
	if d.havePending {
		d.havePending = false
		return d.pending, true
	}
	return DTMFEvent{}, false
}

// step advances the press state machine with the key found in the latest
// window (0 for none).
func (d *InbandDetector) step(key rune) {
	if key != 0 && key == d.cand {
		d.hits++
		d.misses = 0
	} else if key != 0 {
		// A different key: a new press only after the old one is released
		// (or never confirmed).
		if d.cand == 0 || !d.reported || d.misses > 0 {
			d.cand, d.hits, d.misses, d.reported = key, 1, 0, false
		}
	} else {
		d.misses++
		if d.misses >= dtmfMissesToRelease {
			d.cand, d.hits, d.reported = 0, 0, false
		}
		return
	}
	if d.cand != 0 && !d.reported && d.hits >= dtmfHitsNeeded {
		d.reported = true
		if !d.havePending { // at most one report per Process call
			d.pending = DTMFEvent{
				Digit:    d.cand,
				Duration: time.Duration(goertzelWindow+(d.hits-1)*goertzelHop) * time.Second / SampleRate,
				Source:   DTMFSourceInband,
			}
			d.havePending = true
		}
	}
}

// analyse runs the checks on the current window and returns the key or 0.
func (d *InbandDetector) analyse() rune {
	w := d.win[:]
	n := copy(w, d.ring[d.pos:])
	copy(w[n:], d.ring[:d.pos])

	var total, mean float64
	for _, v := range w {
		mean += v
	}
	mean /= float64(len(w))
	for i := range w {
		w[i] -= mean
		total += w[i] * w[i]
	}
	total /= float64(len(w)) // mean power of the window
	if total < 2*dtmfMinTonePower {
		return 0
	}

	rowP, colP := d.goertzel8(w)
	r, rp := peak(rowP)
	c, cp := peak(colP)
	if rp < dtmfMinTonePower || cp < dtmfMinTonePower {
		return 0
	}
	if cp > rp*dtmfMaxTwist || rp > cp*dtmfMaxTwist {
		return 0
	}
	for i := range 4 {
		if i != r && rowP[i]*dtmfPeakRatio > rp {
			return 0
		}
		if i != c && colP[i]*dtmfPeakRatio > cp {
			return 0
		}
	}
	if rp+cp < dtmfEnergyRatio*total {
		return 0
	}
	return dtmfKeypad[r][c]
}

// goertzel8 runs the eight DTMF filters in one pass over w. The eight
// recurrences are independent, so interleaving them keeps the CPU's
// floating-point pipelines busy (one filter at a time is latency-bound).
func (d *InbandDetector) goertzel8(w []float64) (rowP, colP [4]float64) {
	c0, c1, c2, c3 := d.rowCoef[0], d.rowCoef[1], d.rowCoef[2], d.rowCoef[3]
	c4, c5, c6, c7 := d.colCoef[0], d.colCoef[1], d.colCoef[2], d.colCoef[3]
	var a0, a1, a2, a3, a4, a5, a6, a7 float64 // s[n-1]
	var b0, b1, b2, b3, b4, b5, b6, b7 float64 // s[n-2]
	for _, v := range w {
		a0, b0 = v+c0*a0-b0, a0
		a1, b1 = v+c1*a1-b1, a1
		a2, b2 = v+c2*a2-b2, a2
		a3, b3 = v+c3*a3-b3, a3
		a4, b4 = v+c4*a4-b4, a4
		a5, b5 = v+c5*a5-b5, a5
		a6, b6 = v+c6*a6-b6, a6
		a7, b7 = v+c7*a7-b7, a7
	}
	n := float64(len(w))
	k := 2 / (n * n)
	pw := func(s1, s2, c float64) float64 { return k * (s1*s1 + s2*s2 - c*s1*s2) }
	rowP = [4]float64{pw(a0, b0, c0), pw(a1, b1, c1), pw(a2, b2, c2), pw(a3, b3, c3)}
	colP = [4]float64{pw(a4, b4, c4), pw(a5, b5, c5), pw(a6, b6, c6), pw(a7, b7, c7)}
	return rowP, colP
}

func peak(p [4]float64) (int, float64) {
	best := 0
	for i := 1; i < 4; i++ {
		if p[i] > p[best] {
			best = i
		}
	}
	return best, p[best]
}
