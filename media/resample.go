package media

// This file holds sample-rate conversion: a windowed-sinc (Blackman window)
// band-limited polyphase interpolator, used for prompts (22050 Hz espeak
// output to 8 kHz) and for ASR (8 kHz call audio to 16 kHz), whole-buffer
// (Resample) or streamed in 20 ms pieces (Resampler). It runs when prompts
// are loaded and on the ASR side of a call, never on the media clock.

import (
	"math"
	"sync"
)

// Filter lengths for NewResampler and ResampleWith, in sinc zero crossings
// on each side of an output sample.
const (
	// LongFilter keeps 0-3.4 kHz flat within 0.5 dB at 8 kHz and gives a
	// stop band beyond ~70 dB above Nyquist with a Blackman window: for
	// prompts and recordings.
	LongFilter = 32
	// ShortFilter is 2.7 times cheaper with a wider transition band
	// (about -40 dB at 5 kHz from 24 kHz to 8 kHz). The speech front end
	// uses it: pocketsphinx's accuracy on telephone audio was measured
	// with this filter in the chain (docs/PERFORMANCE.md "ASR accuracy on
	// telephone audio"), and a sharper one changes what it hears.
	ShortFilter = 12
)

const (
	// resampleCutoff is the pass band edge as a fraction of the lower
	// Nyquist frequency; the transition band sits just below Nyquist.
	resampleCutoff = 0.92
	// resampleMaxPhases bounds the precomputed filter table; rate pairs
	// with more phases compute their taps per output sample.
	resampleMaxPhases = 2048
	// resampleMaxRate bounds the rates accepted.
	resampleMaxRate = 1_000_000
)

// Resample converts pcm from one sample rate to another with a band-limited
// windowed-sinc interpolator (LongFilter, low-pass at 92% of the lower
// Nyquist rate, so downsampling does not alias). Equal rates return a
// copy. Rates outside 1..1,000,000 Hz return nil. The output has
// len(pcm)·to/from samples (rounded up).
func Resample(pcm []int16, from, to int) []int16 {
	return ResampleWith(pcm, from, to, LongFilter)
}

// ResampleWith is Resample with a filter length (LongFilter, ShortFilter).
func ResampleWith(pcm []int16, from, to, zeroCrossings int) []int16 {
	r := NewResampler(from, to, zeroCrossings)
	if r == nil {
		return nil
	}
	out := make([]int16, 0, int((int64(len(pcm))*int64(to)+int64(from)-1)/int64(from)))
	return r.Flush(r.Push(out, pcm))
}

// Resampler converts audio that arrives in pieces (20 ms frames) with no
// seams: the output of any split of the input equals Resample of the whole.
// It keeps the input history the filter needs and emits an output sample
// once all of its right-hand taps have arrived; Flush emits the tail,
// treating audio after the end as silence. A Resampler is used by one
// goroutine at a time.
type Resampler struct {
	bank   *filterBank // nil: equal rates, samples pass through
	in     []int16     // input history from absolute index inOff on
	inOff  int64
	total  int64     // input samples pushed
	outPos int64     // next output sample index
	taps   []float64 // scratch for rate pairs without a table
}

// NewResampler returns a streaming converter from one rate to another
// with a filter of zeroCrossings (LongFilter, ShortFilter), or nil for
// rates outside 1..1,000,000 Hz or zeroCrossings outside 1..64.
func NewResampler(from, to, zeroCrossings int) *Resampler {
	if from <= 0 || to <= 0 || from > resampleMaxRate || to > resampleMaxRate || zeroCrossings < 1 || zeroCrossings > 64 {
		return nil
	}
	if from == to {
		return &Resampler{}
	}
	return &Resampler{bank: filterFor(from, to, zeroCrossings)}
}

// Push appends to out the output that pcm makes possible and returns it.
func (r *Resampler) Push(out, pcm []int16) []int16 {
	if r.bank == nil {
		return append(out, pcm...)
	}
	r.in = append(r.in, pcm...)
	r.total += int64(len(pcm))
	return r.emit(out, false)
}

