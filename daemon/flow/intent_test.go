package flow

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := map[string]string{
		"ＹＥＳ！":            "yes",
		"不要 再 打 了。":       "不要再打了",
		"Don't  call me!": "don't call me",
		"好的，谢谢":           "好的谢谢",
		"１２３４":            "1234",
		"  ":              "",
	}
	for in, want := range cases {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q; want %q", in, got, want)
		}
	}
}

func TestBuiltinIntents(t *testing.T) {
	zh, err := NewMatcher(LangZH, nil)
	if err != nil {
		t.Fatal(err)
	}
	en, _ := NewMatcher(LangEN, nil)
	yn := []string{IntentYes, IntentNo}
	cases := []struct {
		m        *Matcher
		text     string
		expected []string
		want     string
	}{
		{zh, "不要再打了", nil, IntentOptOut},
		{zh, "别再打了行不行", yn, IntentOptOut},
		{zh, "好的，但是不要打了", yn, IntentOptOut},
		{zh, "转人工", yn, IntentHuman},
		{zh, "我要人工客服", yn, IntentHuman},
		{zh, "是的", yn, IntentYes},
		{zh, "对", yn, IntentYes},
		{zh, "可以", yn, IntentYes},
		{zh, "不是", yn, IntentNo},
		{zh, "不要", yn, IntentNo},
		{zh, "不行", yn, IntentNo},
		{zh, "不好", yn, IntentNo},
		{zh, "今天天气", yn, ""},
		{en, "Stop calling me!", yn, IntentOptOut},
		{en, "please don't call me again", yn, IntentOptOut},
		{en, "remove me from your list", nil, IntentOptOut},
		{en, "can I talk to an agent", yn, IntentHuman},
		{en, "Yes", yn, IntentYes},
		{en, "yeah sure", yn, IntentYes},
		{en, "nope", yn, IntentNo},
		{en, "not sure", yn, ""}, // negated "sure" is not a yes
		{en, "I know", yn, ""},   // "no" must not match inside "know"
		{en, "yes", []string{"other"}, ""},
	}
	for _, c := range cases {
		got := c.m.Classify(c.text, c.expected)
		if got.Name != c.want {
			t.Errorf("%s Classify(%q, %v) = %+v; want %q", c.m.lang, c.text, c.expected, got, c.want)
		}
		if got.Name != "" && (got.Confidence <= 0 || got.Confidence > 1) {
			t.Errorf("%q: confidence %v outside (0,1]", c.text, got.Confidence)
		}
	}
}

