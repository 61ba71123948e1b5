package flow

import (
	"errors"
	"testing"
)

func testEnv(vars map[string]string) Env {
	return func(name string) (Value, bool) {
		switch name {
		case "hour":
			return NumberValue(14), true
		case "weekday":
			return NumberValue(6), true
		}
		v, ok := vars[name]
		return StringValue(v), ok
	}
}

func TestExprEval(t *testing.T) {
	env := testEnv(map[string]string{"overdue_days": "5", "vip": "false", "intent": "yes", "city": "北京", "score": "4"})
	cases := []struct {
		src  string
		want bool
	}{
		{"overdue_days < 3 && !vip", false},
		{"overdue_days >= 3 && overdue_days <= 7", true},
		{"overdue_days > 7 || vip", false},
		{"!vip", true},
		{"vip == false", true},
		{"intent == \"yes\"", true},
		{"intent != 'no'", true},
		{"hour >= 12 && hour < 18", true},
		{"weekday in [6, 7]", true},
		{"!(weekday in [6, 7])", false},
		{"city in ['上海', '北京']", true},
		{"score in [4, 5]", true},
		{"missing_field", false},
		{"!missing_field", true},
		{"missing_field == \"\"", false},
		{"(1 < 2) == true", true},
		{"-3 < overdue_days", true},
		{"true && (false || 2 > 1)", true},
		{"'abc' < 'abd'", true},
	}
	for _, c := range cases {
		e, err := ParseExpr(c.src)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", c.src, err)
			continue
		}
		got, err := e.Eval(env)
		if err != nil || got != c.want {
			t.Errorf("%q = %v, %v; want %v", c.src, got, err, c.want)
		}
	}
}

func TestExprParseErrors(t *testing.T) {
	cases := []struct {
		src string
		col int
	}{
		{"", 1},
		{"a = 1", 3},
		{"a & b", 3},
		{"a | b", 3},
		{"(a", 3},
		{"a in 5", 6},
		{"a in [1 2]", 9},
		{"a <", 4},
		{"'open", 1},
		{"a b", 3},
		{"1.", 1},
		{"a ^ b", 3},
		{"in [1]", 1},
	}
	for _, c := range cases {
		_, err := ParseExpr(c.src)
		var ee *ExprError
		if !errors.As(err, &ee) {
			t.Errorf("ParseExpr(%q) = %v; want ExprError", c.src, err)
			continue
		}
		if ee.Col != c.col {
			t.Errorf("ParseExpr(%q) column %d (%v); want %d", c.src, ee.Col, ee.Msg, c.col)
		}
	}
}

func TestExprEvalErrors(t *testing.T) {
	env := testEnv(map[string]string{"days": "unknown"})
	for _, src := range []string{"days < 3", "missing > 1", "-days < 1"} {
		e, err := ParseExpr(src)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Eval(env); err == nil {
			t.Errorf("%q: want an evaluation error", src)
		}
	}
}

func TestExprDepthLimit(t *testing.T) {
	src := ""
	for range 200 {
		src += "("
	}
	if _, err := ParseExpr(src + "1"); err == nil {
		t.Fatal("want nesting error")
	}
}
