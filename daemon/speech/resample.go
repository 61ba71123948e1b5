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
	bank := filterFor(from, to)
	outN := int(int64(len(pcm)) * int64(to) / int64(from))
	out := make([]int16, outN)
	for i := range out {
		pos := int64(i) * int64(bank.m)
		base := int(pos / int64(bank.l))
		var taps []float64
		if bank.table != nil {
			taps = bank.table[int(pos%int64(bank.l))]
		} else {
			taps = bank.taps(float64(pos%int64(bank.l)) / float64(bank.l))
		}
		start := base - bank.half + 1
		sum := 0.0
		for k, h := range taps {
			j := start + k
			if j < 0 || j >= len(pcm) {
				continue
			}
			sum += h * float64(pcm[j])
		}
		out[i] = clamp16(sum)
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
