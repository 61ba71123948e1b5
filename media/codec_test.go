package media

import (
	"math"
	"testing"
)

func rtpSine(dst []int16, freq float64, amp float64, start int) {
	for i := range dst {
		dst[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(start+i)/SampleRate))
	}
}

// rtpSNR compares a signal with its degraded copy.
func rtpSNR(ref, got []int16) float64 {
	var sig, noise float64
	for i := range ref {
		d := float64(ref[i]) - float64(got[i])
		sig += float64(ref[i]) * float64(ref[i])
		noise += d * d
	}
	return 10 * math.Log10(sig/max(noise, 1e-9))
}

func TestCodecRoundTrip(t *testing.T) {
	pcm := make([]int16, 800)
	rtpSine(pcm, 1000, 8000, 0)
	for _, c := range []Codec{PCMU, PCMA} {
		enc := make([]byte, len(pcm))
		if n := c.Encode(enc, pcm); n != len(pcm) {
			t.Fatalf("%s: Encode = %d, want %d", c, n, len(pcm))
		}
		dec := make([]int16, len(pcm))
		if n := c.Decode(dec, enc); n != len(pcm) {
			t.Fatalf("%s: Decode = %d, want %d", c, n, len(pcm))
		}
		if snr := rtpSNR(pcm, dec); snr < 30 {
			t.Errorf("%s: SNR %.1f dB, want >= 30 (G.711 gives ~38)", c, snr)
		}
		if got := c.Decode(dec[:1], []byte{c.SilenceByte()}); got != 1 || dec[0] < -8 || dec[0] > 8 { // A-law has no exact zero
			t.Errorf("%s: silence byte %#x decodes to %d", c, c.SilenceByte(), dec[0])
		}
	}
}

func TestCodecShortBuffersAndUnknown(t *testing.T) {
	pcm := make([]int16, 160)
	if n := PCMU.Encode(make([]byte, 10), pcm); n != 10 {
		t.Errorf("Encode into 10 bytes = %d", n)
	}
	if n := PCMA.Decode(make([]int16, 5), make([]byte, 160)); n != 5 {
		t.Errorf("Decode into 5 samples = %d", n)
	}
	bogus := Codec{"G729", 18, 8000}
	if n := bogus.Encode(make([]byte, 160), pcm); n != 0 {
		t.Errorf("unsupported Encode = %d, want 0", n)
	}
	if n := bogus.Decode(make([]int16, 160), make([]byte, 160)); n != 0 {
		t.Errorf("unsupported Decode = %d, want 0", n)
	}
	if (Codec{}).String() != "none" || !(Codec{}).IsZero() || PCMU.IsZero() {
		t.Error("zero codec helpers wrong")
	}
}

func TestCodecByPayloadType(t *testing.T) {
	for pt, want := range map[uint8]Codec{0: PCMU, 8: PCMA} {
		c, ok := CodecByPayloadType(pt)
		if !ok || c != want {
			t.Errorf("CodecByPayloadType(%d) = %v, %v", pt, c, ok)
		}
	}
	for _, pt := range []uint8{3, 9, 18, 96, 101, 127} {
		if c, ok := CodecByPayloadType(pt); ok {
			t.Errorf("CodecByPayloadType(%d) = %v, want unsupported", pt, c)
		}
	}
}

func TestCodecNoAlloc(t *testing.T) {
	pcm := make([]int16, FrameSamples)
	buf := make([]byte, FrameSamples)
	allocs := testing.AllocsPerRun(100, func() {
		PCMU.Encode(buf, pcm)
		PCMA.Decode(pcm, buf)
	})
	if allocs != 0 {
		t.Errorf("codec allocates %.1f per frame", allocs)
	}
}

func BenchmarkCodecEncodePCMU(b *testing.B) {
	pcm := make([]int16, FrameSamples)
	rtpSine(pcm, 1000, 8000, 0)
	buf := make([]byte, FrameSamples)
	b.ReportAllocs()
	for b.Loop() {
		PCMU.Encode(buf, pcm)
	}
}
