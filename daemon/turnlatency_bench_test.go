package daemon

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"callbox/daemon/apiv1"
	"callbox/daemon/config"
	"callbox/daemon/voice"
	"callbox/sim"
)

// BenchmarkTurnLatency drives five-question flow calls
// (testdata/flows/turns-bench.en.yaml) between the box and the callee
// simulator over loopback: espeak-ng speech both ways, pocketsphinx with
// the node's grammar. One iteration is one call of five caller turns. It
// reports p50 and p95 (ms) of the turn latency, from the caller's last
// voiced frame at the box to the first RTP frame of the reply, and of its
// parts: endpointing wait (end silence), ASR, intent (Listen returned →
// reply's Say), TTS cached and uncached, media (audio ready → first
// frame), and the pipeline overhead: total − configured end silence − ASR
// − TTS, i.e. what the box adds beyond the silence it must wait for and
// the engines' own compute (bar: ≤ 100 ms at p95).
//
//	go test -run '^$' -bench TurnLatency -benchtime 6x ./daemon/
func BenchmarkTurnLatency(b *testing.B) {
	for _, bin := range []string{"espeak-ng", "pocketsphinx_continuous"} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Skipf("%s is not installed", bin)
		}
	}
	var mu sync.Mutex
	var turns []voice.TurnTiming
	onTurnTimings = func(ts []voice.TurnTiming) {
		mu.Lock()
		turns = append(turns, ts...)
		mu.Unlock()
	}
	b.Cleanup(func() { onTurnTimings = nil })

	personas := sim.DefaultPersonas()
	personas["bench-yes"] = sim.Persona{Name: "bench-yes", Kind: sim.KindAnswer, RingFor: 100 * time.Millisecond,
		Say: []string{"Yes, that's right.", "Yes.", "Yes, that's right.", "Yes.", "Yes, that's right."}}
	base := 47000 + (freePort(b)%50)*40
	s, err := sim.New(sim.Config{Port: -1, RTPPortMin: base, RTPPortMax: base + 38, Personas: personas, Default: "bench-yes"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		cancel()
		b.Fatal(err)
	}
	b.Cleanup(func() { cancel(); s.Close() })
	var simPort int
	if _, err := fmt.Sscanf(s.Addr(), "127.0.0.1:%d", &simPort); err != nil {
		b.Fatalf("sim addr %q: %v", s.Addr(), err)
	}
	const endSilence = 500 * time.Millisecond
	box := startBox(b, simPort, func(c *config.Config) {
		abs, _ := filepath.Abs("testdata/flows")
		c.Flows.Dir = abs
		c.Flows.EndSilence = endSilence
		c.ASR.Timeout = 3 * time.Second
		c.Calls.MaxDuration = 90 * time.Second
	})
	// Warm the flow's static prompts (and the simulator's phrases) so
	// "cached" means cached.
	place := func(i int) {
		rec, code, body := box.call(apiv1.PlaceCall{Number: "+8613700000100", Flow: "turns-bench.en",
			Profile: map[string]string{"token": fmt.Sprintf("%d %d", time.Now().UnixNano()%997, i)}})
		if code != http.StatusOK {
			b.Fatalf("POST /v1/calls: %d %s", code, body)
		}
		if rec.Dialogue == nil {
			b.Fatalf("call %d: no dialogue: %+v", i, rec)
		}
	}
	place(-1)
	mu.Lock()
	turns = nil
	mu.Unlock()
	b.ResetTimer()
	for i := range b.N {
		place(i)
	}
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	var total, endpoint, asr, intent, ttsC, ttsU, media, overhead []time.Duration
	for _, t := range turns {
		if t.SpeechEnd.IsZero() || t.FirstRTP.IsZero() || t.ASRFailed || t.NoInput {
			continue
		}
		tot := t.FirstRTP.Sub(t.SpeechEnd)
		a := t.ASRDone.Sub(t.Endpoint)
		tts := t.TTSDone.Sub(t.SayStart)
		total = append(total, tot)
		endpoint = append(endpoint, t.Endpoint.Sub(t.SpeechEnd))
		asr = append(asr, a)
		intent = append(intent, t.SayStart.Sub(t.ListenDone))
		if t.TTSCached {
			ttsC = append(ttsC, tts)
		} else {
			ttsU = append(ttsU, tts)
		}
		media = append(media, t.FirstRTP.Sub(t.TTSDone))
		overhead = append(overhead, tot-endSilence-a-tts)
	}
	if len(total) == 0 {
		b.Fatalf("no measurable turn in %d", len(turns))
	}
	report := func(name string, d []time.Duration) {
		if len(d) == 0 {
			return
		}
		b.ReportMetric(msAt(d, 0.50), name+"-p50-ms")
		b.ReportMetric(msAt(d, 0.95), name+"-p95-ms")
	}
	report("total", total)
	report("endpoint", endpoint)
	report("asr", asr)
	report("intent", intent)
	report("tts-cached", ttsC)
	report("tts-uncached", ttsU)
	report("media", media)
	report("overhead", overhead)
	b.ReportMetric(float64(len(total)), "turns")
	b.ReportMetric(float64(len(turns)-len(total)), "failed-turns")
}

// msAt is the q-quantile of d in milliseconds (nearest rank).
func msAt(d []time.Duration, q float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	i = max(0, min(i, len(s)-1))
	return float64(s[i].Microseconds()) / 1000
}