// Flush appends the remaining output (len(input)·to/from in all, rounded
// up) and returns it. The Resampler is not used after Flush.
func (r *Resampler) Flush(out []int16) []int16 {
	if r.bank == nil {
		return out
	}
	return r.emit(out, true)
}

func (r *Resampler) emit(out []int16, final bool) []int16 {
	b := r.bank
	up, down := int64(b.up), int64(b.down)
	end := r.total * up / down // output samples the input so far covers
	if final {
		end = (r.total*up + down - 1) / down
	}
	for ; r.outPos < end; r.outPos++ {
		pos := r.outPos * down // output sample outPos sits at input pos/up
		k0 := pos / up
		if !final && k0+int64(b.half) >= r.total {
			break // right-hand taps not here yet
		}
		p := int(pos % up)
		var w []float64
		if b.table != nil {
			w = b.table[p*b.taps : (p+1)*b.taps]
		} else {
			w = b.phase(r.taps[:0], p)
			r.taps = w
		}
		start := k0 - int64(b.half) - r.inOff
		var acc float64
		for j, wt := range w {
			k := start + int64(j)
			if k < 0 || k >= int64(len(r.in)) {
				continue // zeros outside the signal
			}
			acc += wt * float64(r.in[k])
		}
		out = append(out, clampInt16(acc))
	}
	// Drop history no future output sample needs.
	keepFrom := r.outPos*down/up - int64(b.half)
	if drop := keepFrom - r.inOff; drop > 0 && drop <= int64(len(r.in)) {
		r.in = append(r.in[:0], r.in[drop:]...)
		r.inOff = keepFrom
	}
	return out
}

// filterBank holds the polyphase taps for one rate pair: output sample i
// sits at input position i·down/up.
type filterBank struct {
	up, down int
	fc       float64 // cutoff in cycles per input sample (0.5 = input Nyquist)
	half     int     // taps on each side of the centre
	taps     int     // 2·half+1
	table    []float64
}

var banks sync.Map // [3]int{from, to, zeroCrossings} -> *filterBank

func filterFor(from, to, zeroCrossings int) *filterBank {
	key := [3]int{from, to, zeroCrossings}
	if b, ok := banks.Load(key); ok {
		return b.(*filterBank)
	}
	g := gcd(from, to)
	b := &filterBank{up: to / g, down: from / g, fc: 0.5 * resampleCutoff}
	if to < from {
		b.fc *= float64(to) / float64(from)
	}
	b.half = int(math.Ceil(float64(zeroCrossings) / (2 * b.fc)))
	b.taps = 2*b.half + 1
	if b.up <= resampleMaxPhases {
		b.table = make([]float64, 0, b.up*b.taps)
		for p := range b.up {
			b.table = b.phase(b.table, p)
		}
	}
	v, _ := banks.LoadOrStore(key, b)
	return v.(*filterBank)
}

// phase appends the taps of phase p (input k0-half..k0+half for an output
// sample p/up of an input sample after k0), scaled to unity DC gain.
func (b *filterBank) phase(dst []float64, p int) []float64 {
	frac := float64(p) / float64(b.up)
	start := len(dst)
	var sum float64
	for j := range b.taps {
		x := float64(j-b.half) - frac // distance in input samples
		v := 0.0
		if math.Abs(x) < float64(b.half) {
			w := 0.42 + 0.5*math.Cos(math.Pi*x/float64(b.half)) + 0.08*math.Cos(2*math.Pi*x/float64(b.half))
			arg := 2 * b.fc * x
			s := 1.0
			if arg != 0 {
				s = math.Sin(math.Pi*arg) / (math.Pi * arg)
			}
			v = 2 * b.fc * s * w
		}
		dst = append(dst, v)
		sum += v
	}
	for j := start; j < len(dst); j++ {
		dst[j] /= sum
	}
	return dst
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
