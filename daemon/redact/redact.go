// Package redact owns hiding personal data in what the API shows: phone
// numbers masked for the viewer role, and payment card numbers
// (Luhn-valid runs of 13-19 digits) and Chinese resident identity numbers
// (18 characters with a valid ISO 7064 MOD 11-2 check character and a
// plausible birth date) removed from transcripts and free text.
//
// Digits are recognised as ASCII, full-width (０-９) and spoken Chinese
// numerals (零〇一二三四五六七八九, and 幺 for 1), since an ASR transcript
// of a caller reading out a card number may hold any of them. Runs may be
// broken by spaces, hyphens and dots, as cards are read out in groups.
package redact

import (
	"strings"
	"unicode/utf8"
)

// Replacement texts.
const (
	CardMask = "[card number removed]"
	IDMask   = "[ID number removed]"
)

// Phone hides all but the last four characters of a phone number:
// "+8613812345678" becomes "**********5678".
func Phone(n string) string {
	r := []rune(n)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	return strings.Repeat("*", len(r)-4) + string(r[len(r)-4:])
}

// digitValue returns the digit a rune stands for, or -1.
func digitValue(r rune) int {
	switch {
	case r >= '0' && r <= '9':
		return int(r - '0')
	case r >= '０' && r <= '９':
		return int(r - '０')
	}
	switch r {
	case '零', '〇':
		return 0
	case '一', '幺':
		return 1
	case '二':
		return 2
	case '三':
		return 3
	case '四':
		return 4
	case '五':
		return 5
	case '六':
		return 6
	case '七':
		return 7
	case '八':
		return 8
	case '九':
		return 9
	}
	return -1
}

func isX(r rune) bool { return r == 'X' || r == 'x' || r == 'Ｘ' || r == 'ｘ' }

func isSep(r rune) bool { return r == ' ' || r == '-' || r == '.' || r == '\u00a0' || r == '\u3000' }

// run is a maximal stretch of digits (with single separators between
// them) in the text.
type run struct {
	start, end int   // byte offsets in the text
	digits     []int // values; 10 stands for a trailing X
}

// Text removes card and ID numbers from s. Text that holds neither is
// returned unchanged. Only whole digit runs are judged: a card number
// inside a longer run of digits is some other number. A run right after
// "+" is a phone number, never a card.
func Text(s string) string {
	var b strings.Builder
	last := 0
	for _, rn := range runs(s) {
		mask, ok := judge(s, rn)
		if !ok {
			continue
		}
		b.WriteString(s[last:rn.start])
		b.WriteString(mask)
		last = rn.end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// judge says whether a run is an ID or card number.
func judge(s string, rn run) (string, bool) {
	d := rn.digits
	n := len(d)
	switch {
	case n == 18 && validID(d):
		return IDMask, true
	case n >= 13 && n <= 19 && d[n-1] != 10 && !strings.HasSuffix(s[:rn.start], "+") && luhn(d):
		return CardMask, true
	}
	return "", false
}

// runs splits s into digit runs.
func runs(s string) []run {
	var out []run
	var cur *run
	pendingSep := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		v := digitValue(r)
		if v < 0 && isX(r) && cur != nil && !pendingSep && len(cur.digits) == 17 {
			v = 10
		}
		switch {
		case v >= 0:
			if cur == nil {
				out = append(out, run{start: i})
				cur = &out[len(out)-1]
			}
			cur.digits = append(cur.digits, v)
			cur.end = i + size
			pendingSep = false
			if v == 10 { // X only ends an ID number
				cur = nil
			}
		case isSep(r) && cur != nil && !pendingSep:
			pendingSep = true
		default:
			cur, pendingSep = nil, false
		}
		i += size
	}
	return out
}

// luhn reports whether the digits pass the Luhn check.
func luhn(d []int) bool {
	sum := 0
	for i := range d {
		v := d[len(d)-1-i]
		if v > 9 {
			return false
		}
		if i%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// validID checks an 18-character resident identity number: 17 digits, a
// check character (10 for X) and a plausible birth date (YYYYMMDD at
// positions 7-14, year 1900-2099).
func validID(d []int) bool {
	if len(d) != 18 {
		return false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		if d[i] > 9 {
			return false
		}
		sum += d[i] * idWeights[i]
	}
	check := (12 - sum%11) % 11
	if d[17] != check {
		return false
	}
	year := d[6]*1000 + d[7]*100 + d[8]*10 + d[9]
	month := d[10]*10 + d[11]
	day := d[12]*10 + d[13]
	return year >= 1900 && year <= 2099 && month >= 1 && month <= 12 && day >= 1 && day <= 31
}
