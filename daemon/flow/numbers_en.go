package flow

import "strings"

var (
	enOnes = [20]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
		"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	enTens       = [10]string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
	enScales     = [...]string{"", "thousand", "million", "billion", "trillion", "quadrillion"}
	enOrdinalMap = map[string]string{"one": "first", "two": "second", "three": "third", "five": "fifth",
		"eight": "eighth", "nine": "ninth", "twelve": "twelfth"}
)

// enBelow1000 reads 1..999.
func enBelow1000(n int) string {
	var parts []string
	if n >= 100 {
		parts = append(parts, enOnes[n/100]+" hundred")
		n %= 100
	}
	switch {
	case n == 0:
	case n < 20:
		parts = append(parts, enOnes[n])
	case n%10 == 0:
		parts = append(parts, enTens[n/10])
	default:
		parts = append(parts, enTens[n/10]+"-"+enOnes[n%10])
	}
	return strings.Join(parts, " ")
}

// enInt reads a non-negative integer: 1234 → "one thousand two hundred
// thirty-four".
func enInt(n uint64) string {
	if n == 0 {
		return "zero"
	}
	var groups []int
	for v := n; v > 0; v /= 1000 {
		groups = append(groups, int(v%1000))
	}
	var parts []string
	for i := len(groups) - 1; i >= 0; i-- {
		if groups[i] == 0 {
			continue
		}
		p := enBelow1000(groups[i])
		if enScales[i] != "" {
			p += " " + enScales[i]
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

func enDigitString(s string) string {
	words := make([]string, len(s))
	for i := 0; i < len(s); i++ {
		words[i] = enOnes[s[i]-'0']
	}
	return strings.Join(words, " ")
}

// enOrdinal reads 1..99 as an ordinal: 21 → "twenty-first".
func enOrdinal(n int) string {
	w := enInt(uint64(n))
	head, last := "", w
	if i := strings.LastIndexAny(w, " -"); i >= 0 {
		head, last = w[:i+1], w[i+1:]
	}
	if o, ok := enOrdinalMap[last]; ok {
		return head + o
	}
	if strings.HasSuffix(last, "y") {
		return head + strings.TrimSuffix(last, "y") + "ieth"
	}
	return head + last + "th"
}

// enYear reads a year the way it is said: 2026 → "twenty twenty-six",
// 2005 → "two thousand five", 1905 → "nineteen oh five".
func enYear(y int) string {
	switch {
	case y >= 2000 && y < 2010:
		return enInt(uint64(y))
	case y < 1000 || y > 9999:
		return enInt(uint64(y))
	}
	hi, lo := y/100, y%100
	switch {
	case lo == 0:
		return enBelow1000(hi) + " hundred"
	case lo < 10:
		return enBelow1000(hi) + " oh " + enOnes[lo]
	default:
		return enBelow1000(hi) + " " + enBelow1000(lo)
	}
}

// enClock reads a 24-hour time the way it is said: 14:30 → "two thirty in
// the afternoon", 9:05 → "nine oh five in the morning", 12:00 → "twelve
// noon", 0:00 → "twelve midnight".
func enClock(h, m int) string {
	if m == 0 && h == 12 {
		return "twelve noon"
	}
	if m == 0 && h == 0 {
		return "twelve midnight"
	}
	var period string
	switch {
	case h < 5 || h >= 21:
		period = "at night"
	case h < 12:
		period = "in the morning"
	case h < 18:
		period = "in the afternoon"
	default:
		period = "in the evening"
	}
	h12 := h % 12
	if h12 == 0 {
		h12 = 12
	}
	out := enOnes[h12]
	switch {
	case m == 0:
		out += " o'clock"
	case m < 10:
		out += " oh " + enOnes[m]
	default:
		out += " " + enBelow1000(m)
	}
	return out + " " + period
}
