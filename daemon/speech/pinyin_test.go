package speech

import (
	"context"
	"errors"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"callbox/daemon/flow"
)

func TestPinyinOf(t *testing.T) {
	for in, want := range map[string]string{
		"不要再打了":   "bu yao zai da le",
		"还款":      "huan kuan", // a word's own reading before the character's
		"还行":      "hai xing",
		"1分":      "yi fen",
		"好的，OK！":  "hao de ok",
		"转人工":     "zhuan ren gong",
		"需要":      "xu yao",
		"我行的还款日期": "wo hang de huan kuan ri qi",
	} {
		got, unknown := pinyinOf(in)
		if strings.Join(got, " ") != want || len(unknown) > 0 {
			t.Errorf("pinyinOf(%q) = %q %q, want %q", in, got, unknown, want)
		}
	}
	if _, unknown := pinyinOf("不要龘"); strings.Join(unknown, "") != "龘" {
		t.Errorf("unknown character not reported: %q", unknown)
	}
}

func TestMandarinPhones(t *testing.T) {
	for syl, want := range map[string]string{
		"bu":    "B UW|P UW",
		"shi":   "SH ER|SH IH",
		"si":    "S IH|S AH",
		"ju":    "JH UW|JH IY|JH Y UW|CH UW|CH IY|CH Y UW",
		"yao":   "Y AW",
		"wo":    "W AO|AO",
		"zhuan": "JH W AA N|CH W AA N",
		"xue":   "SH Y EH|SH W EH",
		"er":    "ER|AA R",
	} {
		if got := strings.Join(mandarinPhones(syl), "|"); got != want {
			t.Errorf("mandarinPhones(%q) = %q, want %q", syl, got, want)
		}
	}
	for _, bad := range []string{"", "ok", "x", "zhx", "bv"} {
		if got := mandarinPhones(bad); got != nil {
			t.Errorf("mandarinPhones(%q) = %q, want nil", bad, got)
		}
	}
	if got := strings.Join(mandarinDictLines("bu"), "\n"); got != "bu B UW\nbu(2) P UW" {
		t.Errorf("dict lines: %q", got)
	}
	// Every reading in the table spells.
	for c, syl := range mandarinChars {
		if mandarinPhones(syl) == nil {
			t.Errorf("%c reads %q, which has no phones", c, syl)
		}
	}
	for w, r := range mandarinWords {
		for _, syl := range strings.Fields(r) {
			if mandarinPhones(syl) == nil {
				t.Errorf("%s reads %q, which has no phones", w, syl)
			}
		}
	}
}

// Every Mandarin phrase the built-in intents and the shipped flows expect
// can be spelled, so no phrase silently leaves the grammar.
func TestPinyinCoversShippedPhrases(t *testing.T) {
	files, _ := filepath.Glob("../../flows/*.zh.yaml")
	if len(files) == 0 {
		t.Fatal("no shipped Mandarin flows found")
	}
	check := func(where string, m *flow.Matcher) {
		for _, ph := range m.Phrases(nil) {
			if _, unknown := pinyinOf(ph); len(unknown) > 0 {
				t.Errorf("%s: phrase %q has characters without a reading: %q", where, ph, unknown)
			}
		}
	}
	m, err := flow.NewMatcher(flow.LangZH, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("built-in intents", m)
	for _, f := range files {
		fl, err := flow.Load(f)
		if err != nil {
			t.Fatal(err)
		}
		check(filepath.Base(f), fl.Matcher())
	}
}

// Mandarin answers spoken by espeak-ng's Mandarin voice, through the
// telephone path, are recognised among the built-in intents' phrases.
func TestPocketsphinxMandarin(t *testing.T) {
	needPocketsphinx(t)
	m, err := flow.NewMatcher(flow.LangZH, nil)
	if err != nil {
		t.Fatal(err)
	}
	expect := []string{flow.IntentYes, flow.IntentNo}
	p := &Pocketsphinx{Timeout: time.Minute, Mandarin: true}
	rng := rand.New(rand.NewSource(3))
	// The answers recognised in every run of the measurement (the others
	// are in docs/PERFORMANCE.md with their confusions).
	for _, c := range []struct{ text, intent string }{
		{"不要再打了", flow.IntentOptOut},
		{"别再打了", flow.IntentOptOut},
		{"转人工", flow.IntentHuman},
		{"不需要", flow.IntentNo},
		{"对", flow.IntentYes},
		{"没问题", flow.IntentYes},
	} {
		pcm := lineVariation(rng, synthTelephone(t, c.text, []string{"-v", "cmn-latn-pinyin"}))
		got := recognizeOnce(t, p, m.Phrases(expect), pcm, "zh")
		if in := m.Classify(got, expect); in.Name != c.intent {
			t.Errorf("said %q, recognized %q (intent %q, want %q)", c.text, got, in.Name, c.intent)
		}
	}
	// Without phrases there is no Mandarin model to fall back on; with
	// Mandarin off (the default) a Mandarin turn is refused.
	if _, err := p.Start(context.Background(), ListenOptions{Lang: "zh"}); !errors.Is(err, ErrUnsupportedLang) {
		t.Errorf("Mandarin without phrases: %v", err)
	}
	if _, err := (&Pocketsphinx{}).Start(context.Background(), ListenOptions{Lang: "zh", Phrases: []string{"是的"}}); !errors.Is(err, ErrUnsupportedLang) {
		t.Errorf("Mandarin when off: %v", err)
	}
	// No phrase can be spelled: the error names the characters.
	if _, err := p.Start(context.Background(), ListenOptions{Lang: "zh", Phrases: []string{"龘"}}); !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), "龘") {
		t.Errorf("unspellable phrases: %v", err)
	}
}

func FuzzPinyinGrammar(f *testing.F) {
	f.Add("不要再打了", "好的，OK！")
	f.Add("1分", "龘; public <x> = a | b")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, in := range []string{a, b} {
			syls, _ := pinyinOf(in)
			for _, s := range syls {
				if s == "" {
					t.Fatalf("pinyinOf(%q) gave an empty syllable", in)
				}
			}
		}
		dict := map[string]struct{}{}
		for _, w := range phraseWords(a + " " + b) {
			dict[w] = struct{}{} // even words the dictionary knows must not break the grammar
		}
		g, of, _, _ := buildJSGFShape([]string{a, b}, "zh", dict, shapeLeadIn)
		if g == "" {
			return
		}
		body := g[strings.Index(g, "public"):]
		for _, r := range strings.TrimPrefix(body, "public <answer> = ") {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("' ()|;\n", r)) {
				t.Fatalf("grammar body has %q: %q", r, g)
			}
		}
		if len(of) == 0 {
			t.Fatal("grammar without phrase map")
		}
	})
}
