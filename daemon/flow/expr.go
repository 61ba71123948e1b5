package flow

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Branch expressions: comparisons (== != < <= > >=), && || !, parentheses,
// numbers, strings ("x" or 'x'), true/false, identifiers (profile fields,
// slots, intent, hour, weekday) and `x in [a, b]`.

// maxExprDepth bounds nesting so hostile input cannot exhaust the stack.
const maxExprDepth = 64

// ExprError is a syntax or evaluation error. Col is the 1-based rune column
// in the expression text (0 for evaluation errors without a position).
type ExprError struct {
	Col int
	Msg string
}

func (e *ExprError) Error() string {
	if e.Col > 0 {
		return fmt.Sprintf("column %d: %s", e.Col, e.Msg)
	}
	return e.Msg
}

// Expr is a parsed expression.
type Expr struct {
	Src  string
	root exprNode
}

// Kind is the type of a Value.
type Kind int

// Value kinds.
const (
	KindMissing Kind = iota
	KindNumber
	KindString
	KindBool
	KindList
)

// Value is an expression value.
type Value struct {
	Kind Kind
	Num  float64
	Str  string
	Bool bool
	List []Value
}

// StringValue, NumberValue and BoolValue build values for an Env.
func StringValue(s string) Value  { return Value{Kind: KindString, Str: s} }
func NumberValue(n float64) Value { return Value{Kind: KindNumber, Num: n} }
func BoolValue(b bool) Value      { return Value{Kind: KindBool, Bool: b} }

// Env resolves identifiers; ok=false means the name is not set.
type Env func(name string) (v Value, ok bool)

type tokKind int

const (
	tEOF tokKind = iota
	tNum
	tStr
	tIdent
	tOp // == != < <= > >= && || ! ( ) [ ] , -
)

type token struct {
	kind tokKind
	text string // operator text, identifier, decoded string
	num  float64
	col  int
}

func lexExpr(src string) ([]token, error) {
	var toks []token
	col := 1
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRuneInString(src[i:])
		start := col
		switch {
		case r == utf8.RuneError && size == 1:
			return nil, &ExprError{Col: col, Msg: "invalid UTF-8"}
		case unicode.IsSpace(r):
			i += size
			col++
			continue
		case r >= '0' && r <= '9':
			j := i
			for j < len(src) && (src[j] >= '0' && src[j] <= '9' || src[j] == '.') {
				j++
			}
			n, err := strconv.ParseFloat(src[i:j], 64)
			if err != nil || strings.HasSuffix(src[i:j], ".") {
				return nil, &ExprError{Col: col, Msg: fmt.Sprintf("bad number %q", src[i:j])}
			}
			toks = append(toks, token{kind: tNum, num: n, text: src[i:j], col: start})
			col += j - i
			i = j
			continue
		case r == '_' || unicode.IsLetter(r):
			j := i
			for j < len(src) {
				r2, s2 := utf8.DecodeRuneInString(src[j:])
				if r2 != '_' && r2 != '.' && !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
					break
				}
				j += s2
			}
			toks = append(toks, token{kind: tIdent, text: src[i:j], col: start})
			col += utf8.RuneCountInString(src[i:j])
			i = j
			continue
		case r == '"' || r == '\'':
			var b strings.Builder
			j := i + 1
			c := col + 1
			closed := false
			for j < len(src) {
				r2, s2 := utf8.DecodeRuneInString(src[j:])
				if r2 == r {
					closed = true
					j += s2
					c++
					break
				}
				if r2 == '\\' && j+1 < len(src) {
					r3, s3 := utf8.DecodeRuneInString(src[j+1:])
					b.WriteRune(r3)
					j += 1 + s3
					c += 2
					continue
				}
				b.WriteRune(r2)
				j += s2
				c++
			}
			if !closed {
				return nil, &ExprError{Col: start, Msg: "unterminated string"}
			}
			toks = append(toks, token{kind: tStr, text: b.String(), col: start})
			col = c
			i = j
			continue
		}
		two := ""
		if i+1 < len(src) {
			two = src[i : i+2]
		}
		switch two {
		case "==", "!=", "<=", ">=", "&&", "||":
			toks = append(toks, token{kind: tOp, text: two, col: start})
			i += 2
			col += 2
			continue
		}
		switch r {
		case '<', '>', '!', '(', ')', '[', ']', ',', '-':
			toks = append(toks, token{kind: tOp, text: string(r), col: start})
			i += size
			col++
			continue
		case '=':
			return nil, &ExprError{Col: col, Msg: "use == to compare, not ="}
		case '&':
			return nil, &ExprError{Col: col, Msg: "use && for \"and\""}
		case '|':
			return nil, &ExprError{Col: col, Msg: "use || for \"or\""}
		}
		return nil, &ExprError{Col: col, Msg: fmt.Sprintf("unexpected character %q", r)}
	}
	toks = append(toks, token{kind: tEOF, col: col})
	return toks, nil
}

