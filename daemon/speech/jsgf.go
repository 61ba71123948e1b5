package speech

import (
	"sort"
	"strings"
	"unicode"
)

// phraseWords splits a phrase into lower-case dictionary tokens: letters,
// digits and in-word apostrophes; everything else separates words.
func phraseWords(phrase string) []string {
	f := strings.FieldsFunc(strings.ToLower(phrase), func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '\'')
	})
	out := f[:0]
	for _, w := range f {
		if w = strings.Trim(w, "'"); w != "" {
			out = append(out, w)
		}
	}
	return out
}

// buildJSGF returns a JSGF grammar accepting exactly one of the phrases, with
// words missing from dict dropped. phraseOf maps each grammar alternative
// (words joined by one space) back to the first phrase that produced it.
// dropped lists the unknown words (sorted, unique). grammar is "" when no
// phrase survives.
func buildJSGF(phrases []string, dict map[string]struct{}) (grammar string, phraseOf map[string]string, dropped []string) {
	return buildJSGFShape(phrases, dict, false)
}

// buildJSGFShape is buildJSGF; sequence accepts one or more phrases in a
// row instead of exactly one. The one-phrase shape is what the adapter uses:
// measured on telephone audio (TestASRMatrix) the sequence shape lets
// the decoder explain unknown words with short phrases ("please stop
// calling me" → "human nope no") and fails outright on a phrase followed by
// out-of-grammar words.
func buildJSGFShape(phrases []string, dict map[string]struct{}, sequence bool) (grammar string, phraseOf map[string]string, dropped []string) {
	phraseOf = map[string]string{}
	var alts []string
	unknown := map[string]bool{}
	for _, ph := range phrases {
		var kept []string
		for _, w := range phraseWords(ph) {
			if _, ok := dict[w]; ok && jsgfSafe(w) {
				kept = append(kept, w)
			} else {
				unknown[w] = true
			}
		}
		if len(kept) == 0 {
			continue
		}
		alt := strings.Join(kept, " ")
		if _, dup := phraseOf[alt]; dup {
			continue
		}
		phraseOf[alt] = strings.TrimSpace(ph)
		alts = append(alts, alt)
	}
	for w := range unknown {
		dropped = append(dropped, w)
	}
	sort.Strings(dropped)
	if len(alts) == 0 {
		return "", phraseOf, dropped
	}
	var b strings.Builder
	b.WriteString("#JSGF V1.0;\n\ngrammar callbox;\n\n")
	if sequence {
		b.WriteString("public <answer> = <phrase>+ ;\n\n<phrase> = ")
	} else {
		b.WriteString("public <answer> = ")
	}
	for i, a := range alts {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString("( " + a + " )")
	}
	b.WriteString(" ;\n")
	return b.String(), phraseOf, dropped
}

// jsgfSafe reports whether w is a plain JSGF token (ASCII letters, digits,
// apostrophe), so no dictionary entry can inject grammar syntax.
func jsgfSafe(w string) bool {
	for _, r := range w {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '\'') {
			return false
		}
	}
	return w != ""
}
