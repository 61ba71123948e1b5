package campaign

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"callbox/media"
	"callbox/sim"
)

// amdSample is one labelled answer: what the callee side says on pickup.
type amdSample struct {
	text, voice string
	machine     bool
	beep        bool
	noise       float64 // RMS of white line noise added to the whole answer (0: none)
}

// amdLabelledSet: live-human-style answers (a short greeting, then waiting)
// and voicemail-style greetings, English and Mandarin, synthesised with
// espeak-ng as the simulator does; some over low-level line noise.
var amdLabelledSet = []amdSample{
	// people: a short greeting, then they wait for the caller
	{text: "Hello?", voice: "en-us"}, {text: "Hi.", voice: "en-us"}, {text: "Yes?", voice: "en-us"},
	{text: "Hello, speaking.", voice: "en-us"}, {text: "wei2?", voice: sim.MandarinVoice}, {text: "ni3 hao3", voice: sim.MandarinVoice},
	{text: "Hello, who is this?", voice: "en-us"},
	{text: "Yeah, hello.", voice: "en-us+f3", noise: 60},
	{text: "Good morning.", voice: "en-gb"},
	{text: "This is Mary.", voice: "en-us+f3"},
	{text: "Hello?", voice: "en-gb", noise: 150},
	{text: "wei2, ni3 hao3", voice: sim.MandarinVoice},             // 喂，你好
	{text: "wei2, na3 wei4?", voice: sim.MandarinVoice, noise: 60}, // 喂，哪位？
	{text: "qing3 jiang3", voice: sim.MandarinVoice},               // 请讲
	{text: "shi4 wo3", voice: sim.MandarinVoice, noise: 150},       // 是我
	{text: "wei2? ni3 shi4 shei2?", voice: sim.MandarinVoice},      // 喂？你是谁？
	// machines: recorded greetings that talk on, some ending in a beep
	{text: "The person you are calling is not available. Please leave a message after the tone.", voice: "en-us", machine: true, beep: true},
	{text: "Hi, you have reached John. I cannot take your call right now.", voice: "en-us", machine: true},
	{text: "Thank you for calling. Our office is closed. Please call again during business hours.", voice: "en-us", machine: true},
	{text: "nin2 bo1 da3 de5 yong4 hu4 zan4 shi2 wu2 fa3 jie1 tong1, qing3 shao1 hou4 zai4 bo1", voice: sim.MandarinVoice, machine: true},
	{text: "Please leave your message.", voice: "en-us", machine: true, beep: true},
	{text: "Hello, you have reached the voicemail of Sarah Chen at First National Bank. I am away from my desk, please leave your name and number.", voice: "en-us+f3", machine: true, beep: true, noise: 60},
	{text: "Your call has been forwarded to an automatic voice message system. The number you dialled is not available.", voice: "en-gb", machine: true},
	{text: "Hi, this is Tom. Leave a message.", voice: "en-us", machine: true, beep: true, noise: 150},
	{text: "nin2 hao3, wo3 xian4 zai4 bu4 fang1 bian4 jie1 ting1 dian4 hua4, qing3 zai4 di1 sheng1 hou4 liu2 yan2", voice: sim.MandarinVoice, machine: true, beep: true}, // 您好，我现在不方便接听电话，请在嘀声后留言
	{text: "nin2 suo3 bo1 da3 de5 dian4 hua4 yi3 guan1 ji1", voice: sim.MandarinVoice, machine: true, noise: 60},                                                         // 您所拨打的电话已关机
	{text: "wei2, ni3 hao3, wo3 shi4 li3 ming2, qing3 liu2 yan2", voice: sim.MandarinVoice, machine: true, beep: true},                                                   // 喂，你好，我是李明，请留言
	{text: "huan1 ying2 zhi4 dian4 zhong1 guo2 yin2 hang2, pu3 tong1 hua4 fu2 wu4 qing3 an4 yi1", voice: sim.MandarinVoice, machine: true, noise: 150},                   // 欢迎致电中国银行，普通话服务请按一
}

// amdPickup is the silence between answer and the first sound.
const amdPickup = 1600 // samples (200 ms)

func amdRun(pcm []int16) media.AMDResult {
	a := media.NewAMD(media.AMDConfig{})
	for off := 0; off+media.FrameSamples <= len(pcm); off += media.FrameSamples {
		if res, ok := a.Process(pcm[off : off+media.FrameSamples]); ok && res.Decision != media.AMDUndecided {
			return res
		}
	}
	return a.Result()
}

