package speech

import (
	"math"
	"os"
	"testing"
)

// toneLevel is the amplitude of the f Hz component of pcm at rate.
func toneLevel(pcm []int16, rate int, f float64) float64 {
	var re, im float64
	for i, s := range pcm {
		ph := 2 * math.Pi * f * float64(i) / float64(rate)
		re += float64(s) * math.Cos(ph)
		im += float64(s) * math.Sin(ph)
	}
	return 2 * math.Hypot(re, im) / float64(len(pcm))
}

// A 3 kHz tone at 8 kHz comes out at 16 kHz with its 3 kHz component
// intact and a mirror image at 5 kHz scaled by the gain; gain ≤ 0 is the
// clean upsampler (no image).
func TestUpsampleForASRFoldsTheBand(t *testing.T) {
	in := make([]int16, 8000)
	for i := range in {
		in[i] = int16(8000 * math.Sin(2*math.Pi*3000*float64(i)/8000))
	}
	for _, gain := range []float64{-1, 0, 0.7, 1, 3} {
		out := upsampleForASR(in, 8000, gain)
		if len(out) != 2*len(in) {
			t.Fatalf("gain %v: %d samples out of %d, want twice", gain, len(out), len(in))
		}
		mid := out[1000 : len(out)-1000] // away from the filter's edges
		base, image := toneLevel(mid, 16000, 3000), toneLevel(mid, 16000, 5000)
		want := math.Min(math.Max(gain, 0), 1) * 8000
		if math.Abs(base-8000) > 250 || math.Abs(image-want) > 250 {
			t.Errorf("gain %v: 3 kHz at %.0f (want 8000), 5 kHz image at %.0f (want %.0f)", gain, base, image, want)
		}
	}
	// Other rates are resampled cleanly.
	if got := upsampleForASR(in, 16000, 0.7); len(got) != len(in) {
		t.Fatalf("16 kHz input: %d samples, want %d unchanged", len(got), len(in))
	}
}

// The per-run dictionary holds exactly the grammar's words, alternate
// pronunciations included.
func TestGrammarDict(t *testing.T) {
	path := t.TempDir() + "/d.dict"
	if err := os.WriteFile(path, []byte("yes Y EH S\nyes(2) Y AE S\nno N OW\nstop S T AA P\ncalling K AO L IH NG\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &Pocketsphinx{}
	dict, err := p.dictionary(path)
	if err != nil {
		t.Fatal(err)
	}
	_, phraseOf, _ := buildJSGF([]string{"Yes!", "no", "zzz"}, dict)
	if got, want := p.grammarDict(phraseOf, "en"), "no N OW\nyes Y EH S\nyes(2) Y AE S\n"; got != want {
		t.Fatalf("grammarDict = %q, want %q", got, want)
	}
}
