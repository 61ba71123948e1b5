package flow

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Intent is a classification result. Name is "" when nothing matched.
type Intent struct {
	Name       string            `json:"intent"`
	Confidence float64           `json:"confidence"`
	Value      string            `json:"value,omitempty"`
	Slots      map[string]string `json:"slots,omitempty"`
}

// Base confidences by kind of match, before the intent's own weight.
const (
	confExact      = 1.0
	confPhraseBase = 0.6
	confPhraseSpan = 0.4
	confKeyBase    = 0.55
	confKeySpan    = 0.4
	confRegexBase  = 0.8
	confRegexSpan  = 0.2
)

type matchPattern struct {
	text  string
	runes int
}

type compiledIntent struct {
	name     string
	phrases  []matchPattern
	keywords []matchPattern
	regexes  []*regexp.Regexp
	dtmf     map[string]bool
	value    string
	weight   float64
	priority int
}

// Matcher classifies caller text into intents for one language. It is
// immutable after NewMatcher and safe for concurrent use.
type Matcher struct {
	lang    string
	intents []*compiledIntent
	byName  map[string]*compiledIntent
}

// NewMatcher compiles the built-in intents plus defs for lang. A def named
// like a built-in extends it.
func NewMatcher(lang string, defs []IntentDef) (*Matcher, error) {
	if err := checkLang(lang); err != nil {
		return nil, err
	}
	m := &Matcher{lang: lang, byName: map[string]*compiledIntent{}}
	all := append(builtinIntents(), defs...)
	for _, d := range all {
		ci := m.byName[d.Name]
		if ci == nil {
			ci = &compiledIntent{name: d.Name, dtmf: map[string]bool{}, weight: 1, priority: builtinPriority[d.Name]}
			m.byName[d.Name] = ci
			m.intents = append(m.intents, ci)
		}
		if d.Confidence > 0 {
			ci.weight = d.Confidence
		}
		if d.Value != "" {
			ci.value = d.Value
		}
		for _, k := range d.DTMF {
			ci.dtmf[k] = true
		}
		ci.phrases = append(ci.phrases, expand(forLang(d.Phrases, lang), d.Synonyms)...)
		ci.keywords = append(ci.keywords, expand(forLang(d.Keywords, lang), d.Synonyms)...)
		for _, p := range forLang(d.Patterns, lang) {
			re, err := regexp.Compile("(?i)" + p)
			if err != nil {
				return nil, fmt.Errorf("intent %q: bad pattern %q: %v", d.Name, p, err)
			}
			ci.regexes = append(ci.regexes, re)
		}
	}
	return m, nil
}

func forLang(m map[string][]string, lang string) []string {
	return append(append([]string(nil), m[""]...), m[lang]...)
}

// expand normalizes words and adds a variant per synonym.
func expand(words []string, syn map[string][]string) []matchPattern {
	seen := map[string]bool{}
	var out []matchPattern
	add := func(w string) {
		w = Normalize(w)
		if w == "" || seen[w] {
			return
		}
		seen[w] = true
		out = append(out, matchPattern{text: w, runes: utf8.RuneCountInString(w)})
	}
	canon := make([]string, 0, len(syn))
	for c := range syn {
		canon = append(canon, c)
	}
	sort.Strings(canon)
	for _, w := range words {
		add(w)
		nw := Normalize(w)
		for _, c := range canon {
			nc := Normalize(c)
			if nc == "" || !strings.Contains(nw, nc) {
				continue
			}
			for _, alt := range syn[c] {
				add(strings.ReplaceAll(nw, nc, Normalize(alt)))
			}
		}
	}
	return out
}

// Has reports whether the matcher knows the intent (built-in or declared).
func (m *Matcher) Has(name string) bool { return m.byName[name] != nil }

// Names lists every intent name the matcher knows, sorted.
func (m *Matcher) Names() []string {
	out := make([]string, 0, len(m.byName))
	for n := range m.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// candidate reports whether intent ci takes part when expected is the
// ask's list: opt_out and human always, others when expected (or when
// expected is empty).
func candidate(ci *compiledIntent, expected []string) bool {
	if ci.name == IntentOptOut || ci.name == IntentHuman || len(expected) == 0 {
		return true
	}
	for _, e := range expected {
		if e == ci.name {
			return true
		}
	}
	return false
}

// Classify returns the best intent for text among the built-ins and
// expected (all intents when expected is empty). Opt-out wins whenever it
// matches at all.
func (m *Matcher) Classify(text string, expected []string) Intent {
	t := Normalize(text)
	if t == "" {
		return Intent{}
	}
	total := utf8.RuneCountInString(strings.ReplaceAll(t, " ", ""))
	var best Intent
	bestSpan, bestPrio := 0, -1
	for _, ci := range m.intents {
		if !candidate(ci, expected) {
			continue
		}
		score, span, slots := ci.match(t, total)
		if score == 0 {
			continue
		}
		score *= ci.weight
		if ci.name == IntentOptOut {
			return Intent{Name: ci.name, Confidence: score, Value: ci.valueOr(), Slots: slots}
		}
		// Longest match wins (so "账单不对" beats the "不" inside it), then
		// the higher score, then built-in priority.
		better := best.Name == "" || span > bestSpan ||
			(span == bestSpan && (score > best.Confidence || (score == best.Confidence && ci.priority > bestPrio)))
		if better {
			best = Intent{Name: ci.name, Confidence: score, Value: ci.valueOr(), Slots: slots}
			bestSpan, bestPrio = span, ci.priority
		}
	}
	return best
}

func (ci *compiledIntent) valueOr() string {
	if ci.value != "" {
		return ci.value
	}
	return ci.name
}

func (ci *compiledIntent) match(t string, total int) (score float64, span int, slots map[string]string) {
	if total == 0 {
		total = 1
	}
	consider := func(s float64, n int) {
		if s > score || (s == score && n > span) {
			score, span = s, n
		}
	}
	for _, p := range ci.phrases {
		if p.text == t {
			consider(confExact, p.runes)
			continue
		}
		occurrences(t, p.text, func(neg bool) bool {
			if neg {
				return false
			}
			consider(confPhraseBase+confPhraseSpan*min(1, float64(p.runes)/float64(total)), p.runes)
			return true
		})
	}
	for _, p := range ci.keywords {
		occurrences(t, p.text, func(neg bool) bool {
			if neg {
				return false
			}
			consider(confKeyBase+confKeySpan*min(1, float64(p.runes)/float64(total)), p.runes)
			return true
		})
	}
	for _, re := range ci.regexes {
		loc := re.FindStringSubmatchIndex(t)
		if loc == nil {
			continue
		}
		n := utf8.RuneCountInString(t[loc[0]:loc[1]])
		s := confRegexBase + confRegexSpan*min(1, float64(n)/float64(total))
		if s > score || (s == score && n > span) {
			score, span = s, n
			slots = nil
			for i, name := range re.SubexpNames() {
				if name != "" && loc[2*i] >= 0 {
					if slots == nil {
						slots = map[string]string{}
					}
					slots[name] = t[loc[2*i]:loc[2*i+1]]
				}
			}
		}
	}
	return score, span, slots
}

// ClassifyDigits maps DTMF digits to an intent declaring them (among
// expected, or all when expected is empty).
func (m *Matcher) ClassifyDigits(digits string, expected []string) Intent {
	if digits == "" {
		return Intent{}
	}
	for _, ci := range m.intents {
		if ci.dtmf[digits] && candidate(ci, expected) {
			return Intent{Name: ci.name, Confidence: 1, Value: ci.valueOr()}
		}
	}
	return Intent{}
}