func TestFlowIntents(t *testing.T) {
	m, err := NewMatcher(LangZH, []IntentDef{
		{Name: "reschedule", Keywords: map[string][]string{LangZH: {"改时间"}}, Synonyms: map[string][]string{"改时间": {"换个时间"}}},
		{Name: "day", Patterns: map[string][]string{"": {`(?P<day>明天|后天)`}}},
		{Name: "score_5", DTMF: []string{"5"}, Value: "5", Phrases: map[string][]string{LangZH: {"五分"}}, Confidence: 0.5},
		{Name: IntentYes, Phrases: map[string][]string{LangZH: {"妥了"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Classify("能不能换个时间", nil); got.Name != "reschedule" {
		t.Errorf("synonym: %+v", got)
	}
	if got := m.Classify("那就后天吧", []string{"day"}); got.Name != "day" || got.Slots["day"] != "后天" {
		t.Errorf("pattern slot: %+v", got)
	}
	if got := m.ClassifyDigits("5", []string{"score_5"}); got.Name != "score_5" || got.Value != "5" {
		t.Errorf("dtmf: %+v", got)
	}
	if got := m.ClassifyDigits("5", []string{"day"}); got.Name != "" {
		t.Errorf("dtmf outside expected: %+v", got)
	}
	if got := m.Classify("五分", []string{"score_5"}); got.Confidence != 0.5 {
		t.Errorf("weight: %+v", got)
	}
	if got := m.Classify("妥了", []string{IntentYes}); got.Name != IntentYes {
		t.Errorf("extended builtin: %+v", got)
	}
	if _, err := NewMatcher(LangEN, []IntentDef{{Name: "x", Patterns: map[string][]string{"": {"("}}}}); err == nil {
		t.Error("bad pattern accepted")
	}
}

func TestEmotionScore(t *testing.T) {
	neg := []struct{ lang, text string }{
		{LangZH, "你们烦不烦"},
		{LangZH, "我要投诉你们！"},
		{LangZH, "有完没完啊"},
		{LangZH, "太差劲了，不满意"},
		{LangEN, "what the hell"},
		{LangEN, "this is ridiculous"},
		{LangEN, "I'm going to complain"},
		{LangEN, "how many times do I have to tell you?"},
	}
	for _, c := range neg {
		if s := EmotionScore(c.lang, c.text); s >= -0.3 {
			t.Errorf("EmotionScore(%q) = %v; want clearly negative", c.text, s)
		}
	}
	pos := []struct{ lang, text string }{
		{LangZH, "好的，谢谢你"},
		{LangZH, "非常满意"},
		{LangEN, "great, thanks"},
	}
	for _, c := range pos {
		if s := EmotionScore(c.lang, c.text); s <= 0 {
			t.Errorf("EmotionScore(%q) = %v; want positive", c.text, s)
		}
	}
	if s := EmotionScore(LangZH, "明天下午可以"); s != 0 {
		t.Errorf("neutral = %v", s)
	}
	if a, b := EmotionScore(LangEN, "this is ridiculous"), EmotionScore(LangEN, "this is ridiculous!!!"); b >= a {
		t.Errorf("exclamation should amplify: %v vs %v", a, b)
	}
	if s := EmotionScore(LangEN, "not happy"); s >= 0 {
		t.Errorf("negated positive = %v", s)
	}
	for _, txt := range []string{"滚滚滚他妈的操操操骗子垃圾！！！", "FUCK THIS SHIT!!!"} {
		if s := EmotionScore(LangZH, txt); s < -1 || s > 1 {
			t.Errorf("out of range: %v", s)
		}
		if s := EmotionScore(LangEN, txt); s < -1 || s > 1 {
			t.Errorf("out of range: %v", s)
		}
	}
}

func TestHTTPNLU(t *testing.T) {
	var got nluRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", 400)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		switch got.Text {
		case "boom":
			http.Error(w, "down", 503)
		case "garbage":
			w.Write([]byte("{not json"))
		case "overconfident":
			w.Write([]byte(`{"intent":"yes","confidence":7}`))
		default:
			w.Write([]byte(`{"intent":"reschedule","confidence":0.8,"slots":{"day":"friday"}}`))
		}
	}))
	defer srv.Close()
	n := &HTTPNLU{URL: srv.URL}
	it, err := n.Classify(context.Background(), "move it to friday", LangEN, []string{"reschedule"})
	if err != nil || it.Name != "reschedule" || it.Confidence != 0.8 || it.Slots["day"] != "friday" {
		t.Fatalf("classify = %+v, %v", it, err)
	}
	if got.Lang != LangEN || len(got.Expected) != 1 || got.Expected[0] != "reschedule" {
		t.Errorf("request = %+v", got)
	}
	for _, text := range []string{"boom", "garbage", "overconfident"} {
		if _, err := n.Classify(context.Background(), text, LangEN, nil); !errors.Is(err, ErrNLU) {
			t.Errorf("%s: want ErrNLU, got %v", text, err)
		}
	}
	dead := &HTTPNLU{URL: "http://127.0.0.1:1/"}
	if _, err := dead.Classify(context.Background(), "x", LangEN, nil); !errors.Is(err, ErrNLU) {
		t.Errorf("refused: want ErrNLU, got %v", err)
	}
}

func BenchmarkClassifyZH(b *testing.B) {
	f, err := Load("../../flows/reminder-overdue.zh.yaml")
	if err != nil {
		b.Fatal(err)
	}
	exp := f.Nodes["ask_pay"].Expect
	b.ReportAllocs()
	for b.Loop() {
		f.matcher.Classify("这笔不是我消费的，账单金额不对，你们查一下", exp)
	}
}

func BenchmarkClassifyEN(b *testing.B) {
	f, err := Load("../../flows/reminder-overdue.en.yaml")
	if err != nil {
		b.Fatal(err)
	}
	exp := f.Nodes["ask_pay"].Expect
	b.ReportAllocs()
	for b.Loop() {
		f.matcher.Classify("I can't pay today, maybe next week after payday", exp)
	}
}

func BenchmarkEmotionScore(b *testing.B) {
	for b.Loop() {
		EmotionScore(LangZH, "你们烦不烦啊！天天打，我要投诉！")
	}
}
