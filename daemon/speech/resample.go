package speech

import (
	"math"
	"sync"
)

// resample converts mono PCM between sample rates with a Blackman-windowed
// sinc low-pass filter (polyphase for rational ratios), so downsampling the
// 22.05 kHz espeak-ng output to 8 kHz does not alias and 8 kHz input
// upsampled to 16 kHz for recognizers stays clean. It always returns a new
// slice.
func resample(pcm []int16, from, to int) []int16 {
	if from == to || len(pcm) == 0 {
		return append([]int16(nil), pcm...)
	}
	r := newStreamResampler(from, to)
	out := r.push(nil, pcm)
	return r.flush(out)
}

// streamResampler resamples audio arriving in pieces (20 ms frames) with no
// seams: it keeps the input history the filter needs and emits an output
// sample only once all of its right-hand taps have arrived. flush emits the
// tail, treating audio after the end as silence.
type streamResampler struct {
	bank   *filterBank
	same   bool
	in     []int16 // input from absolute index inOff on
	inOff  int64
	total  int64 // input samples pushed
	outPos int64 // next output sample index
}

func newStreamResampler(from, to int) *streamResampler {
	if from == to {
		return &streamResampler{same: true}
	}
	return &streamResampler{bank: filterFor(from, to)}
}

// push appends the output made possible by pcm to out and returns it.
func (r *streamResampler) push(out, pcm []int16) []int16 {
	if r.same {
		return append(out, pcm...)
	}
	r.in = append(r.in, pcm...)
	r.total += int64(len(pcm))
	return r.emit(out, false)
}

// flush appends the remaining output.
func (r *streamResampler) flush(out []int16) []int16 {
	if r.same {
		return out
	}
	return r.emit(out, true)
}

func (r *streamResampler) emit(out []int16, final bool) []int16 {
	b := r.bank
	end := r.total * int64(b.l) / int64(b.m) // output samples the input so far covers
	for ; r.outPos < end; r.outPos++ {
		pos := r.outPos * int64(b.m)
		base := pos / int64(b.l)
		if !final && base+int64(b.half) >= r.total {
			break // right-hand taps not here yet
		}
		var taps []float64
		if b.table != nil {
			taps = b.table[int(pos%int64(b.l))]
		} else {
			taps = b.taps(float64(pos%int64(b.l)) / float64(b.l))
		}
		start := base - int64(b.half) + 1 - r.inOff
		sum := 0.0
		for k, h := range taps {
			j := start + int64(k)
			if j < 0 || j >= int64(len(r.in)) {
				continue
			}
			sum += h * float64(r.in[j])
		}
		out = append(out, clamp16(sum))
	}
	// Drop history no future output sample needs.
	keepFrom := r.outPos*int64(b.m)/int64(b.l) - int64(b.half) + 1
	if drop := keepFrom - r.inOff; drop > 0 && drop <= int64(len(r.in)) {
		r.in = append(r.in[:0], r.in[drop:]...)
		r.inOff = keepFrom
	}
	return out
}

func clamp16(v float64) int16 {
	v = math.Round(v)
	if v > math.MaxInt16 {
		return math.MaxInt16
	}
	if v < math.MinInt16 {
		return math.MinInt16
	}
	return int16(v)
}

// filterBank holds the polyphase taps for one rate pair: output sample i sits
// at input position i*m/l.
type filterBank struct {
	l, m  int
	fc    float64 // cutoff as a fraction of the input Nyquist frequency
	half  int     // taps on each side of the centre
	table [][]float64
}

const (
	zeroCrossings = 12
	maxPhases     = 2048
)

var banks sync.Map // [2]int{from, to} -> *filterBank

func filterFor(from, to int) *filterBank {
	key := [2]int{from, to}
	if b, ok := banks.Load(key); ok {
		return b.(*filterBank)
	}
	g := gcd(from, to)
	b := &filterBank{l: to / g, m: from / g, fc: 0.92}
	if to < from {
		b.fc *= float64(to) / float64(from)
	}
	b.half = int(math.Ceil(zeroCrossings / b.fc))
	if b.l <= maxPhases {
		b.table = make([][]float64, b.l)
		for p := range b.table {
			b.table[p] = b.taps(float64(p) / float64(b.l))
		}
	}
	v, _ := banks.LoadOrStore(key, b)
	return v.(*filterBank)
}

// taps returns the 2*half filter taps for an output sample frac of an input
// sample after the base input sample.
func (b *filterBank) taps(frac float64) []float64 {
	t := make([]float64, 2*b.half)
	for k := range t {
		x := float64(k-b.half+1) - frac // distance of input sample from the output position
		u := x / float64(b.half)
		if u <= -1 || u >= 1 {
			continue
		}
		w := 0.42 + 0.5*math.Cos(math.Pi*u) + 0.08*math.Cos(2*math.Pi*u)
		t[k] = b.fc * sinc(b.fc*x) * w
	}
	return t
}

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	return math.Sin(math.Pi*x) / (math.Pi * x)
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
