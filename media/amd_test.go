package media

import (
	"testing"
	"time"
)

type amdReport struct {
	res AMDResult
	at  time.Duration
}

func runAMD(a *AMD, pcm []int16) []amdReport {
	var out []amdReport
	var t time.Duration
	for off := 0; off+FrameSamples <= len(pcm); off += FrameSamples {
		t += FrameDuration * time.Millisecond
		if res, ok := a.Process(pcm[off : off+FrameSamples]); ok {
			out = append(out, amdReport{res, t})
		}
	}
	return out
}

func TestAMDVoicemailWithBeep(t *testing.T) {
	msg := dspSpeech(t, "", "Hello, you have reached the voicemail of John Smith, please leave a message after the tone")
	_, msgEnd := speechSpan(msg)
	pcm := append(dspNoise(11, SampleRate/5, 20), msg...) // 200 ms after answer
	msgEnd += SampleRate / 5
	pcm = append(pcm, dspNoise(12, SampleRate*3/10, 20)...)
	beepStart := len(pcm)
	pcm = append(pcm, Sine(1000, 500, 8000)...)
	pcm = append(pcm, dspNoise(13, SampleRate, 20)...)

	reports := runAMD(NewAMD(AMDConfig{}), pcm)
	if len(reports) != 2 {
		t.Fatalf("reports %+v, want a verdict then a beep", reports)
	}
	v, b := reports[0].res, reports[1].res
	if v.Decision != AMDMachine || v.Beep {
		t.Fatalf("verdict %v", v)
	}
	if v.Reason != AMDReasonLongGreeting && v.Reason != AMDReasonMaxWords {
		t.Fatalf("reason %q", v.Reason)
	}
	if v.At > 2*time.Second || v.At != reports[0].at {
		t.Fatalf("verdict at %s (reported at %s)", v.At, reports[0].at)
	}
	if !b.Beep || b.Decision != AMDMachine || b.BeepFreq < 990 || b.BeepFreq > 1010 {
		t.Fatalf("beep report %v", b)
	}
	// The beep is reported after its minimum length, not during the speech.
	lo := sampleTime(beepStart) + 130*time.Millisecond
	hi := sampleTime(beepStart) + 200*time.Millisecond
	if b.BeepAt < lo || b.BeepAt > hi || b.BeepAt < sampleTime(msgEnd) {
		t.Fatalf("beep at %s, want %s..%s (speech ended %s)", b.BeepAt, lo, hi, sampleTime(msgEnd))
	}
}

func TestAMDHumanHello(t *testing.T) {
	for _, s := range []struct{ voice, text string }{
		{"", "Hello?"},
		{"en-us+f3", "Yes?"},
		{"cmn-latn-pinyin", "wei2?"},
	} {
		pcm := append(dspNoise(21, SampleRate/10, 20), dspSpeech(t, s.voice, s.text)...)
		pcm = append(pcm, dspNoise(22, 4*SampleRate, 20)...)
		reports := runAMD(NewAMD(AMDConfig{}), pcm)
		if len(reports) != 1 {
			t.Fatalf("%q: reports %+v", s.text, reports)
		}
		r := reports[0].res
		if r.Decision != AMDHuman || r.Reason != AMDReasonShortGreeting || r.Beep {
			t.Fatalf("%q: %v", s.text, r)
		}
		if r.At > 1500*time.Millisecond {
			t.Fatalf("%q: human decided only at %s", s.text, r.At)
		}
	}
}

