package flow

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxIntDigits bounds the integer part of spoken numbers (below 10^16).
const maxIntDigits = 16

// decimal is a parsed non-float decimal: sign, integer digits, fraction digits.
type decimal struct {
	neg  bool
	ip   uint64
	frac string // digits after the point, as written
}

// parseDecimal reads "1234", "-3.50", "1,234.5". Thousands separators are
// commas; spaces are ignored. It never goes through float64.
func parseDecimal(s string) (decimal, error) {
	var d decimal
	t := strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if strings.HasPrefix(t, "-") || strings.HasPrefix(t, "−") {
		d.neg = true
		t = strings.TrimPrefix(strings.TrimPrefix(t, "-"), "−")
	} else {
		t = strings.TrimPrefix(t, "+")
	}
	ip, frac, hasPoint := strings.Cut(t, ".")
	ip = strings.ReplaceAll(ip, ",", "")
	if ip == "" && frac == "" {
		return d, fmt.Errorf("%w: %q is not a number", ErrBadValue, s)
	}
	if hasPoint && frac == "" {
		return d, fmt.Errorf("%w: %q ends with a decimal point", ErrBadValue, s)
	}
	if ip == "" {
		ip = "0"
	}
	if !allDigits(ip) || !allDigits(frac) {
		return d, fmt.Errorf("%w: %q is not a number", ErrBadValue, s)
	}
	ip = strings.TrimLeft(ip, "0")
	if len(ip) > maxIntDigits {
		return d, fmt.Errorf("%w: %q is too large to speak (max %d digits)", ErrBadValue, s, maxIntDigits)
	}
	if ip != "" {
		n, err := strconv.ParseUint(ip, 10, 64)
		if err != nil {
			return d, fmt.Errorf("%w: %q: %v", ErrBadValue, s, err)
		}
		d.ip = n
	}
	d.frac = frac
	if d.ip == 0 && strings.Trim(frac, "0") == "" {
		d.neg = false // no "minus zero"
	}
	return d, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func checkLang(lang string) error {
	if lang != LangZH && lang != LangEN {
		return fmt.Errorf("%w: unsupported language %q (want zh or en)", ErrBadValue, lang)
	}
	return nil
}

// SayNumber speaks a decimal number such as "10086", "-3.5" or "1,234".
func SayNumber(lang, s string) (string, error) {
	if err := checkLang(lang); err != nil {
		return "", err
	}
	d, err := parseDecimal(s)
	if err != nil {
		return "", err
	}
	if lang == LangZH {
		out := zhInt(d.ip, true)
		if d.frac != "" {
			out = zhInt(d.ip, false) + "点" + zhDigitString(d.frac)
		}
		if d.neg {
			out = "负" + out
		}
		return out, nil
	}
	out := enInt(d.ip)
	if d.frac != "" {
		out += " point " + enDigitString(d.frac)
	}
	if d.neg {
		out = "minus " + out
	}
	return out, nil
}

// SayDigits speaks a string of digits one by one (account and phone
// numbers). Spaces, dashes and a leading + are ignored.
func SayDigits(lang, s string) (string, error) {
	if err := checkLang(lang); err != nil {
		return "", err
	}
	t := strings.NewReplacer(" ", "", "-", "", "+", "").Replace(strings.TrimSpace(s))
	if t == "" || !allDigits(t) {
		return "", fmt.Errorf("%w: %q is not a digit string", ErrBadValue, s)
	}
	if lang == LangZH {
		return zhDigitString(t), nil
	}
	return enDigitString(t), nil
}

var moneyMarks = strings.NewReplacer("¥", "", "￥", "", "$", "", "元", "", "RMB", "", "CNY", "", "USD", "", "rmb", "", "cny", "", "usd", "")

// SayMoney speaks an amount: "¥1234.50" → 一千二百三十四元五角,
// "$1,234.50" → "one thousand two hundred thirty-four dollars and fifty
// cents". More than two decimal places is an error (never rounded away).
func SayMoney(lang, s string) (string, error) {
	if err := checkLang(lang); err != nil {
		return "", err
	}
	d, err := parseDecimal(moneyMarks.Replace(s))
	if err != nil {
		return "", fmt.Errorf("%w: %q is not an amount of money", ErrBadValue, s)
	}
	if len(d.frac) > 2 {
		return "", fmt.Errorf("%w: amount %q has more than two decimal places", ErrBadValue, s)
	}
	frac := (d.frac + "00")[:2]
	jiao, fen := int(frac[0]-'0'), int(frac[1]-'0')
	var out string
	if lang == LangZH {
		out = zhMoney(d.ip, jiao, fen)
		if d.neg {
			out = "负" + out
		}
		return out, nil
	}
	cents := jiao*10 + fen
	switch {
	case d.ip == 0 && cents == 0:
		out = "zero dollars"
	case d.ip == 0:
		out = enInt(uint64(cents)) + plural(" cent", cents)
	default:
		out = enInt(d.ip) + plural(" dollar", int(min(d.ip, 2)))
		if cents > 0 {
			out += " and " + enInt(uint64(cents)) + plural(" cent", cents)
		}
	}
	if d.neg {
		out = "minus " + out
	}
	return out, nil
}

func plural(word string, n int) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// parseDate accepts 2026-11-21, 2026/11/21, 2026.11.21, 20261121 and
// 2026年11月21日, and rejects impossible dates.
func parseDate(s string) (time.Time, error) {
	t := strings.TrimSpace(s)
	t = strings.NewReplacer("年", "-", "月", "-", "日", "", "号", "", "/", "-", ".", "-").Replace(t)
	if len(t) == 8 && allDigits(t) {
		t = t[:4] + "-" + t[4:6] + "-" + t[6:]
	}
	parts := strings.Split(t, "-")
	if len(parts) != 3 || len(parts[0]) != 4 {
		return time.Time{}, fmt.Errorf("%w: %q is not a date (want YYYY-MM-DD)", ErrBadValue, s)
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 4 || !allDigits(p) {
			return time.Time{}, fmt.Errorf("%w: %q is not a date (want YYYY-MM-DD)", ErrBadValue, s)
		}
		n[i], _ = strconv.Atoi(p)
	}
	d := time.Date(n[0], time.Month(n[1]), n[2], 0, 0, 0, 0, time.UTC)
	if d.Year() != n[0] || int(d.Month()) != n[1] || d.Day() != n[2] {
		return time.Time{}, fmt.Errorf("%w: %q is not a valid calendar date", ErrBadValue, s)
	}
	return d, nil
}

// SayDate speaks a date: 2026-11-21 → 二零二六年十一月二十一日 /
// "November twenty-first, twenty twenty-six".
func SayDate(lang, s string) (string, error) {
	if err := checkLang(lang); err != nil {
		return "", err
	}
	d, err := parseDate(s)
	if err != nil {
		return "", err
	}
	if lang == LangZH {
		return zhDigitString(fmt.Sprintf("%04d", d.Year())) + "年" +
			zhInt(uint64(d.Month()), false) + "月" + zhInt(uint64(d.Day()), false) + "日", nil
	}
	return d.Month().String() + " " + enOrdinal(d.Day()) + ", " + enYear(d.Year()), nil
}

// parseClock accepts HH:MM and HH:MM:SS (24-hour).
func parseClock(s string) (h, m, sec int, err error) {
	t := strings.NewReplacer("：", ":", "点", ":", "分", "").Replace(strings.TrimSpace(s))
	parts := strings.Split(t, ":")
	bad := fmt.Errorf("%w: %q is not a time of day (want HH:MM)", ErrBadValue, s)
	if len(parts) < 2 || len(parts) > 3 {
		return 0, 0, 0, bad
	}
	var n [3]int
	for i, p := range parts {
		if p == "" || len(p) > 2 || !allDigits(p) {
			return 0, 0, 0, bad
		}
		n[i], _ = strconv.Atoi(p)
	}
	if n[0] > 23 || n[1] > 59 || n[2] > 59 {
		return 0, 0, 0, fmt.Errorf("%w: %q is out of range for a time of day", ErrBadValue, s)
	}
	return n[0], n[1], n[2], nil
}

// SayTime speaks a 24-hour time: 14:30 → 下午两点三十分 / "two thirty p.m.".
func SayTime(lang, s string) (string, error) {
	if err := checkLang(lang); err != nil {
		return "", err
	}
	h, m, sec, err := parseClock(s)
	if err != nil {
		return "", err
	}
	if lang == LangZH {
		return zhClock(h, m, sec), nil
	}
	return enClock(h, m), nil
}
