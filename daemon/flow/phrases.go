package flow

// Phrases lists what a caller may say for the expected intents (all
// intents when expected is empty), opt-out and human always included:
// every phrase and keyword in the matcher's language, normalized, without
// duplicates, in intent order. ASR engines use it as a grammar or hints.
func (m *Matcher) Phrases(expected []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, ci := range m.intents {
		if !candidate(ci, expected) {
			continue
		}
		for _, list := range [][]matchPattern{ci.phrases, ci.keywords} {
			for _, p := range list {
				if !seen[p.text] {
					seen[p.text] = true
					out = append(out, p.text)
				}
			}
		}
	}
	return out
}
