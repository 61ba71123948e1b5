package flow

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Normalize prepares text for matching: NFKC (full-width → half-width),
// lower case, punctuation and symbols → space, runs of space collapsed, and
// spaces between Han characters removed (ASR output often splits words).
func Normalize(s string) string {
	s = norm.NFKC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	var prev rune
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case r == '\'' || r == '’' || r == '‘':
			// keep apostrophes inside words: "don't"
			if i > 0 && i+1 < len(rs) && unicode.IsLetter(rs[i-1]) && unicode.IsLetter(rs[i+1]) {
				r = '\''
			} else {
				space = true
				continue
			}
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			r = unicode.ToLower(r)
		default:
			space = true
			continue
		}
		if space && b.Len() > 0 && !(isHan(prev) && isHan(r)) {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

// hasLatin reports whether s contains an ASCII letter or digit; such
// patterns are matched on word boundaries, others as substrings.
func hasLatin(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') {
			return true
		}
	}
	return false
}

var (
	zhNegators = []string{"不", "没", "别", "不太", "不是很", "不怎么", "没那么"}
	enNegators = map[string]bool{"not": true, "don't": true, "dont": true, "never": true}
)

// occurrences calls fn for each place pat occurs in text (both
// normalized), respecting word boundaries for Latin patterns; negated
// reports whether a negator directly precedes that occurrence.
func occurrences(text, pat string, fn func(negated bool) bool) {
	if pat == "" {
		return
	}
	latin := hasLatin(pat)
	from := 0
	for from <= len(text) {
		i := strings.Index(text[from:], pat)
		if i < 0 {
			return
		}
		i += from
		end := i + len(pat)
		from = i + 1
		if latin {
			if (i > 0 && text[i-1] != ' ') || (end < len(text) && text[end] != ' ') {
				continue
			}
			prevWord := ""
			if i > 1 {
				head := text[:i-1]
				prevWord = head[strings.LastIndexByte(head, ' ')+1:]
			}
			if fn(enNegators[prevWord] && !enNegators[strings.SplitN(pat, " ", 2)[0]]) {
				return
			}
			continue
		}
		neg := false
		for _, n := range zhNegators {
			if strings.HasSuffix(text[:i], n) && !strings.HasPrefix(pat, n) {
				neg = true
			}
		}
		if fn(neg) {
			return
		}
	}
}
