package flow

import (
	"context"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzParseFlow: Parse never panics, failures are ErrorLists with
// positions, and any flow that loads can run to an end against a caller
// who says the same few things.
func FuzzParseFlow(f *testing.F) {
	f.Add([]byte(menuFlow))
	f.Add([]byte(yesNoFlow))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := Parse("fuzz.yaml", data)
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 || !errors.Is(err, ErrInvalidFlow) {
				t.Fatalf("error is not a non-empty ErrorList: %v", err)
			}
			return
		}
		if fl.Nodes[fl.Start] == nil {
			t.Fatalf("start %q missing after successful parse", fl.Start)
		}
		sample := map[string]string{"money": "12.5", "number": "3", "date": "2026-01-02", "time": "10:30", "digits": "42", "": "x"}
		profile := map[string]string{}
		for _, v := range fl.RequiredFields() {
			profile[v.Name] = sample[v.Filter]
		}
		io := &scriptIO{inputs: []string{"yes", "#1", "", "no", "stop calling me", "#2", "转人工"}}
		out, err := fl.Run(context.Background(), io, profile, RunOptions{MaxSteps: 200, Logger: discardLogger()})
		if err == nil && out.ResumeNode != "" {
			t.Fatalf("completed run left ResumeNode %q", out.ResumeNode)
		}
	})
}

// FuzzExpr: the parser never panics, errors carry a column inside the
// text, and evaluation of anything that parses never panics.
func FuzzExpr(f *testing.F) {
	for _, s := range []string{"overdue_days < 3 && !vip", "weekday in [6, 7]", "(a", "x == 'y'", "-1 >= -b"} {
		f.Add(s)
	}
	env := testEnv(map[string]string{"overdue_days": "5", "vip": "true", "x": "y"})
	f.Fuzz(func(t *testing.T, src string) {
		e, err := ParseExpr(src)
		if err != nil {
			var ee *ExprError
			if !errors.As(err, &ee) {
				t.Fatalf("not an ExprError: %v", err)
			}
			if ee.Col < 1 || ee.Col > utf8.RuneCountInString(src)+1 {
				t.Fatalf("column %d outside %q", ee.Col, src)
			}
			return
		}
		e.Eval(env)
	})
}

// FuzzTemplate: parsing never panics and rendering with every field set
// never panics.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"{{name}}您好", "{{amount | money}}", "{{", "}}", "{{a|b}}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		tp, err := ParseTemplate(src)
		if err != nil {
			return
		}
		tp.Render(LangEN, func(string) (string, bool) { return "7", true })
	})
}

// FuzzSay: the number, money, date and time readers never panic, and
// either speak something or return ErrBadValue.
func FuzzSay(f *testing.F) {
	for _, s := range []string{"1234.50", "¥10086", "2026-11-21", "14:30", "-0.0", "99999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, fn := range []func(string, string) (string, error){SayNumber, SayMoney, SayDate, SayTime, SayDigits} {
			for _, lang := range []string{LangZH, LangEN} {
				out, err := fn(lang, s)
				if err != nil && !errors.Is(err, ErrBadValue) {
					t.Fatalf("%q: unexpected error kind %v", s, err)
				}
				if err == nil && out == "" {
					t.Fatalf("%q: empty reading", s)
				}
			}
		}
	})
}
