package speech

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callbox/daemon/flow"
	"callbox/media"
)

// TestASRMatrix measures what Debian's pocketsphinx makes of the
// simulator's espeak-ng phrases after the telephone path (8 kHz, μ-law),
// per phrase × espeak voice × decoder variant (band-extension gain and
// grammar shape), over seeded runs that vary the leading and trailing
// silence and add line noise. It prints, for each cell, how often the
// flow's intent classifier got the intended intent and the texts heard,
// and fails if the production variant misses a phrase the closed-loop
// tests rely on in more than one run in ten.
//
//	CALLBOX_ASR_MATRIX=1 [CALLBOX_ASR_MATRIX_RUNS=20] go test -run TestASRMatrix -v ./daemon/speech/
func TestASRMatrix(t *testing.T) {
	if os.Getenv("CALLBOX_ASR_MATRIX") == "" {
		t.Skip("CALLBOX_ASR_MATRIX=1 runs the ASR accuracy matrix (minutes)")
	}
	for _, bin := range []string{"espeak-ng", "pocketsphinx_continuous"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not installed", bin)
		}
	}
	runs := 20
	if n, err := strconv.Atoi(os.Getenv("CALLBOX_ASR_MATRIX_RUNS")); err == nil && n > 0 {
		runs = n
	}
	m, err := flow.NewMatcher(flow.LangEN, []flow.IntentDef{{Name: "complaint",
		Phrases: map[string][]string{flow.LangEN: {"why do you keep calling me", "this is ridiculous"}}}})
	if err != nil {
		t.Fatal(err)
	}
	expect := []string{"yes", "no", "complaint"}
	phrases := m.Phrases(expect)
	type utter struct {
		text, intent string
		needed       bool // a closed-loop test depends on it
	}
	utters := []utter{
		{"Stop calling me.", flow.IntentOptOut, true},
		{"Please stop calling me.", flow.IntentOptOut, true},
		{"Yes, that's right.", flow.IntentYes, true},
		{"Yes, thank you.", flow.IntentYes, false},
		{"Why do you keep calling me? This is ridiculous!", "complaint", true},
		{"No, not interested.", flow.IntentNo, false},
		{"I want to talk to a person.", flow.IntentHuman, false},
	}
	voices := []struct {
		name string
		args []string
		prod bool // what the simulator uses (plain or Loud)
	}{
		{"en-us", []string{"-v", "en-us"}, true},
		{"en-us -a 200 -s 210 (old loud)", []string{"-v", "en-us", "-a", "200", "-s", "210"}, false},
		{"en-us -a 140 -s 190 (loud)", []string{"-v", "en-us", "-a", "140", "-s", "190"}, true},
	}
	type variant struct {
		name  string
		gain  float64
		shape grammarShape
		prod  bool
	}
	prodShape := Pocketsphinx{}.grammarShape
	variants := []variant{
		{"clean upsample, one phrase", -1, shapeOne, false},
		{"fold 0.5, one phrase", 0.5, shapeOne, DefaultBandExtension == 0.5 && prodShape == shapeOne},
		{"fold 0.7, one phrase", 0.7, shapeOne, DefaultBandExtension == 0.7 && prodShape == shapeOne},
		{"fold 1.0, one phrase", 1, shapeOne, DefaultBandExtension == 1 && prodShape == shapeOne},
		{"fold 0.7, phrase sequence", 0.7, shapeSequence, false},
		{"fold 0.7, lead-in", 0.7, shapeLeadIn, DefaultBandExtension == 0.7 && prodShape == shapeLeadIn},
	}
	type cell struct {
		hits  int
		heard map[string]int
	}
	type key struct{ u, v, x int }
	cells := map[key]*cell{}
	var mu sync.Mutex
	type job struct {
		k   key
		pcm []int16
	}
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				v := variants[j.k.x]
				p := &Pocketsphinx{BandExtension: v.gain, grammarShape: v.shape, Timeout: 2 * time.Minute}
				text := recognizeOnce(t, p, phrases, j.pcm, "en")
				got := m.Classify(text, expect).Name
				mu.Lock()
				c := cells[j.k]
				if c == nil {
					c = &cell{heard: map[string]int{}}
					cells[j.k] = c
				}
				if got == utters[j.k.u].intent {
					c.hits++
				}
				c.heard[text]++
				mu.Unlock()
			}
		}()
	}
	rng := rand.New(rand.NewSource(3))
	for ui, u := range utters {
		for vi, vo := range voices {
			clean := synthTelephone(t, u.text, vo.args)
			for r := 0; r < runs; r++ {
				pcm := lineVariation(rng, clean)
				for xi := range variants {
					jobs <- job{key{ui, vi, xi}, pcm}
				}
			}
		}
	}
	close(jobs)
	wg.Wait()

	for ui, u := range utters {
		for vi, vo := range voices {
			for xi, v := range variants {
				c := cells[key{ui, vi, xi}]
				var heard []string
				for h, n := range c.heard {
					heard = append(heard, fmt.Sprintf("%q×%d", h, n))
				}
				sort.Strings(heard)
				t.Logf("| %s | %s | %s | %d/%d | %s |", u.text, vo.name, v.name, c.hits, runs, strings.Join(heard, " "))
				if u.needed && vo.prod && v.prod && c.hits*10 < runs*9 {
					t.Errorf("%q (%s) with %s: intent %s in %d/%d runs, want ≥ 90%%", u.text, vo.name, v.name, u.intent, c.hits, runs)
				}
			}
		}
	}
}