type exprNode interface {
	eval(env Env) (Value, error)
}

type (
	litNode   struct{ v Value }
	identNode struct {
		name string
		col  int
	}
	notNode struct{ x exprNode }
	negNode struct {
		x   exprNode
		col int
	}
	logicNode struct {
		op   string
		l, r exprNode
	}
	cmpNode struct {
		op   string
		l, r exprNode
		col  int
	}
	listNode struct{ items []exprNode }
	inNode   struct {
		x    exprNode
		list exprNode
		col  int
	}
)

type exprParser struct {
	toks  []token
	pos   int
	depth int
}

// ParseExpr parses an expression; errors are *ExprError with a column.
func ParseExpr(src string) (*Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &ExprError{Col: 1, Msg: "empty expression"}
	}
	toks, err := lexExpr(src)
	if err != nil {
		return nil, err
	}
	p := &exprParser{toks: toks}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, &ExprError{Col: t.col, Msg: fmt.Sprintf("unexpected %s after the end of the expression", describe(t))}
	}
	return &Expr{Src: src, root: root}, nil
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tNum:
		return "number " + t.text
	case tStr:
		return strconv.Quote(t.text)
	case tIdent:
		return "\"" + t.text + "\""
	}
	return "\"" + t.text + "\""
}

func (p *exprParser) peek() token { return p.toks[p.pos] }
func (p *exprParser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}
func (p *exprParser) isOp(s string) bool {
	t := p.peek()
	return t.kind == tOp && t.text == s
}

func (p *exprParser) enter() error {
	p.depth++
	if p.depth > maxExprDepth {
		return &ExprError{Col: p.peek().col, Msg: "expression nested too deeply"}
	}
	return nil
}

func (p *exprParser) or() (exprNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isOp("||") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &logicNode{op: "||", l: l, r: r}
	}
	return l, nil
}

func (p *exprParser) and() (exprNode, error) {
	l, err := p.cmp()
	if err != nil {
		return nil, err
	}
	for p.isOp("&&") {
		p.next()
		r, err := p.cmp()
		if err != nil {
			return nil, err
		}
		l = &logicNode{op: "&&", l: l, r: r}
	}
	return l, nil
}

func (p *exprParser) cmp() (exprNode, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tOp && (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" || t.text == ">="):
		p.next()
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &cmpNode{op: t.text, l: l, r: r, col: t.col}, nil
	case t.kind == tIdent && t.text == "in":
		p.next()
		if !p.isOp("[") {
			return nil, &ExprError{Col: p.peek().col, Msg: "expected [ after in"}
		}
		list, err := p.primary()
		if err != nil {
			return nil, err
		}
		return &inNode{x: l, list: list, col: t.col}, nil
	}
	return l, nil
}

func (p *exprParser) unary() (exprNode, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if p.isOp("!") {
		p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &notNode{x: x}, nil
	}
	if p.isOp("-") {
		t := p.next()
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		return &negNode{x: x, col: t.col}, nil
	}
	return p.primary()
}

func (p *exprParser) primary() (exprNode, error) {
	t := p.next()
	switch t.kind {
	case tNum:
		return &litNode{v: NumberValue(t.num)}, nil
	case tStr:
		return &litNode{v: StringValue(t.text)}, nil
	case tIdent:
		switch t.text {
		case "true":
			return &litNode{v: BoolValue(true)}, nil
		case "false":
			return &litNode{v: BoolValue(false)}, nil
		case "in":
			return nil, &ExprError{Col: t.col, Msg: "\"in\" needs a value on its left"}
		}
		return &identNode{name: t.text, col: t.col}, nil
	case tOp:
		switch t.text {
		case "(":
			x, err := p.or()
			if err != nil {
				return nil, err
			}
			if !p.isOp(")") {
				return nil, &ExprError{Col: p.peek().col, Msg: fmt.Sprintf("expected ) to close ( at column %d, found %s", t.col, describe(p.peek()))}
			}
			p.next()
			return x, nil
		case "[":
			var items []exprNode
			for !p.isOp("]") {
				if len(items) > 0 {
					if !p.isOp(",") {
						return nil, &ExprError{Col: p.peek().col, Msg: fmt.Sprintf("expected , or ] in list, found %s", describe(p.peek()))}
					}
					p.next()
				}
				it, err := p.unary()
				if err != nil {
					return nil, err
				}
				items = append(items, it)
			}
			p.next()
			return &listNode{items: items}, nil
		}
	}
	return nil, &ExprError{Col: t.col, Msg: fmt.Sprintf("expected a value, found %s", describe(t))}
}

// Eval evaluates the expression and reports its truth.
func (e *Expr) Eval(env Env) (bool, error) {
	v, err := e.root.eval(env)
	if err != nil {
		return false, err
	}
	return truthy(v), nil
}

