package hw

import (
	"math"
	"slices"
	"testing"
)

func TestSampleRingDropsOldest(t *testing.T) {
	r := newSampleRing(5)
	r.Push([]int16{1, 2, 3})
	r.Push([]int16{4, 5, 6, 7})
	out := make([]int16, 10)
	n := r.Pop(out)
	if !slices.Equal(out[:n], []int16{3, 4, 5, 6, 7}) || r.drops != 2 {
		t.Fatalf("got %v drops %d", out[:n], r.drops)
	}
	r.Push([]int16{1, 2, 3, 4, 5, 6, 7, 8})
	n = r.Pop(out)
	if !slices.Equal(out[:n], []int16{4, 5, 6, 7, 8}) {
		t.Fatalf("oversized push kept %v", out[:n])
	}
}

// FuzzSampleRing checks the ring against a plain slice model.
func FuzzSampleRing(f *testing.F) {
	f.Add([]byte{3, 0x83, 5, 0x81, 9}, uint8(4))
	f.Fuzz(func(t *testing.T, ops []byte, capacity uint8) {
		c := int(capacity%64) + 1
		r := newSampleRing(c)
		var model []int16
		next := int16(0)
		for _, op := range ops {
			k := int(op & 0x7f)
			if op&0x80 == 0 { // push k samples
				s := make([]int16, k)
				for i := range s {
					next++
					s[i] = next
				}
				r.Push(s)
				model = append(model, s...)
				if len(model) > c {
					model = model[len(model)-c:]
				}
			} else { // pop up to k
				out := make([]int16, k)
				n := r.Pop(out)
				m := min(k, len(model))
				if n != m || !slices.Equal(out[:n], model[:m]) {
					t.Fatalf("pop %d: got %v want %v", k, out[:n], model[:m])
				}
				model = model[m:]
			}
			if r.Len() != len(model) {
				t.Fatalf("Len %d, model %d", r.Len(), len(model))
			}
		}
	})
}

func TestMixIntoSaturates(t *testing.T) {
	dst := make([]int16, 4)
	n := mixInto(dst, []int16{1, 32000, -32000}, []int16{2, 1000, -1000, 5})
	if n != 4 || !slices.Equal(dst, []int16{3, 32767, -32768, 5}) {
		t.Fatalf("mix = %v (%d)", dst, n)
	}
}

func TestResamplerRatesAndShape(t *testing.T) {
	// 1 s of a 400 Hz tone at 8 kHz up to 48 kHz and back.
	in := make([]int16, 8000)
	for i := range in {
		in[i] = int16(10000 * math.Sin(2*math.Pi*400*float64(i)/8000))
	}
	up := newResampler(8000, 48000)
	var hi []int16
	for i := 0; i < len(in); i += 160 { // frame by frame, phase carried
		hi = up.process(hi, in[i:i+160])
	}
	if len(hi) < 47990 || len(hi) > 48010 {
		t.Fatalf("8k→48k produced %d samples for 1 s", len(hi))
	}
	down := newResampler(48000, 8000)
	var back []int16
	for i := 0; i+960 <= len(hi); i += 960 {
		back = down.process(back, hi[i:i+960])
	}
	if len(back) < 7990 || len(back) > 8010 {
		t.Fatalf("48k→8k produced %d samples for 1 s", len(back))
	}
	// After the two one-sample delays, the round trip follows the input.
	var errSum float64
	for i := 100; i < 7900; i++ {
		d := float64(back[i]) - float64(in[i-1])
		errSum += d * d
	}
	if rms := math.Sqrt(errSum / 7800); rms > 1500 {
		t.Fatalf("round-trip RMS error %.0f too large", rms)
	}
	odd := newResampler(8000, 44100)
	if got := len(odd.process(nil, in)); got < 44090 || got > 44110 {
		t.Fatalf("8k→44.1k produced %d samples", got)
	}
}

func BenchmarkMonitorMix(b *testing.B) {
	r := newSampleRing(1600)
	a, c, dst := make([]int16, 160), make([]int16, 160), make([]int16, 160)
	out := make([]int16, 160)
	for b.Loop() {
		n := mixInto(dst, a, c)
		r.Push(dst[:n])
		r.Pop(out)
	}
}