// amdAudio is one rendered sample.
type amdAudio struct {
	pcm []int16
	end time.Duration // end of the greeting's last audible sound, from answer
}

// synthSet renders every sample as the audio after answer: the pickup
// gap, the greeting (and beep), 6 s of silence, with the sample's noise.
func synthSet(tb testing.TB) []amdAudio {
	tb.Helper()
	var out []amdAudio
	for i, s := range amdLabelledSet {
		pcm, err := sim.Espeak(context.Background(), s.text, s.voice, false)
		if err != nil {
			tb.Skipf("espeak-ng: %v", err)
		}
		last := len(pcm)
		for last > 0 && pcm[last-1] < 100 && pcm[last-1] > -100 {
			last--
		}
		end := time.Duration(amdPickup+last) * time.Second / 8000
		if s.beep {
			pcm = append(append(pcm, make([]int16, 2400)...), media.Sine(1000, 400, media.DefaultToneAmplitude)...)
		}
		audio := append(append(make([]int16, 0, amdPickup+len(pcm)+8000*6), make([]int16, amdPickup)...), pcm...)
		audio = append(audio, make([]int16, 8000*6)...)
		if s.noise > 0 {
			rng := rand.New(rand.NewPCG(uint64(i), 99))
			for j := range audio {
				audio[j] = int16(max(-32768, min(32767, float64(audio[j])+rng.NormFloat64()*s.noise)))
			}
		}
		out = append(out, amdAudio{pcm: audio, end: end})
	}
	return out
}

// BenchmarkAMDLabelledSet reports accuracy on the labelled set and the
// human verdict times after answer (mean, p95, worst).
func BenchmarkAMDLabelledSet(b *testing.B) {
	set := synthSet(b)
	b.ResetTimer()
	var correct, total int
	var human []time.Duration
	for i := 0; i < b.N; i++ {
		human = human[:0]
		for j, a := range set {
			res := amdRun(a.pcm)
			total++
			if (res.Decision == media.AMDMachine) == amdLabelledSet[j].machine {
				correct++
			}
			if !amdLabelledSet[j].machine {
				human = append(human, res.At)
			}
		}
	}
	mean, p95, worst := humanTimes(human)
	b.ReportMetric(100*float64(correct)/float64(total), "%accuracy")
	b.ReportMetric(float64(len(set)), "samples")
	b.ReportMetric(float64(mean.Milliseconds()), "ms-mean-human")
	b.ReportMetric(float64(p95.Milliseconds()), "ms-p95-human")
	b.ReportMetric(float64(worst.Milliseconds()), "ms-worst-human")
}

func humanTimes(ts []time.Duration) (mean, p95, worst time.Duration) {
	if len(ts) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ts)
	slices.Sort(s)
	var sum time.Duration
	for _, t := range s {
		sum += t
	}
	return sum / time.Duration(len(s)), s[(len(s)*95+99)/100-1], s[len(s)-1]
}

// amdHumanBar is the longest a live answer may wait for its verdict,
// counted from answer (the 200 ms pickup gap included). A greeting whose
// speech runs past amdHumanBar-HumanSilence cannot meet it: for those the
// verdict must come HumanSilence (and a frame) after the greeting ends.
const amdHumanBar = 1500 * time.Millisecond

// TestAMDLabelledSet checks the labelled set itself: every machine greeting
// is called a machine, every live answer is called human within the bar.
func TestAMDLabelledSet(t *testing.T) {
	var human []time.Duration
	hs := media.NewAMD(media.AMDConfig{}).Config().HumanSilence
	for j, a := range synthSet(t) {
		res := amdRun(a.pcm)
		s := amdLabelledSet[j]
		if (res.Decision == media.AMDMachine) != s.machine {
			t.Errorf("%q: %s, labelled machine=%v", s.text, res, s.machine)
		}
		if !s.machine {
			human = append(human, res.At)
			bar := max(amdHumanBar, a.end+hs+40*time.Millisecond)
			if res.Decision != media.AMDHuman || res.At > bar {
				t.Errorf("%q (greeting ends %s): %s after answer, want human within %s", s.text, a.end, res, bar)
			}
		}
		t.Logf("%-40.40q noise %3.0f ends %5s  %s", s.text, s.noise, a.end, res)
	}
	mean, p95, worst := humanTimes(human)
	t.Logf("human verdicts: mean %s, p95 %s, worst %s", mean, p95, worst)
}
