package media

import (
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/zaf/g711"
)

// dspDetectAll feeds pcm to a fresh detector in 20 ms frames and returns
// the detected events.
func dspDetectAll(pcm []int16) []DTMFEvent {
	d := NewInbandDetector()
	var got []DTMFEvent
	for off := 0; off < len(pcm); off += FrameSamples {
		end := min(off+FrameSamples, len(pcm))
		if ev, ok := d.Process(pcm[off:end]); ok {
			got = append(got, ev)
		}
	}
	// Flush with silence so a tone at the very end is complete.
	var zero [FrameSamples]int16
	for range 5 {
		if ev, ok := d.Process(zero[:]); ok {
			got = append(got, ev)
		}
	}
	return got
}

// dspTones renders digits with a ToneGenerator.
func dspTones(t testing.TB, digits string, dur time.Duration, amp int16) []int16 {
	t.Helper()
	var g ToneGenerator
	if amp != 0 {
		if err := g.SetAmplitude(amp); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range digits {
		if err := g.Start(d, dur); err != nil {
			t.Fatal(err)
		}
	}
	var out []int16
	var frame [FrameSamples]int16
	for {
		n, err := g.ReadFrame(frame[:])
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, frame[:n]...)
	}
}

func digitsOf(evs []DTMFEvent) string {
	var s []rune
	for _, e := range evs {
		s = append(s, e.Digit)
	}
	return string(s)
}

func TestInbandAllDigits(t *testing.T) {
	const digits = "0123456789*#ABCD"
	for _, c := range []struct {
		name string
		dur  time.Duration
		amp  int16
	}{
		{"100ms", 100 * time.Millisecond, 0},
		{"50ms", 50 * time.Millisecond, 0},
		{"quiet", 80 * time.Millisecond, 800},
		{"loud", 80 * time.Millisecond, 16000},
	} {
		t.Run(c.name, func(t *testing.T) {
			pcm := dspTones(t, digits, c.dur, c.amp)
			// Offset by a non-frame-aligned lead-in so tones straddle frames.
			pcm = append(make([]int16, 37), pcm...)
			evs := dspDetectAll(pcm)
			if got := digitsOf(evs); got != digits {
				t.Fatalf("detected %q, want %q", got, digits)
			}
			for _, e := range evs {
				if e.Source != DTMFSourceInband || e.Duration < 40*time.Millisecond {
					t.Errorf("event %v", e)
				}
			}
		})
	}
}

func TestInbandThroughG711(t *testing.T) {
	const digits = "159D*0#"
	pcm := dspTones(t, digits, 60*time.Millisecond, 0)
	for _, codec := range []string{"ulaw", "alaw"} {
		coded := make([]int16, len(pcm))
		for i, s := range pcm {
			if codec == "ulaw" {
				coded[i] = g711.DecodeUlawFrame(g711.EncodeUlawFrame(s))
			} else {
				coded[i] = g711.DecodeAlawFrame(g711.EncodeAlawFrame(s))
			}
		}
		if got := digitsOf(dspDetectAll(coded)); got != digits {
			t.Errorf("%s: detected %q, want %q", codec, got, digits)
		}
	}
}

func TestInbandHeldKeyOnceAndRepeat(t *testing.T) {
	// A 2 s press is one event; the same key twice with a gap is two.
	if got := digitsOf(dspDetectAll(dspTones(t, "7", 2*time.Second, 0))); got != "7" {
		t.Fatalf("held key: %q", got)
	}
	if got := digitsOf(dspDetectAll(dspTones(t, "77", 60*time.Millisecond, 0))); got != "77" {
		t.Fatalf("repeated key: %q", got)
	}
}

