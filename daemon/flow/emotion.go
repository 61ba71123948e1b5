package flow

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// emotionTerm is a lexicon entry: normalized text and its weight
// (negative = displeasure).
type emotionTerm struct {
	text string
	w    float64
}

func lexicon(m map[string]float64) []emotionTerm {
	out := make([]emotionTerm, 0, len(m))
	for k, w := range m {
		out = append(out, emotionTerm{text: Normalize(k), w: w})
	}
	// Longest first so "烦不烦" is counted once, not as "烦" twice.
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].text) != len(out[j].text) {
			return len(out[i].text) > len(out[j].text)
		}
		return out[i].text < out[j].text
	})
	return out
}

var emotionLexicon = map[string][]emotionTerm{
	LangZH: lexicon(map[string]float64{
		// complaints, anger, profanity
		"投诉": -0.7, "举报": -0.7, "报警": -0.7, "律师": -0.4, "骗子": -0.8, "诈骗": -0.8, "骚扰": -0.6,
		"烦": -0.4, "烦死了": -0.8, "别烦我": -0.7, "讨厌": -0.5, "生气": -0.5, "气死": -0.7, "无语": -0.4,
		"垃圾": -0.6, "差劲": -0.5, "太差": -0.5, "滚": -0.9, "神经病": -0.8, "有病": -0.7, "妈的": -0.9,
		"他妈": -0.9, "操": -0.9, "混蛋": -0.9, "什么玩意": -0.7, "莫名其妙": -0.5, "不满意": -0.5, "失望": -0.5,
		// rhetorical questions
		"烦不烦": -0.7, "有完没完": -0.8, "有没有搞错": -0.7, "凭什么": -0.5, "到底": -0.2, "难道": -0.3,
		"怎么又": -0.4, "还打": -0.4, "说了多少遍": -0.7, "听不懂吗": -0.6,
		// positive
		"谢谢": 0.4, "感谢": 0.4, "满意": 0.4, "不错": 0.3, "太好了": 0.5, "辛苦": 0.3, "好的": 0.15, "挺好": 0.3,
	}),
	LangEN: lexicon(map[string]float64{
		"what the hell": -0.8, "the hell": -0.6, "hell": -0.3, "this is ridiculous": -0.8, "ridiculous": -0.6,
		"complain": -0.6, "complaint": -0.6, "annoying": -0.5, "annoyed": -0.5, "angry": -0.6, "fed up": -0.6,
		"sick of": -0.6, "scam": -0.8, "fraud": -0.6, "harass": -0.7, "lawyer": -0.5, "sue": -0.5,
		"useless": -0.5, "terrible": -0.6, "awful": -0.6, "hate": -0.7, "stupid": -0.6, "idiot": -0.8,
		"fuck": -1, "fucking": -1, "shit": -0.8, "bullshit": -0.9, "damn": -0.5, "crap": -0.5,
		"how many times": -0.6, "are you kidding": -0.6, "seriously": -0.3, "why do you keep": -0.6,
		"leave me alone": -0.7, "not happy": -0.5, "disappointed": -0.5,
		"thank": 0.4, "thanks": 0.4, "great": 0.4, "good": 0.2, "happy": 0.4, "appreciate": 0.4,
		"perfect": 0.4, "satisfied": 0.4, "helpful": 0.3, "wonderful": 0.5,
	}),
}

// EmotionScore rates one caller turn from its text in [-1, 1]: negative
// words, complaints, rhetorical questions and profanity pull it down,
// thanks and praise push it up, and exclamation marks, question marks on a
// negative turn and SHOUTED words amplify it. Unknown language → 0.
func EmotionScore(lang, text string) float64 {
	terms := emotionLexicon[lang]
	if terms == nil || text == "" {
		return 0
	}
	raw := norm.NFKC.String(text)
	t := Normalize(raw)
	latin := lang == LangEN
	if latin {
		t = " " + t + " "
	}
	sum := 0.0
	for _, term := range terms {
		for {
			i := indexTerm(t, term.text, latin)
			if i < 0 {
				break
			}
			w := term.w
			if negatedAt(t, i, latin) && w > 0 {
				w = -w * 0.6
			}
			sum += w
			// mask the occurrence so shorter terms inside it are not counted again
			t = t[:i] + strings.Repeat("\x00", len(term.text)) + t[i+len(term.text):]
		}
	}
	amp := 1.0
	bangs := strings.Count(raw, "!")
	amp += 0.25 * float64(min(bangs, 3))
	if sum < 0 && strings.ContainsAny(raw, "?") {
		amp += 0.15
	}
	if latin {
		for _, w := range strings.Fields(raw) {
			if utf8.RuneCountInString(w) >= 3 && w == strings.ToUpper(w) && strings.IndexFunc(w, unicode.IsLetter) >= 0 {
				amp += 0.2
			}
		}
	}
	return max(-1, min(1, sum*amp))
}

func indexTerm(t, term string, latin bool) int {
	if !latin {
		return strings.Index(t, term)
	}
	// English terms match at a word start: "complain" matches "complaining".
	from := 0
	for {
		i := strings.Index(t[from:], term)
		if i < 0 {
			return -1
		}
		i += from
		if i > 0 && t[i-1] == ' ' {
			return i
		}
		from = i + 1
	}
}

func negatedAt(t string, i int, latin bool) bool {
	if !latin {
		for _, n := range zhNegators {
			if strings.HasSuffix(t[:i], n) {
				return true
			}
		}
		return false
	}
	head := strings.TrimRight(t[:i], " ")
	prev := head[strings.LastIndexByte(head, ' ')+1:]
	return enNegators[prev]
}
