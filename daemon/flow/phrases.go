package flow

// Phrases lists what a caller may say for the expected intents (all
// intents when expected is empty), opt-out and human always included:
// every phrase and keyword in the matcher's language, normalized, without
// duplicates, in intent order, then the built-in complaints. ASR engines
// use it as a grammar or hints.
func (m *Matcher) Phrases(expected []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(text string) {
		if !seen[text] {
			seen[text] = true
			out = append(out, text)
		}
	}
	for _, ci := range m.intents {
		if !candidate(ci, expected) {
			continue
		}
		for _, list := range [][]matchPattern{ci.phrases, ci.keywords} {
			for _, p := range list {
				add(p.text)
			}
		}
	}
	for _, c := range complaintPhrases[m.lang] {
		add(Normalize(c))
	}
	return out
}

// complaintPhrases are angry answers every grammar includes, whatever the
// node expects: a grammar-constrained recognizer (pocketsphinx) can only
// return phrases of its grammar, and without these an angry caller is
// heard as the nearest expected answer ("why do you keep calling me" →
// "no") and the emotion score, which escalates on such words, never sees
// them. They belong to no intent: the turn is a no-match with a low
// emotion score.
var complaintPhrases = map[string][]string{
	// Few on purpose: every phrase added to a grammar can capture other
	// answers. Measured with TestASRMatrix (docs/PERFORMANCE.md): these
	// two cost nothing, while "leave me alone", "how many times", "are you
	// kidding me", "i want to complain" and "this is a scam" took "Please
	// stop calling me." from 10/10 to 6/10.
	LangEN: {"why do you keep calling me", "this is ridiculous"},
	LangZH: {"烦死了", "有完没完", "别烦我", "我要投诉", "骚扰电话", "烦不烦", "说了多少遍"},
}
