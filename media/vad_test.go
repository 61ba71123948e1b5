package media

import (
	"math/rand/v2"
	"testing"
	"time"
)

// dspNoise returns n samples of Gaussian noise with the given RMS.
func dspNoise(seed uint64, n int, rms float64) []int16 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]int16, n)
	for i := range out {
		out[i] = clampInt16(rng.NormFloat64() * rms)
	}
	return out
}

// addInto adds src into dst at sample offset off.
func addInto(dst []int16, off int, src []int16) {
	for i, v := range src {
		if off+i < len(dst) {
			dst[off+i] = clampInt16(float64(dst[off+i]) + float64(v))
		}
	}
}

// speechSpan returns the first and last sample of pcm whose 10 ms
// neighbourhood is above -40 dBFS: the real extent of the speech.
func speechSpan(pcm []int16) (first, last int) {
	first, last = -1, -1
	for off := 0; off+80 <= len(pcm); off += 80 {
		if frameDBFS(pcm[off:off+80]) > -40 {
			if first < 0 {
				first = off
			}
			last = off + 80
		}
	}
	return first, last
}

type vadMark struct {
	ev    VADEvent
	at    time.Duration // when the event was reported (end of frame)
	onset time.Duration
}

func runVAD(v *VAD, pcm []int16) []vadMark {
	var marks []vadMark
	for off := 0; off+FrameSamples <= len(pcm); off += FrameSamples {
		if ev := v.Process(pcm[off : off+FrameSamples]); ev != VADNone {
			marks = append(marks, vadMark{ev, v.Elapsed(), v.Onset()})
		}
	}
	return marks
}

func sampleTime(n int) time.Duration { return samplesToDuration(int64(n)) }

func TestVADSpeechOnsets(t *testing.T) {
	s1 := dspSpeech(t, "", "Hello, I would like to check my account balance.")
	s2 := dspSpeech(t, "cmn-latn-pinyin", "ni3 hao3, wo3 xiang3 cha2 xun2 yu2 e2")
	for _, noiseRMS := range []float64{0, 30, 150} { // silence, -61 dBFS, -47 dBFS
		pcm := dspNoise(3, 8*SampleRate, noiseRMS)
		at1, at2 := SampleRate+37, 5*SampleRate
		addInto(pcm, at1, s1)
		addInto(pcm, at2, s2)
		f1, l1 := speechSpan(s1)
		f2, l2 := speechSpan(s2)
		want := []struct {
			ev   VADEvent
			real time.Duration // onset or end of the speech
		}{
			{VADSpeechStart, sampleTime(at1 + f1)},
			{VADSpeechEnd, sampleTime(at1 + l1)},
			{VADSpeechStart, sampleTime(at2 + f2)},
			{VADSpeechEnd, sampleTime(at2 + l2)},
		}
		v := NewVAD(VADConfig{})
		marks := runVAD(v, pcm)
		if len(marks) != len(want) {
			t.Fatalf("noise %v: events %+v, want start/end twice", noiseRMS, marks)
		}
		cfg := v.Config()
		for i, w := range want {
			m := marks[i]
			if m.ev != w.ev {
				t.Fatalf("noise %v: event %d is %v, want %v", noiseRMS, i, m.ev, w.ev)
			}
			var expect time.Duration
			if w.ev == VADSpeechStart {
				if d := m.onset - w.real; d < -60*time.Millisecond || d > 60*time.Millisecond {
					t.Errorf("noise %v: onset %s, real %s", noiseRMS, m.onset, w.real)
				}
				expect = w.real + cfg.MinSpeech
			} else {
				expect = w.real + cfg.EndSilence
			}
			if d := m.at - expect; d < -60*time.Millisecond || d > 160*time.Millisecond {
				t.Errorf("noise %v: %v reported at %s, expected ≈%s", noiseRMS, m.ev, m.at, expect)
			}
		}
	}
}