// synthTelephone renders text with espeak-ng as the simulator does and
// passes it through μ-law.
func synthTelephone(t *testing.T, text string, args []string) []int16 {
	t.Helper()
	w := filepath.Join(t.TempDir(), "say.wav")
	cmd := exec.Command("espeak-ng", append(append([]string{"-w", w}, args...), "--stdin")...)
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	pcm, err := media.LoadPrompt(w)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

// lineVariation is one call's version of an utterance: 0-400 ms of line
// noise before, 100-500 ms after (the box's end silence), white noise at
// about -60 dBFS throughout, then μ-law.
func lineVariation(rng *rand.Rand, pcm []int16) []int16 {
	lead := rng.Intn(3200)
	trail := 800 + rng.Intn(3200)
	out := make([]int16, 0, lead+len(pcm)+trail)
	out = append(out, make([]int16, lead)...)
	out = append(out, pcm...)
	out = append(out, make([]int16, trail)...)
	for i := range out {
		out[i] = clamp16(float64(out[i]) + rng.NormFloat64()*30)
	}
	enc := make([]byte, len(out))
	media.PCMU.Encode(enc, out)
	media.PCMU.Decode(out, enc)
	return out
}

func recognizeOnce(t *testing.T, p *Pocketsphinx, phrases []string, pcm []int16, lang string) string {
	t.Helper()
	s, err := p.Start(context.Background(), ListenOptions{Lang: lang, Phrases: phrases})
	if err != nil {
		t.Error(err)
		return ""
	}
	defer s.Close()
	for i := 0; i < len(pcm); i += 160 {
		if err := s.Write(pcm[i:min(i+160, len(pcm))]); err != nil {
			t.Error(err)
			return ""
		}
	}
	if err := s.CloseSend(); err != nil {
		t.Error(err)
	}
	var text string
	for r := range s.Results() {
		if r.Final {
			text = r.Text
		}
	}
	if err := s.Err(); err != nil {
		t.Error(err)
	}
	return text
}

// TestASRMatrixMandarin measures Mandarin answers (espeak-ng's
// cmn-latn-pinyin voice, the telephone path as above) against the built-in
// intents' Mandarin phrases on the en-us model (Pocketsphinx.Mandarin),
// per band-extension gain. It prints the table in docs/PERFORMANCE.md.
//
//	CALLBOX_ASR_MATRIX=1 [CALLBOX_ASR_MATRIX_RUNS=10] go test -run TestASRMatrixMandarin -v ./daemon/speech/
func TestASRMatrixMandarin(t *testing.T) {
	if os.Getenv("CALLBOX_ASR_MATRIX") == "" {
		t.Skip("CALLBOX_ASR_MATRIX=1 runs the ASR accuracy matrix (minutes)")
	}
	needPocketsphinx(t)
	runs := 10
	if n, err := strconv.Atoi(os.Getenv("CALLBOX_ASR_MATRIX_RUNS")); err == nil && n > 0 {
		runs = n
	}
	m, err := flow.NewMatcher(flow.LangZH, nil)
	if err != nil {
		t.Fatal(err)
	}
	expect := []string{flow.IntentYes, flow.IntentNo}
	phrases := m.Phrases(expect)
	utters := []struct{ text, intent string }{
		{"不要再打了", flow.IntentOptOut}, {"别再打了", flow.IntentOptOut}, {"转人工", flow.IntentHuman},
		{"人工客服", flow.IntentHuman}, {"是的", flow.IntentYes}, {"好的", flow.IntentYes}, {"可以", flow.IntentYes},
		{"对", flow.IntentYes}, {"没问题", flow.IntentYes}, {"确认", flow.IntentYes}, {"嗯", flow.IntentYes},
		{"不是", flow.IntentNo}, {"不需要", flow.IntentNo}, {"不用了", flow.IntentNo}, {"不", flow.IntentNo}, {"不行", flow.IntentNo},
	}
	gains := []float64{0.3, 0.5, 0.7}
	t.Logf("| answer (intent) | %s |", strings.Join([]string{"gain 0.3 (default)", "gain 0.5", "gain 0.7"}, " | "))
	total := make([]int, len(gains))
	for _, u := range utters {
		clean := synthTelephone(t, u.text, []string{"-v", "cmn-latn-pinyin"})
		row := []string{}
		for gi, g := range gains {
			p := &Pocketsphinx{Mandarin: true, BandExtension: g, Timeout: 2 * time.Minute}
			hits := 0
			wrong := map[string]int{}
			for run := range runs {
				rng := rand.New(rand.NewSource(int64(run)))
				text := recognizeOnce(t, p, phrases, lineVariation(rng, clean), "zh")
				if got := m.Classify(text, expect).Name; got == u.intent {
					hits++
				} else {
					wrong[text+" → "+got]++
				}
			}
			total[gi] += hits
			cell := fmt.Sprintf("%d/%d", hits, runs)
			if len(wrong) > 0 {
				var ws []string
				for w, n := range wrong {
					ws = append(ws, fmt.Sprintf("%s ×%d", w, n))
				}
				sort.Strings(ws)
				cell += " (" + strings.Join(ws, ", ") + ")"
			}
			row = append(row, cell)
		}
		t.Logf("| %s (%s) | %s |", u.text, u.intent, strings.Join(row, " | "))
	}
	t.Logf("| all | %d/%d | %d/%d | %d/%d |", total[0], runs*len(utters), total[1], runs*len(utters), total[2], runs*len(utters))
}
