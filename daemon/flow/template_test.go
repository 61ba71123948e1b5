package flow

import (
	"errors"
	"testing"
)

func TestTemplateRender(t *testing.T) {
	vals := map[string]string{"name": "张三", "amount": "1234.50", "due": "2026-11-21", "at": "14:30", "n": "10086"}
	look := func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	cases := []struct{ src, want string }{
		{"{{name}}您好", "张三您好"},
		{"{{ name }}，应还{{amount | money}}", "张三，应还一千二百三十四元五角"},
		{"{{due|date}}{{at | time}}", "二零二六年十一月二十一日下午两点三十分"},
		{"号码{{n | number}}", "号码一万零八十六"},
		{"no placeholders", "no placeholders"},
		{"", ""},
	}
	for _, c := range cases {
		tp, err := ParseTemplate(c.src)
		if err != nil {
			t.Fatalf("%q: %v", c.src, err)
		}
		got, err := tp.Render(LangZH, look)
		if err != nil || got != c.want {
			t.Errorf("%q → %q, %v; want %q", c.src, got, err, c.want)
		}
	}
	tp, _ := ParseTemplate("{{missing}}")
	if _, err := tp.Render(LangZH, look); !errors.Is(err, ErrMissingField) {
		t.Errorf("missing field: %v", err)
	}
	tp, _ = ParseTemplate("{{name | money}}")
	if _, err := tp.Render(LangZH, look); !errors.Is(err, ErrBadValue) {
		t.Errorf("bad value: %v", err)
	}
}

func TestTemplateErrors(t *testing.T) {
	cases := []struct {
		src string
		col int
	}{
		{"{{name", 1},
		{"hi }}", 4},
		{"您好{{ 1x }}", 3},
		{"{{a | shout}}", 1},
		{"{{a {{b}}", 1},
	}
	for _, c := range cases {
		_, err := ParseTemplate(c.src)
		var te *TemplateError
		if !errors.As(err, &te) || te.Col != c.col {
			t.Errorf("ParseTemplate(%q) = %v; want TemplateError at column %d", c.src, err, c.col)
		}
	}
}
