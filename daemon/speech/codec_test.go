package speech

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

func sine(freq float64, rate, n int, amp float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return out
}

// level is the RMS of pcm at freq (Goertzel-style single-bin DFT).
func level(pcm []int16, freq float64, rate int) float64 {
	var re, im float64
	for i, s := range pcm {
		a := 2 * math.Pi * freq * float64(i) / float64(rate)
		re += float64(s) * math.Cos(a)
		im += float64(s) * math.Sin(a)
	}
	return math.Sqrt(re*re+im*im) * math.Sqrt2 / float64(len(pcm))
}

func TestResamplePassAndStop(t *testing.T) {
	for _, tc := range []struct {
		from, to int
		pass     float64 // kept
		stop     float64 // must be removed (above the new Nyquist), 0 = none
	}{
		{22050, 8000, 1000, 6000},
		{24000, 8000, 3000, 5000},
		{8000, 16000, 1000, 0},
		{16000, 8000, 440, 7000},
	} {
		in := append(sine(tc.pass, tc.from, tc.from, 8000), 0)
		out := resample(in, tc.from, tc.to)
		if n := len(out); n != (len(in))*tc.to/tc.from {
			t.Errorf("%d->%d: %d samples", tc.from, tc.to, n)
		}
		mid := out[len(out)/4 : 3*len(out)/4]
		if l := level(mid, tc.pass, tc.to); math.Abs(l-8000/math.Sqrt2) > 8000/math.Sqrt2*0.05 {
			t.Errorf("%d->%d: %v Hz at rms %.0f, want %.0f", tc.from, tc.to, tc.pass, l, 8000/math.Sqrt2)
		}
		if tc.stop > 0 {
			alias := resample(sine(tc.stop, tc.from, tc.from, 8000), tc.from, tc.to)
			if r := rms(alias[len(alias)/4 : 3*len(alias)/4]); r > 8000*0.01 {
				t.Errorf("%d->%d: %v Hz leaks through at rms %.0f (aliasing)", tc.from, tc.to, tc.stop, r)
			}
		}
	}
}

func TestStreamResamplerMatchesWhole(t *testing.T) {
	in := sine(700, 8000, 8000, 9000)
	for i := range in {
		in[i] += int16(i%97) * 20
	}
	for _, rates := range [][2]int{{8000, 16000}, {22050, 8000}, {8000, 8000}, {8000, 11025}} {
		whole := resample(in, rates[0], rates[1])
		r := newStreamResampler(rates[0], rates[1])
		var got []int16
		for p := in; len(p) > 0; {
			n := min(160, len(p))
			got = r.push(got, p[:n])
			p = p[n:]
		}
		got = r.flush(got)
		if !equalPCM(got, whole) {
			t.Errorf("%v: streamed %d samples differ from whole-buffer %d", rates, len(got), len(whole))
		}
	}
}

func TestWAVRoundTripAndErrors(t *testing.T) {
	pcm := sine(440, 8000, 801, 12000)
	b := encodeWAV(pcm, 8000, chunk{id: "test", body: []byte{1, 2, 3}})
	w, err := parseWAV(b)
	if err != nil || w.truncated || w.rate != 8000 || !equalPCM(w.mono(), pcm) || string(w.extra["test"]) != "\x01\x02\x03" {
		t.Fatalf("round trip: %v %+v", err, w)
	}
	// Streaming placeholder size (espeak-ng --stdout): accepted, truncated.
	s := append([]byte(nil), b...)
	binary.LittleEndian.PutUint32(s[len(s)-2*len(pcm)-4:], 0x7ffff000)
	if w, err := parseWAV(s); err != nil || !w.truncated || len(w.mono()) != len(pcm) {
		t.Fatalf("placeholder size: %v", err)
	}
	// Stereo mixes down.
	st := encodeWAV([]int16{100, 300, -100, -300}, 8000)
	binary.LittleEndian.PutUint16(st[22:], 2)
	if got, _, err := decodeWAVMono(st); err != nil || !equalPCM(got, []int16{200, -200}) {
		t.Fatalf("stereo: %v %v", got, err)
	}
	bad := map[string][]byte{
		"empty":    nil,
		"not riff": []byte("RIFX0000WAVEfmt "),
		"8 bit":    func() []byte { c := append([]byte(nil), b...); c[34] = 8; return c }(),
		"float":    func() []byte { c := append([]byte(nil), b...); c[20] = 3; return c }(),
		"no data":  b[:36],
		"rate 0":   func() []byte { c := append([]byte(nil), b...); binary.LittleEndian.PutUint32(c[24:], 0); return c }(),
	}
	for name, in := range bad {
		if _, err := parseWAV(in); !errors.Is(err, ErrBadAudio) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParseWAV(f *testing.F) {
	f.Add(encodeWAV([]int16{1, -2, 3}, 8000))
	f.Add(encodeWAV([]int16{1, -2, 3}, 22050, chunk{id: cacheSumChunk, body: make([]byte, 32)}))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := parseWAV(b)
		if err != nil {
			if !errors.Is(err, ErrBadAudio) {
				t.Fatalf("error %v is not ErrBadAudio", err)
			}
			return
		}
		if len(w.mono()) > len(b)/2 {
			t.Fatalf("more samples than bytes")
		}
		// The cache decoder must reject everything not written for its key.
		if _, err := decodeCacheFile("k", b); err == nil {
			t.Fatalf("cache accepted a file without a valid checksum")
		}
	})
}
