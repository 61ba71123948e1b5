package flow

import "strings"

var zhDigitNames = [10]string{"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"}

// zhSection reads 1..9999 with inner zeros collapsed to one 零.
func zhSection(n int) string {
	var b strings.Builder
	units := [4]string{"千", "百", "十", ""}
	pows := [4]int{1000, 100, 10, 1}
	started, zero := false, false
	for i, p := range pows {
		d := n / p % 10
		if d == 0 {
			if started {
				zero = true
			}
			continue
		}
		if zero {
			b.WriteString("零")
			zero = false
		}
		b.WriteString(zhDigitNames[d])
		b.WriteString(units[i])
		started = true
	}
	return b.String()
}

// zhInt reads a non-negative integer in Mandarin: 10086 → 一万零八十六,
// 15 → 十五. With liang, a leading 2 before 百/千/万/亿 is read 两 (两千).
func zhInt(n uint64, liang bool) string {
	if n == 0 {
		return "零"
	}
	var groups []int
	for v := n; v > 0; v /= 10000 {
		groups = append(groups, int(v%10000))
	}
	units := [...]string{"", "万", "亿", "万亿"}
	var b strings.Builder
	needZero := false
	for i := len(groups) - 1; i >= 0; i-- {
		g := groups[i]
		if g == 0 {
			if b.Len() > 0 {
				needZero = true
			}
			continue
		}
		if b.Len() > 0 && (needZero || g < 1000) {
			b.WriteString("零")
		}
		needZero = false
		b.WriteString(zhSection(g))
		b.WriteString(units[i])
	}
	out := b.String()
	if strings.HasPrefix(out, "一十") {
		out = strings.TrimPrefix(out, "一")
	}
	if liang && strings.HasPrefix(out, "二") {
		rest := strings.TrimPrefix(out, "二")
		for _, u := range []string{"百", "千", "万", "亿"} {
			if strings.HasPrefix(rest, u) {
				return "两" + rest
			}
		}
	}
	return out
}

func zhDigitString(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteString(zhDigitNames[s[i]-'0'])
	}
	return b.String()
}

// zhMoney reads yuan, jiao and fen: 1234.50 → 一千二百三十四元五角,
// 3.05 → 三元零五分, 2 → 两元.
func zhMoney(yuan uint64, jiao, fen int) string {
	if yuan == 0 && jiao == 0 && fen == 0 {
		return "零元"
	}
	var b strings.Builder
	if yuan > 0 {
		if yuan == 2 {
			b.WriteString("两")
		} else {
			b.WriteString(zhInt(yuan, true))
		}
		b.WriteString("元")
	}
	small := func(d int) string {
		if d == 2 {
			return "两"
		}
		return zhDigitNames[d]
	}
	if jiao > 0 {
		b.WriteString(small(jiao) + "角")
	}
	if fen > 0 {
		if jiao == 0 && yuan > 0 {
			b.WriteString("零")
		}
		b.WriteString(small(fen) + "分")
	}
	return b.String()
}

// zhClock reads a 24-hour time with the customary period of day:
// 14:30 → 下午两点三十分, 9:05 → 上午九点零五分, 8:00 → 早上八点整.
func zhClock(h, m, sec int) string {
	var period string
	switch {
	case h < 5:
		period = "凌晨"
	case h < 9:
		period = "早上"
	case h < 12:
		period = "上午"
	case h < 13:
		period = "中午"
	case h < 18:
		period = "下午"
	default:
		period = "晚上"
	}
	h12 := h
	if h > 12 {
		h12 = h - 12
	}
	var hs string
	if h12 == 2 {
		hs = "两"
	} else {
		hs = zhInt(uint64(h12), false)
	}
	out := period + hs + "点"
	switch {
	case m == 0 && sec == 0:
		out += "整"
	case m == 0:
	case m < 10:
		out += "零" + zhDigitNames[m] + "分"
	default:
		out += zhInt(uint64(m), false) + "分"
	}
	if sec > 0 {
		out += zhInt(uint64(sec), false) + "秒"
	}
	return out
}