func truthy(v Value) bool {
	switch v.Kind {
	case KindBool:
		return v.Bool
	case KindNumber:
		return v.Num != 0
	case KindString:
		switch strings.ToLower(strings.TrimSpace(v.Str)) {
		case "", "0", "false", "no", "n", "f", "否", "off":
			return false
		}
		return true
	case KindList:
		return len(v.List) > 0
	}
	return false
}

func (n *litNode) eval(Env) (Value, error) { return n.v, nil }

func (n *identNode) eval(env Env) (Value, error) {
	if env == nil {
		return Value{}, nil
	}
	v, ok := env(n.name)
	if !ok {
		return Value{Kind: KindMissing, Str: n.name}, nil
	}
	return v, nil
}

func (n *notNode) eval(env Env) (Value, error) {
	v, err := n.x.eval(env)
	if err != nil {
		return Value{}, err
	}
	return BoolValue(!truthy(v)), nil
}

func (n *negNode) eval(env Env) (Value, error) {
	v, err := n.x.eval(env)
	if err != nil {
		return Value{}, err
	}
	f, ok := asNumber(v)
	if !ok {
		return Value{}, &ExprError{Col: n.col, Msg: fmt.Sprintf("cannot negate %s", show(v))}
	}
	return NumberValue(-f), nil
}

func (n *logicNode) eval(env Env) (Value, error) {
	l, err := n.l.eval(env)
	if err != nil {
		return Value{}, err
	}
	if n.op == "&&" && !truthy(l) {
		return BoolValue(false), nil
	}
	if n.op == "||" && truthy(l) {
		return BoolValue(true), nil
	}
	r, err := n.r.eval(env)
	if err != nil {
		return Value{}, err
	}
	return BoolValue(truthy(r)), nil
}

func (n *listNode) eval(env Env) (Value, error) {
	out := Value{Kind: KindList, List: make([]Value, 0, len(n.items))}
	for _, it := range n.items {
		v, err := it.eval(env)
		if err != nil {
			return Value{}, err
		}
		out.List = append(out.List, v)
	}
	return out, nil
}

func (n *inNode) eval(env Env) (Value, error) {
	x, err := n.x.eval(env)
	if err != nil {
		return Value{}, err
	}
	l, err := n.list.eval(env)
	if err != nil {
		return Value{}, err
	}
	for _, it := range l.List {
		if equal(x, it) {
			return BoolValue(true), nil
		}
	}
	return BoolValue(false), nil
}

// asNumber converts numbers and numeric strings.
func asNumber(v Value) (float64, bool) {
	switch v.Kind {
	case KindNumber:
		return v.Num, true
	case KindString:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.Str), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

func show(v Value) string {
	switch v.Kind {
	case KindMissing:
		return fmt.Sprintf("unset field %q", v.Str)
	case KindNumber:
		return strconv.FormatFloat(v.Num, 'g', -1, 64)
	case KindString:
		return strconv.Quote(v.Str)
	case KindBool:
		return strconv.FormatBool(v.Bool)
	}
	return "a list"
}

func equal(a, b Value) bool {
	if a.Kind == KindMissing || b.Kind == KindMissing {
		return a.Kind == b.Kind
	}
	if a.Kind == KindNumber || b.Kind == KindNumber {
		x, ok1 := asNumber(a)
		y, ok2 := asNumber(b)
		return ok1 && ok2 && x == y
	}
	if a.Kind == KindBool || b.Kind == KindBool {
		return truthy(a) == truthy(b)
	}
	if a.Kind == KindString && b.Kind == KindString {
		return a.Str == b.Str
	}
	return false
}

func (n *cmpNode) eval(env Env) (Value, error) {
	l, err := n.l.eval(env)
	if err != nil {
		return Value{}, err
	}
	r, err := n.r.eval(env)
	if err != nil {
		return Value{}, err
	}
	switch n.op {
	case "==":
		return BoolValue(equal(l, r)), nil
	case "!=":
		return BoolValue(!equal(l, r)), nil
	}
	if l.Kind == KindString && r.Kind == KindString {
		x, ok1 := asNumber(l)
		y, ok2 := asNumber(r)
		if !ok1 || !ok2 {
			c := strings.Compare(l.Str, r.Str)
			return BoolValue(order(n.op, float64(c), 0)), nil
		}
		return BoolValue(order(n.op, x, y)), nil
	}
	x, ok := asNumber(l)
	if !ok {
		return Value{}, &ExprError{Col: n.col, Msg: fmt.Sprintf("%s is not a number", show(l))}
	}
	y, ok := asNumber(r)
	if !ok {
		return Value{}, &ExprError{Col: n.col, Msg: fmt.Sprintf("%s is not a number", show(r))}
	}
	return BoolValue(order(n.op, x, y)), nil
}

func order(op string, x, y float64) bool {
	switch op {
	case "<":
		return x < y
	case "<=":
		return x <= y
	case ">":
		return x > y
	}
	return x >= y
}
