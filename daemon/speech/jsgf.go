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

// buildJSGF returns a JSGF grammar accepting exactly one of the phrases
// (shapeOne), with words missing from dict dropped. phraseOf maps each
// grammar alternative (words joined by one space) back to the first phrase
// that produced it.
// dropped lists the unknown words (sorted, unique). grammar is "" when no
// phrase survives.
func buildJSGF(phrases []string, dict map[string]struct{}) (grammar string, phraseOf map[string]string, dropped []string) {
	grammar, phraseOf, dropped, _ = buildJSGFShape(phrases, "en", dict, shapeOne)
	return grammar, phraseOf, dropped
}

// grammarShape is the form of the grammar built from a node's phrases.
type grammarShape int

const (
	// shapeLeadIn accepts one phrase after an optional lead-in ("i want
	// to", "can i", ...): callers wrap a request in words the flow's
	// phrase does not list ("I want to talk to a person"). The adapter's
	// default: on telephone audio (TestASRMatrix) it recognises that
	// phrase 6/10 where shapeOne gets 0/10, and no other phrase does worse.
	shapeLeadIn grammarShape = iota
	// shapeOne accepts exactly one phrase.
	shapeOne
	// shapeSequence accepts one or more phrases in a row. Measured on
	// telephone audio (TestASRMatrix) it lets the decoder explain unknown
	// words with short phrases ("please stop calling me" → "human nope
	// no") and fails outright on a phrase followed by out-of-grammar words.
	shapeSequence
)

// leadIns are the optional words before a phrase in shapeLeadIn (English
// only: a Mandarin grammar has no lead-in).
var leadIns = []string{"i want to", "i'd like to", "i would like to", "i need to", "can i", "could i", "let me"}

// buildJSGFShape is buildJSGF for a language ("en", or "zh": phrases
// spelled as pinyin syllables, see pinyin.go) and a grammar shape;
// leadWords are the words the shape adds beyond the phrases (for the
// grammar's dictionary). A Mandarin phrase with a character that has no
// reading is left out whole (its characters are in dropped): without it
// the phrase would be a different one.
func buildJSGFShape(phrases []string, lang string, dict map[string]struct{}, shape grammarShape) (grammar string, phraseOf map[string]string, dropped, leadWords []string) {
	phraseOf = map[string]string{}
	var alts []string
	unknown := map[string]bool{}
	known := func(w string) bool {
		_, ok := dict[w]
		return ok && jsgfSafe(w)
	}
	for _, ph := range phrases {
		var kept []string
		if lang == "zh" {
			syls, missing := pinyinOf(ph)
			for _, s := range syls {
				if mandarinPhones(s) == nil && !known(s) {
					missing = append(missing, s)
				}
			}
			for _, m := range missing {
				unknown[m] = true
			}
			if len(missing) == 0 {
				kept = syls
			}
		} else {
			for _, w := range phraseWords(ph) {
				if known(w) {
					kept = append(kept, w)
				} else {
					unknown[w] = true
				}
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
		return "", phraseOf, dropped, nil
	}
	var leads []string
	if shape == shapeLeadIn && lang != "zh" {
	lead:
		for _, l := range leadIns {
			ws := strings.Fields(l)
			for _, w := range ws {
				if !known(w) {
					continue lead
				}
			}
			leads = append(leads, l)
			leadWords = append(leadWords, ws...)
		}
	}
	var b strings.Builder
	b.WriteString("#JSGF V1.0;\n\ngrammar callbox;\n\n")
	switch {
	case shape == shapeSequence:
		b.WriteString("public <answer> = <phrase>+ ;\n\n<phrase> = ")
	case len(leads) > 0:
		b.WriteString("public <answer> = [ <lead> ] <phrase> ;\n\n<lead> = ( " + strings.Join(leads, " ) | ( ") + " ) ;\n\n<phrase> = ")
	default:
		b.WriteString("public <answer> = ")
	}
	for i, a := range alts {
		if i > 0 {
			b.WriteString(" | ")
		}
		b.WriteString("( " + a + " )")
	}
	b.WriteString(" ;\n")
	return b.String(), phraseOf, dropped, leadWords
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
