package media

// This file holds sample-rate conversion: a windowed-sinc (Blackman window)
// band-limited interpolator, used for prompts (22050 Hz espeak output to
// 8 kHz) and for ASR (8 kHz to 16 kHz). It runs when prompts are loaded, not
// on the media clock's hot path.

import "math"

// Resampler quality.
const (
	// resampleZeroCrossings is the number of sinc zero crossings on each
	// side of the kernel: 32 keeps 0-3.4 kHz flat within 0.5 dB at 8 kHz
	// and gives a stop band beyond ~70 dB above Nyquist with a
	// Blackman window.
	resampleZeroCrossings = 32
	// resampleCutoff is the pass band edge as a fraction of the lower
	// Nyquist frequency; the transition band sits just below Nyquist.
	resampleCutoff = 0.92
	// resampleMaxPhases bounds the precomputed filter table.
	resampleMaxPhases = 1024
	// resampleMaxRate bounds the rates accepted.
	resampleMaxRate = 1_000_000
)

// Resample converts pcm from one sample rate to another with a band-limited
// windowed-sinc interpolator (low-pass at 92% of the lower Nyquist rate, so
// downsampling does not alias). Equal rates return a copy. Rates outside
// 1..1,000,000 Hz return nil. The output has len(pcm)·to/from samples
// (rounded up).
func Resample(pcm []int16, from, to int) []int16 {
	if from <= 0 || to <= 0 || from > resampleMaxRate || to > resampleMaxRate {
		return nil
	}
	if from == to {
		return append([]int16(nil), pcm...)
	}
	if len(pcm) == 0 {
		return []int16{}
	}
	g := gcd(from, to)
	up, down := to/g, from/g // output sample i sits at input position i·down/up
	outLen := int((int64(len(pcm))*int64(to) + int64(from) - 1) / int64(from))

	// fc is the cutoff in cycles per input sample (0.5 = input Nyquist).
	fc := 0.5 * resampleCutoff
	if to < from {
		fc *= float64(to) / float64(from)
	}
	half := int(math.Ceil(resampleZeroCrossings / (2 * fc))) // taps each side
	taps := 2*half + 1

	kernel := func(x float64) float64 { // x: distance in input samples
		if math.Abs(x) >= float64(half) {
			return 0
		}
		w := 0.42 + 0.5*math.Cos(math.Pi*x/float64(half)) + 0.08*math.Cos(2*math.Pi*x/float64(half))
		arg := 2 * fc * x
		s := 1.0
		if arg != 0 {
			s = math.Sin(math.Pi*arg) / (math.Pi * arg)
		}
		return 2 * fc * s * w
	}

	var table []float64 // per phase p: taps weights for input k0-half..k0+half
	if up <= resampleMaxPhases {
		table = make([]float64, up*taps)
		for p := range up {
			frac := float64(p) / float64(up)
			row := table[p*taps : (p+1)*taps]
			var sum float64
			for j := range taps {
				row[j] = kernel(float64(j-half) - frac)
				sum += row[j]
			}
			for j := range row { // unity DC gain
				row[j] /= sum
			}
		}
	}

	out := make([]int16, outLen)
	weights := make([]float64, taps)
	for i := range out {
		pos := int64(i) * int64(down)
		k0 := int(pos / int64(up))
		p := int(pos % int64(up))
		var w []float64
		if table != nil {
			w = table[p*taps : (p+1)*taps]
		} else {
			frac := float64(p) / float64(up)
			var sum float64
			for j := range taps {
				weights[j] = kernel(float64(j-half) - frac)
				sum += weights[j]
			}
			for j := range weights {
				weights[j] /= sum
			}
			w = weights
		}
		var acc float64
		for j, wt := range w {
			k := k0 - half + j
			if k < 0 || k >= len(pcm) {
				continue // zeros outside the signal
			}
			acc += wt * float64(pcm[k])
		}
		out[i] = clampInt16(acc)
	}
	return out
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