func TestAMDSilenceAndTimeout(t *testing.T) {
	reports := runAMD(NewAMD(AMDConfig{}), dspNoise(31, 4*SampleRate, 20))
	if len(reports) != 1 || reports[0].res.Decision != AMDNotSure || reports[0].res.Reason != AMDReasonInitialSilence {
		t.Fatalf("silence: %+v", reports)
	}
	if at := reports[0].res.At; at != 2500*time.Millisecond {
		t.Fatalf("initial silence decided at %s", at)
	}
	// Speech that keeps going with short words and pauses until the total
	// analysis time, with generous greeting limits: NotSure (timeout).
	cfg := AMDConfig{GreetingLength: time.Minute, MaxWords: 1000, AfterGreetingSilence: 2 * time.Second, TotalAnalysisTime: 3 * time.Second}
	var pcm []int16
	for range 10 {
		pcm = append(pcm, dspNoise(32, SampleRate/5, 4000)...)
		pcm = append(pcm, dspNoise(33, SampleRate/5, 20)...)
	}
	reports = runAMD(NewAMD(cfg), pcm)
	if len(reports) != 1 || reports[0].res.Reason != AMDReasonTimeout || reports[0].res.At != 3*time.Second {
		t.Fatalf("timeout: %+v", reports)
	}
}

func TestAMDBeepFirstAndBeepRejects(t *testing.T) {
	// A beep straight after answer: Machine because of the beep.
	pcm := append(dspNoise(41, SampleRate/2, 20), Sine(800, 300, 6000)...)
	pcm = append(pcm, make([]int16, SampleRate)...)
	reports := runAMD(NewAMD(AMDConfig{}), pcm)
	if len(reports) != 1 || reports[0].res.Decision != AMDMachine || reports[0].res.Reason != AMDReasonBeep || !reports[0].res.Beep {
		t.Fatalf("beep first: %+v", reports)
	}
	// Not beeps: too short (100 ms), out of band (3 kHz, 200 Hz), noise,
	// a frequency sweep.
	sweep := make([]int16, 8000*4/10)
	for i := range sweep {
		f := 500 + 3000*float64(i)/float64(len(sweep))
		sweep[i] = Sine(f, 1, 6000)[i%8]
	}
	for name, tone := range map[string][]int16{
		"100ms": Sine(1000, 100, 6000),
		"3kHz":  Sine(3000, 400, 6000),
		"200Hz": Sine(200, 400, 6000),
		"noise": dspNoise(42, SampleRate/2, 3000),
		"sweep": sweep,
	} {
		pcm := append(dspNoise(43, SampleRate/2, 20), tone...)
		pcm = append(pcm, dspNoise(44, SampleRate, 20)...)
		for _, r := range runAMD(NewAMD(AMDConfig{}), pcm) {
			if r.res.Beep {
				t.Errorf("%s: beep detected %v", name, r.res)
			}
		}
	}
	// Disabled beep detection.
	reports = runAMD(NewAMD(AMDConfig{DisableBeep: true}), pcm)
	for _, r := range reports {
		if r.res.Beep {
			t.Fatal("beep with DisableBeep")
		}
	}
}

func TestAMDSpeechHasNoBeep(t *testing.T) {
	for _, s := range []struct{ voice, text string }{
		{"", "Hello, you have reached the voicemail of John Smith, please leave a message after the tone"},
		{"cmn-latn-pinyin", "nin2 hao3, nin2 bo1 da3 de5 yong4 hu4 zan4 shi2 wu2 fa3 jie1 tong1, qing3 zai4 di1 sheng1 hou4 liu2 yan2"},
	} {
		a := NewAMD(AMDConfig{})
		for _, r := range runAMD(a, dspSpeech(t, s.voice, s.text)) {
			if r.res.Beep {
				t.Errorf("%q: speech taken for a beep: %v", s.text[:10], r.res)
			}
		}
	}
}

func TestAMDNoAlloc(t *testing.T) {
	a := NewAMD(AMDConfig{BeepTimeout: time.Hour})
	frame := Sine(440, 20, 3000)
	if n := testing.AllocsPerRun(200, func() { a.Process(frame) }); n != 0 {
		t.Errorf("%v allocations per frame", n)
	}
	for _, d := range []AMDDecision{AMDUndecided, AMDHuman, AMDMachine, AMDNotSure, 9} {
		if d.String() == "" {
			t.Fatal("empty name")
		}
	}
	if (AMDResult{Beep: true}).String() == "" {
		t.Fatal("empty result string")
	}
}
