package media

// This file holds tone synthesis: in-band DTMF for peers without
// telephone-event, generic one- or two-frequency tones (beeps), and Sine.

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// DefaultToneAmplitude is the peak amplitude of each component of a tone
// made by ToneGenerator: about -14.7 dBFS, so a DTMF pair peaks at -8.7 dBFS
// and survives G.711 without clipping.
const DefaultToneAmplitude = 6000

// ErrToneFrequency: a tone frequency that is not in (0, 4000) Hz, the band
// an 8 kHz stream can carry.
var ErrToneFrequency = errors.New("media: tone frequency must be between 0 and 4000 Hz")

// ErrToneAmplitude: an amplitude that is not in 1..32767.
var ErrToneAmplitude = errors.New("media: tone amplitude must be between 1 and 32767")

type toneItem struct {
	f1, f2  float64 // Hz; f2 == 0 for a single tone
	samples int     // length of the tone
	gap     int     // silence after it
}

// ToneGenerator is a FrameSource that plays queued tones: DTMF digits
// (Start) and generic tones (StartTone). Queued items play back to back; a
// DTMF digit is followed by DTMFInterDigitGap of silence. ReadFrame returns
// io.EOF when the queue is empty. The zero value is ready to use; Start and
// ReadFrame may be called from different goroutines. ReadFrame does not
// allocate.
type ToneGenerator struct {
	mu        sync.Mutex
	queue     [dtmfGenQueueLen]toneItem // guarded by mu; ring
	head      int                       // guarded by mu
	count     int                       // guarded by mu
	amplitude float64                   // guarded by mu; 0 means DefaultToneAmplitude

	cur    toneItem // guarded by mu: the item playing
	active bool     // guarded by mu
	pos    int      // guarded by mu: samples of cur already produced (tone then gap)
}

// SetAmplitude sets the peak amplitude of each tone component for tones
// that start after the call.
func (t *ToneGenerator) SetAmplitude(a int16) error {
	if a <= 0 {
		return fmt.Errorf("%w: %d", ErrToneAmplitude, a)
	}
	t.mu.Lock()
	t.amplitude = float64(a)
	t.mu.Unlock()
	return nil
}

// Start queues the in-band DTMF tone pair for digit, lasting dur
// (MinDTMFDuration to MaxDTMFDuration), followed by DTMFInterDigitGap of
// silence.
func (t *ToneGenerator) Start(digit rune, dur time.Duration) error {
	row, col, ok := dtmfFreqs(digit)
	if !ok {
		return fmt.Errorf("%w: %q", ErrInvalidDigit, digit)
	}
	if dur < MinDTMFDuration || dur > MaxDTMFDuration {
		return fmt.Errorf("%w: %s (want %s to %s)", ErrDTMFDuration, dur, MinDTMFDuration, MaxDTMFDuration)
	}
	return t.enqueue(toneItem{
		f1:      row,
		f2:      col,
		samples: durationToSamples(dur),
		gap:     durationToSamples(DTMFInterDigitGap),
	})
}

// StartTone queues a tone of one frequency (f2 == 0) or two summed
// frequencies, lasting dur (up to one minute), with no gap after it.
func (t *ToneGenerator) StartTone(f1, f2 float64, dur time.Duration) error {
	for _, f := range [2]float64{f1, f2} {
		if math.IsNaN(f) || f < 0 || f >= SampleRate/2 {
			return fmt.Errorf("%w: %v", ErrToneFrequency, f)
		}
	}
	if f1 == 0 {
		return fmt.Errorf("%w: first frequency is 0", ErrToneFrequency)
	}
	if dur <= 0 || dur > time.Minute {
		return fmt.Errorf("%w: tone of %s (want up to 1m)", ErrDTMFDuration, dur)
	}
	return t.enqueue(toneItem{f1: f1, f2: f2, samples: durationToSamples(dur)})
}

// dtmfFreqs returns the row and column frequencies of a key.
func dtmfFreqs(digit rune) (row, col float64, ok bool) {
	if digit >= 'a' && digit <= 'd' {
		digit -= 'a' - 'A'
	}
	for r := range 4 {
		for c := range 4 {
			if dtmfKeypad[r][c] == digit {
				return dtmfRowFreqs[r], dtmfColFreqs[c], true
			}
		}
	}
	return 0, 0, false
}

func (t *ToneGenerator) enqueue(it toneItem) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.count == len(t.queue) {
		return fmt.Errorf("%w: %d tones pending", ErrDTMFQueueFull, t.count)
	}
	t.queue[(t.head+t.count)%len(t.queue)] = it
	t.count++
	return nil
}

// Pending reports whether a tone is playing or queued.
func (t *ToneGenerator) Pending() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.active || t.count > 0
}

// ReadFrame fills pcm with the next samples. Within a queue of items it
// always fills the whole slice (silence-padded at the very end); it returns
// 0, io.EOF when nothing is left.
func (t *ToneGenerator) ReadFrame(pcm []int16) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.active && t.count == 0 {
		return 0, io.EOF
	}
	amp := t.amplitude
	if amp == 0 {
		amp = DefaultToneAmplitude
	}
	for i := range pcm {
		if !t.active {
			if t.count == 0 {
				clear(pcm[i:])
				break
			}
			t.cur = t.queue[t.head]
			t.head = (t.head + 1) % len(t.queue)
			t.count--
			t.active, t.pos = true, 0
		}
		if t.pos < t.cur.samples {
			// Phase computed from the sample index: exact, no drift.
			ph := 2 * math.Pi * float64(t.pos) / SampleRate
			v := amp * math.Sin(ph*t.cur.f1)
			if t.cur.f2 != 0 {
				v += amp * math.Sin(ph*t.cur.f2)
			}
			pcm[i] = clampInt16(v)
		} else {
			pcm[i] = 0
		}
		t.pos++
		if t.pos >= t.cur.samples+t.cur.gap {
			t.active = false
		}
	}
	return len(pcm), nil
}

// Sine returns ms milliseconds of a sine at freq Hz with the given peak
// amplitude, at 8 kHz. It is a helper for tests and beeps; invalid input
// (ms <= 0) gives an empty slice.
func Sine(freq float64, ms int, amplitude int16) []int16 {
	if ms <= 0 {
		return []int16{}
	}
	n := ms * SampleRate / 1000
	out := make([]int16, n)
	for i := range out {
		out[i] = clampInt16(float64(amplitude) * math.Sin(2*math.Pi*freq*float64(i)/SampleRate))
	}
	return out
}

// durationToSamples converts a duration to a count of 8 kHz samples.
func durationToSamples(d time.Duration) int {
	return int(int64(d) * SampleRate / int64(time.Second))
}

// clampInt16 rounds v to the nearest int16, saturating.
func clampInt16(v float64) int16 {
	switch {
	case v >= math.MaxInt16:
		return math.MaxInt16
	case v <= math.MinInt16:
		return math.MinInt16
	case math.IsNaN(v):
		return 0
	}
	return int16(math.Round(v))
}