func TestVADIgnoresShortBursts(t *testing.T) {
	pcm := dspNoise(4, 4*SampleRate, 20)
	addInto(pcm, SampleRate, dspNoise(5, SampleRate/10, 6000))                // 100 ms noise burst
	addInto(pcm, 2*SampleRate, Sine(300, 100, 10000))                         // 100 ms thump
	addInto(pcm, 3*SampleRate, dspNoise(6, SampleRate*60/1000, 8000))         // 60 ms click
	addInto(pcm, 3*SampleRate+SampleRate/5, dspNoise(7, SampleRate/20, 8000)) // 50 ms, 140 ms later
	if marks := runVAD(NewVAD(VADConfig{}), pcm); len(marks) != 0 {
		t.Fatalf("bursts triggered %+v", marks)
	}
	// The same burst stretched to 300 ms is speech-length and does trigger:
	// the negative above is not vacuous.
	pcm = dspNoise(4, 2*SampleRate, 20)
	addInto(pcm, SampleRate/2, dspNoise(5, SampleRate*3/10, 6000))
	if marks := runVAD(NewVAD(VADConfig{}), pcm); len(marks) != 2 || marks[0].ev != VADSpeechStart {
		t.Fatalf("300 ms burst: %+v", marks)
	}
}

func TestVADAdaptsToSteadyNoise(t *testing.T) {
	// Loud line noise from the first frame is learnt as the floor, not
	// taken for speech.
	pcm := dspNoise(8, 3*SampleRate, 1500) // ≈ -27 dBFS
	v := NewVAD(VADConfig{})
	if marks := runVAD(v, pcm); len(marks) != 0 {
		t.Fatalf("steady noise triggered %+v", marks)
	}
	if f := v.NoiseFloorDBFS(); f < -32 || f > -24 {
		t.Fatalf("noise floor %.1f dBFS, want ≈-27", f)
	}
	// Noise that appears later (after silence) is taken as speech at first
	// but is learnt within the creep rate; no endless speech.
	v = NewVAD(VADConfig{EndSilence: 300 * time.Millisecond})
	pcm = append(make([]int16, SampleRate), dspNoise(9, 40*SampleRate, 300)...)
	marks := runVAD(v, pcm)
	if len(marks) != 2 || marks[1].ev != VADSpeechEnd {
		t.Fatalf("late noise: %+v", marks)
	}
}

func TestVADCustomConfigAndEdges(t *testing.T) {
	v := NewVAD(VADConfig{MinSpeech: 100 * time.Millisecond, EndSilence: 200 * time.Millisecond})
	if v.Process(nil) != VADNone {
		t.Fatal("empty frame")
	}
	pcm := make([]int16, 2*SampleRate)
	addInto(pcm, SampleRate/2, dspNoise(1, SampleRate*15/100, 5000)) // 150 ms
	marks := runVAD(v, pcm)
	if len(marks) != 2 {
		t.Fatalf("150 ms with MinSpeech 100 ms: %+v", marks)
	}
	if d := marks[1].at - marks[0].at; d < 200*time.Millisecond || d > 300*time.Millisecond {
		t.Fatalf("end after %s", d)
	}
	for _, e := range []VADEvent{VADNone, VADSpeechStart, VADSpeechEnd, 9} {
		if e.String() == "" {
			t.Fatal("empty name")
		}
	}
}

func TestVADNoAlloc(t *testing.T) {
	v := NewVAD(VADConfig{})
	frame := dspNoise(1, FrameSamples, 3000)
	if a := testing.AllocsPerRun(200, func() { v.Process(frame) }); a != 0 {
		t.Errorf("%v allocations per frame", a)
	}
}

func BenchmarkVAD(b *testing.B) {
	v := NewVAD(VADConfig{})
	pcm := dspNoise(2, SampleRate, 3000)
	frames := len(pcm) / FrameSamples
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		off := (i % frames) * FrameSamples
		v.Process(pcm[off : off+FrameSamples])
	}
}
