package speech

// This file lets the bundled en-us pocketsphinx model recognise a small
// closed set of Mandarin answers offline: each phrase is spelled in pinyin
// (a character table below, words with a special reading first), and each
// syllable gets English phone sequences that approximate it (several per
// syllable, since the English model hears Mandarin's unaspirated b/d/g and
// its vowels either way). With a grammar of the node's expected phrases the
// decoder then only has to tell those phrases apart, which the en-us
// acoustic model does well enough for yes / no / opt-out / human answers
// (measured in TestASRMatrix). It is no substitute for a Mandarin model
// (FunASR, Vosk): free speech outside the phrases is not recognised.

import (
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// mandarinWords are words whose characters read differently from the
// table's default (多音字), matched longest first.
var mandarinWords = map[string]string{
	"还款": "huan kuan", "还钱": "huan qian", "归还": "gui huan", "调整": "tiao zheng", "调高": "tiao gao",
	"行长": "hang zhang", "银行": "yin hang", "我行": "wo hang", "本行": "ben hang", "重新": "chong xin",
	"长期": "chang qi", "了解": "liao jie", "得到": "de dao", "觉得": "jue de", "便宜": "pian yi",
	"还行": "hai xing", "还是": "hai shi", "还有": "hai you", "还没": "hai mei", "没还": "mei huan",
	"不对": "bu dui", "不是": "bu shi", "不要": "bu yao", "不用": "bu yong", "不会": "bu hui",
}

// mandarinChars maps a character to its usual toneless pinyin ("v" for ü).
var mandarinChars = func() map[rune]string {
	m := map[rune]string{}
	for _, row := range []string{
		"a:啊阿", "ai:爱哎唉", "an:安按", "ba:把八吧爸", "bai:拜百白", "ban:般办半班", "bang:帮", "bao:保报包",
		"bei:被北备", "ben:本", "bi:比必", "bian:便变边遍", "biao:表", "bie:别", "bu:不步部", "cai:才菜",
		"chang:常长场", "che:车", "chi:迟吃", "chu:出处", "cong:从", "cuo:错", "da:打大答", "dai:贷代带",
		"dan:单担但", "dang:当", "dao:到道盗", "de:的得地", "deng:等", "di:低底第", "dian:点电店",
		"diao:掉调", "ding:定", "dong:懂动", "dou:都", "dui:对", "duo:多", "e:额饿", "en:嗯", "er:二儿而",
		"fa:发法", "fan:反饭烦", "fang:方", "fei:费非飞", "fen:分份", "fou:否", "fu:服负覆付",
		"gai:改盖该", "gan:感干", "gao:高告", "ge:个哥", "gei:给", "gen:跟", "gong:工公", "gou:够",
		"guan:关管", "gui:贵", "guo:过国", "hai:还", "hao:好号", "he:和合", "hei:黑", "hen:很",
		"hou:后候", "hu:虎户", "hua:话", "huan:换", "hui:会回", "ji:几机记", "jia:家加价", "jian:间见",
		"jiao:交缴较叫", "jie:介解接借", "jin:今金近", "jing:经", "jiu:就九", "jue:觉", "ka:卡",
		"kai:开", "kan:看", "kao:考", "ke:可客", "kong:空", "kuai:快块", "kuan:宽款", "la:拉啦",
		"lai:来", "le:了", "li:力礼里利理", "lian:联", "liang:两量", "liao:聊", "lin:临", "ling:零",
		"liu:六", "lv:虑", "ma:码马吗妈", "mai:买卖", "man:满慢", "mang:忙", "mei:没每", "men:们",
		"ming:明名", "na:那拿哪", "ne:呢", "neng:能", "ni:你", "nian:年", "nin:您", "o:哦", "pian:骗",
		"qi:其期起七气", "qian:钱千", "qing:请清情", "qu:去取趣", "que:确", "ran:然", "ren:人认",
		"ri:日", "san:三", "shan:删", "shang:上商", "shao:少绍", "shei:谁", "shen:什", "sheng:生",
		"shi:是时十事试", "shou:收手", "shu:数", "su:诉", "sao:骚", "rao:扰", "shua:刷", "shuo:说", "si:四思死", "suan:算",
		"ta:他她它", "tai:太", "te:特", "ti:题提", "tian:天", "ting:挺听", "tong:同通", "tou:头投",
		"tui:推退", "wan:晚万完", "wei:为位喂", "wen:问", "wo:我", "wu:五务无", "xi:细息系",
		"xia:下", "xian:现限先", "xiang:想详", "xiao:消小", "xie:谢", "xin:信心新", "xing:行星兴",
		"xu:需", "ya:压呀", "yan:延", "yang:样", "yao:要", "ye:也", "yi:一以已意", "yin:因银",
		"ying:应", "yong:用", "you:有又", "yu:于", "yuan:原元", "yue:月", "zai:再在", "zen:怎",
		"zhang:账障张", "zhao:找", "zhe:这", "zhen:真", "zheng:整", "zhi:知", "zhou:周", "zhu:主",
		"zhuan:转", "zhun:准", "zi:资自", "zui:最", "zuo:做",
	} {
		syl, chars, _ := strings.Cut(row, ":")
		for _, c := range chars {
			m[c] = syl
		}
	}
	for d, syl := range []string{"ling", "yi", "er", "san", "si", "wu", "liu", "qi", "ba", "jiu"} {
		m[rune('0'+d)] = syl
	}
	return m
}()

// pinyinOf spells a Mandarin phrase as toneless pinyin syllables. Latin
// words pass through lower-cased; punctuation and spaces separate. unknown
// lists the characters with no reading (the phrase cannot be used).
func pinyinOf(phrase string) (syllables, unknown []string) {
	rs := []rune(phrase)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.Is(unicode.Han, r):
			if i+1 < len(rs) {
				if w, ok := mandarinWords[string(rs[i:i+2])]; ok {
					syllables = append(syllables, strings.Fields(w)...)
					i += 2
					continue
				}
			}
			if s, ok := mandarinChars[r]; ok {
				syllables = append(syllables, s)
			} else {
				unknown = append(unknown, string(r))
			}
			i++
		case r >= '0' && r <= '9':
			syllables = append(syllables, mandarinChars[r])
			i++
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || r == '\''):
			j := i
			for j < len(rs) && rs[j] < unicode.MaxASCII && (unicode.IsLetter(rs[j]) || rs[j] == '\'') {
				j++
			}
			syllables = append(syllables, strings.ToLower(string(rs[i:j])))
			i = j
		default:
			i++
		}
	}
	return syllables, unknown
}