func TestInbandRejects(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := make([]int16, 3*SampleRate)
	for i := range noise {
		noise[i] = int16(rng.NormFloat64() * 4000)
	}
	silence := make([]int16, SampleRate)
	short := dspTones(t, "5", 40*time.Millisecond, 0)[:SampleRate*15/1000] // 15 ms blip
	// Single tone (only the row frequency): not a key.
	single := Sine(770, 300, 8000)
	// Strong twist: column 14 dB below row.
	twist := Sine(852, 300, 10000)
	weak := Sine(1336, 300, 2000)
	for i := range twist {
		twist[i] += weak[i]
	}
	// Music-like chord: key '5' plus a strong 500 Hz component.
	chord := dspTones(t, "5", 300*time.Millisecond, 0)
	other := Sine(500, 300, 6000)
	for i := range other {
		chord[i] += other[i]
	}
	for name, pcm := range map[string][]int16{
		"noise": noise, "silence": silence, "15ms blip": short,
		"single tone": single, "twist": twist, "chord": chord,
	} {
		if got := dspDetectAll(pcm); len(got) != 0 {
			t.Errorf("%s: false detection %v", name, got)
		}
	}
}

func TestInbandRejectsSpeech(t *testing.T) {
	for _, s := range []struct{ voice, text string }{
		{"", "Thank you for calling. Please press one for account balance, or two to speak to an agent. The quick brown fox jumps over the lazy dog."},
		{"en-us+f3", "Hello, this is a reminder about your payment due on the fifteenth of March."},
		{"cmn-latn-pinyin", "ni3 hao3, qing3 an4 yi1 jian4 cha2 xun2 yu2 e2, an4 er4 jian4 zhuan3 ren2 gong1 fu2 wu4"},
	} {
		pcm := dspSpeech(t, s.voice, s.text)
		if got := dspDetectAll(pcm); len(got) != 0 {
			t.Errorf("speech %q: false detection %v", s.text[:20], got)
		}
	}
}

func TestInbandSpeechThenDigit(t *testing.T) {
	pcm := append([]int16{}, dspSpeech(t, "", "please enter your account number")...)
	pcm = append(pcm, dspTones(t, "42", 80*time.Millisecond, 0)...)
	if got := digitsOf(dspDetectAll(pcm)); got != "42" {
		t.Fatalf("detected %q, want \"42\"", got)
	}
}

func TestInbandNoAlloc(t *testing.T) {
	d := NewInbandDetector()
	pcm := dspTones(t, "3", time.Second, 0)[:FrameSamples]
	allocs := testing.AllocsPerRun(100, func() { d.Process(pcm) })
	if allocs != 0 {
		t.Errorf("%v allocations per frame", allocs)
	}
}

func BenchmarkInbandDetector(b *testing.B) {
	d := NewInbandDetector()
	pcm := dspTones(b, "0123456789", 100*time.Millisecond, 0)
	frames := len(pcm) / FrameSamples
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		off := (i % frames) * FrameSamples
		d.Process(pcm[off : off+FrameSamples])
	}
}

func FuzzInbandDetector(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0}, uint8(160))
	f.Add([]byte{0xff, 0x7f, 0x00, 0x80, 0x10, 0x20}, uint8(3))
	f.Fuzz(func(t *testing.T, b []byte, frame uint8) {
		if len(b) > 1<<16 {
			b = b[:1<<16]
		}
		pcm := make([]int16, len(b)/2)
		for i := range pcm {
			pcm[i] = int16(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
		}
		step := int(frame) + 1
		d := NewInbandDetector()
		events := 0
		for off := 0; off < len(pcm); off += step {
			if ev, ok := d.Process(pcm[off:min(off+step, len(pcm))]); ok {
				events++
				if _, valid := DTMFCode(ev.Digit); !valid || ev.Source != DTMFSourceInband {
					t.Fatalf("bad event %v", ev)
				}
			}
		}
		// At most one key press per 40 ms (3 hits and a miss, 10 ms apart).
		if max := len(pcm)/(SampleRate*40/1000) + 1; events > max {
			t.Fatalf("%d events from %d samples", events, len(pcm))
		}
	})
}

func TestGoertzel8MatchesSingleFilters(t *testing.T) {
	d := NewInbandDetector()
	w := toFloat(dspNoise(5, goertzelWindow, 3000))
	rowP, colP := d.goertzel8(w)
	for i := range 4 {
		for _, c := range []struct{ got, f float64 }{{rowP[i], dtmfRowFreqs[i]}, {colP[i], dtmfColFreqs[i]}} {
			want := goertzelPower(w, goertzelCoef(c.f))
			if diff := c.got - want; diff > 1e-6*want || diff < -1e-6*want {
				t.Errorf("%v Hz: %v, single filter %v", c.f, c.got, want)
			}
		}
	}
}
