package flow

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// parser collects diagnostics while walking a flow file's YAML tree.
type parser struct {
	file  string
	errs  []Diagnostic
	warns []Diagnostic
}

func (p *parser) errAt(n *yaml.Node, format string, a ...any) {
	d := Diagnostic{File: p.file, Msg: fmt.Sprintf(format, a...)}
	if n != nil {
		d.Line, d.Col = n.Line, n.Column
	}
	p.errs = append(p.errs, d)
}

func (p *parser) errLineCol(line, col int, format string, a ...any) {
	p.errs = append(p.errs, Diagnostic{File: p.file, Line: line, Col: col, Msg: fmt.Sprintf(format, a...)})
}

func (p *parser) warnAt(n *yaml.Node, format string, a ...any) {
	d := Diagnostic{File: p.file, Warning: true, Msg: fmt.Sprintf(format, a...)}
	if n != nil {
		d.Line, d.Col = n.Line, n.Column
	}
	p.warns = append(p.warns, d)
}

// resolve follows aliases (bounded, since yaml.v3 already rejects alias
// cycles while decoding).
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return "empty"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unexpected value"
}

// fields is a YAML mapping under inspection; accessors mark keys used so
// unknown() can report the rest.
type fields struct {
	p     *parser
	n     *yaml.Node
	what  string
	keys  map[string]*yaml.Node
	vals  map[string]*yaml.Node
	order []string
	used  map[string]bool
}

// mapping opens n as a mapping, reporting duplicate and non-scalar keys.
// It returns nil (after reporting) when n is not a mapping.
func (p *parser) mapping(n *yaml.Node, what string) *fields {
	n = resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errAt(n, "%s must be a mapping, found %s", what, kindName(n))
		return nil
	}
	f := &fields{p: p, n: n, what: what, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}, used: map[string]bool{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			p.errAt(k, "%s has a key that is not a plain value", what)
			continue
		}
		if first, dup := f.keys[k.Value]; dup {
			p.errAt(k, "duplicate key %q in %s (first at line %d)", k.Value, what, first.Line)
			continue
		}
		f.keys[k.Value] = k
		f.vals[k.Value] = v
		f.order = append(f.order, k.Value)
	}
	return f
}

func (f *fields) has(key string) bool { _, ok := f.vals[key]; return ok }

func (f *fields) get(key string) *yaml.Node {
	f.used[key] = true
	return f.vals[key]
}

func (f *fields) scalar(key string) (*yaml.Node, bool) {
	v := f.get(key)
	if v == nil || (v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null") {
		return v, false
	}
	if v.Kind != yaml.ScalarNode {
		f.p.errAt(v, "%s must be a single value, found %s", f.label(key), kindName(v))
		return v, false
	}
	return v, true
}

func (f *fields) str(key string) (string, *yaml.Node) {
	v, ok := f.scalar(key)
	if !ok {
		return "", v
	}
	return v.Value, v
}

func (f *fields) integer(key string, def, lo, hi int) int {
	v, ok := f.scalar(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v.Value)
	if err != nil || n < lo || n > hi {
		f.p.errAt(v, "%s must be a whole number from %d to %d, found %q", f.label(key), lo, hi, v.Value)
		return def
	}
	return n
}

func (f *fields) float(key string, lo, hi float64) (float64, bool) {
	v, ok := f.scalar(key)
	if !ok {
		return 0, false
	}
	x, err := strconv.ParseFloat(v.Value, 64)
	if err != nil || !(x >= lo && x <= hi) {
		f.p.errAt(v, "%s must be a number from %g to %g, found %q", f.label(key), lo, hi, v.Value)
		return 0, false
	}
	return x, true
}

func (f *fields) boolean(key string, def bool) bool {
	v, ok := f.scalar(key)
	if !ok {
		return def
	}
	switch strings.ToLower(v.Value) {
	case "true", "yes", "on":
		return true
	case "false", "no", "off":
		return false
	}
	f.p.errAt(v, "%s must be true or false, found %q", f.label(key), v.Value)
	return def
}

// duration accepts Go durations ("5s", "1500ms") or a bare number of
// seconds.
func (f *fields) duration(key string, def, lo, hi time.Duration) time.Duration {
	v, ok := f.scalar(key)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v.Value)
	if err != nil {
		if secs, err2 := strconv.ParseFloat(v.Value, 64); err2 == nil && secs == secs {
			d, err = time.Duration(secs*float64(time.Second)), nil
		}
	}
	if err != nil || d < lo || d > hi {
		f.p.errAt(v, "%s must be a duration from %v to %v such as \"5s\", found %q", f.label(key), lo, hi, v.Value)
		return def
	}
	return d
}

// strList accepts a list of values or a single value.
func (f *fields) strList(key string) []string {
	v := f.get(key)
	return f.p.strListNode(v, f.label(key))
}

func (p *parser) strListNode(v *yaml.Node, what string) []string {
	v = resolve(v)
	if v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.ScalarNode:
		if v.ShortTag() == "!!null" {
			return nil
		}
		return []string{v.Value}
	case yaml.SequenceNode:
		out := make([]string, 0, len(v.Content))
		for _, it := range v.Content {
			it = resolve(it)
			if it.Kind != yaml.ScalarNode {
				p.errAt(it, "%s: list items must be single values, found %s", what, kindName(it))
				continue
			}
			out = append(out, it.Value)
		}
		return out
	}
	p.errAt(v, "%s must be a list, found %s", what, kindName(v))
	return nil
}

// template parses a template value, reporting syntax errors at their
// line and column.
func (f *fields) template(key string) *Template {
	v, ok := f.scalar(key)
	if !ok {
		return nil
	}
	return f.p.templateNode(v, f.label(key))
}

func (p *parser) templateNode(v *yaml.Node, what string) *Template {
	t, err := ParseTemplate(v.Value)
	if err != nil {
		te := err.(*TemplateError)
		line, col := valuePos(v, te.Col)
		p.errLineCol(line, col, "%s: bad template: %s", what, te.Msg)
		return nil
	}
	return t
}

// valuePos maps a 1-based rune column inside a scalar's text to a file
// position when the scalar sits on one line (plain or quoted); otherwise
// it returns the scalar's own position.
func valuePos(v *yaml.Node, col int) (int, int) {
	switch v.Style {
	case 0:
		if !strings.Contains(v.Value, "\n") {
			return v.Line, v.Column + col - 1
		}
	case yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		if !strings.ContainsAny(v.Value, "\n\\'\"") {
			return v.Line, v.Column + col
		}
	}
	return v.Line, v.Column
}

// label names key for messages: "say node \"a\": next", or just the key
// at the top level.
func (f *fields) label(key string) string {
	if f.what == "the flow file" {
		return key
	}
	return f.what + ": " + key
}

// unknown reports every key no accessor asked for.
func (f *fields) unknown() {
	for _, k := range f.order {
		if !f.used[k] {
			f.p.errAt(f.keys[k], "unknown key %q in %s", k, f.what)
		}
	}
}