// mandarinInitials are pinyin initials, two-letter ones first, with the
// English phones heard for them.
var mandarinInitials = []struct {
	pinyin string
	phones []string
}{
	{"zh", []string{"JH", "CH"}}, {"ch", []string{"CH"}}, {"sh", []string{"SH"}},
	{"b", []string{"B", "P"}}, {"p", []string{"P"}}, {"m", []string{"M"}}, {"f", []string{"F"}},
	{"d", []string{"D", "T"}}, {"t", []string{"T"}}, {"n", []string{"N"}}, {"l", []string{"L"}},
	{"g", []string{"G", "K"}}, {"k", []string{"K"}}, {"h", []string{"HH", "K"}},
	{"j", []string{"JH", "CH"}}, {"q", []string{"CH"}}, {"x", []string{"SH"}},
	{"r", []string{"R", "ZH"}}, {"z", []string{"Z", "T S", "JH"}}, {"c", []string{"T S", "CH"}}, {"s", []string{"S"}},
}

// mandarinFinals are pinyin finals (i- and u-glides written out, ü as v)
// with the English phones heard for them.
var mandarinFinals = map[string][]string{
	"a": {"AA"}, "o": {"AO", "W AO"}, "e": {"AH", "ER"}, "i": {"IY"}, "u": {"UW"}, "v": {"UW", "IY", "Y UW"},
	"ai": {"AY"}, "ei": {"EY"}, "ao": {"AW"}, "ou": {"OW"},
	"an": {"AA N", "AE N"}, "en": {"AH N"}, "ang": {"AA NG"}, "eng": {"AH NG"}, "ong": {"UH NG", "AO NG", "OW NG"},
	"er": {"ER", "AA R"},
	"ia": {"Y AA"}, "ie": {"Y EH"}, "iao": {"Y AW"}, "iu": {"Y OW"}, "ian": {"Y EH N", "Y AE N"},
	"in": {"IY N", "IH N"}, "iang": {"Y AA NG"}, "ing": {"IY NG", "IH NG"}, "iong": {"Y UH NG", "Y OW NG"},
	"ua": {"W AA"}, "uo": {"W AO", "AO"}, "uai": {"W AY"}, "ui": {"W EY"}, "uan": {"W AA N"},
	"un": {"W AH N", "UW N"}, "uang": {"W AA NG"}, "ueng": {"W AH NG"},
	"ve": {"Y EH", "W EH"}, "van": {"W AE N", "Y UW AA N", "W AA N"}, "vn": {"UW N", "IY N", "Y UW N"},
	// i after zh ch sh r (retroflex) and after z c s
	"ri": {"ER", "IH"}, "zi": {"IH", "AH"},
}

