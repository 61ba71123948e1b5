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