// glideFinals rewrites syllables spelled with y- or w- to their final.
var glideFinals = map[string]string{
	"yi": "i", "ya": "ia", "yao": "iao", "you": "iu", "yan": "ian", "yang": "iang", "ye": "ie", "yin": "in",
	"ying": "ing", "yong": "iong", "yu": "v", "yue": "ve", "yuan": "van", "yun": "vn",
	"wu": "u", "wa": "ua", "wo": "uo", "wai": "uai", "wei": "ui", "wan": "uan", "wen": "un", "wang": "uang", "weng": "ueng",
}

// mandarinPhones returns the English phone sequences for one toneless
// pinyin syllable, or nil when it is not one.
func mandarinPhones(syl string) []string {
	initial, initialPhones, final := "", []string{""}, syl
	if f, ok := glideFinals[syl]; ok {
		final = f
	} else {
		for _, in := range mandarinInitials {
			if strings.HasPrefix(syl, in.pinyin) && len(syl) > len(in.pinyin) {
				initial, initialPhones, final = in.pinyin, in.phones, syl[len(in.pinyin):]
				break
			}
		}
		switch {
		case final == "i" && (initial == "zh" || initial == "ch" || initial == "sh" || initial == "r"):
			final = "ri"
		case final == "i" && (initial == "z" || initial == "c" || initial == "s"):
			final = "zi"
		case (initial == "j" || initial == "q" || initial == "x") && strings.HasPrefix(final, "u"):
			final = "v" + final[1:] // ju is jü
		case strings.HasPrefix(final, "v") && initial != "n" && initial != "l":
			return nil // ü follows only n, l, j, q, x and y
		}
	}
	finals, ok := mandarinFinals[final]
	if !ok {
		return nil
	}
	var out []string
	for _, i := range initialPhones {
		for _, f := range finals {
			out = append(out, strings.TrimSpace(i+" "+f))
		}
	}
	return out
}

// mandarinDictLines returns pocketsphinx dictionary lines for a syllable
// token ("shi SH ER", "shi(2) SH IH", ...), or nil when it is not one.
func mandarinDictLines(syl string) []string {
	phones := mandarinPhones(syl)
	lines := make([]string, 0, len(phones))
	for i, ph := range slices.Compact(phones) {
		if i == 0 {
			lines = append(lines, syl+" "+ph)
		} else {
			lines = append(lines, syl+"("+strconv.Itoa(i+1)+") "+ph)
		}
	}
	if len(lines) == 0 {
		return nil
	}
	return lines
}
