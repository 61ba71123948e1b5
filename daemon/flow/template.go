package flow

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// filters maps a template filter name to the function that speaks a value.
var filters = map[string]func(lang, v string) (string, error){
	"money":  SayMoney,
	"number": SayNumber,
	"date":   SayDate,
	"time":   SayTime,
	"digits": SayDigits,
}

// FilterNames lists the template filters, sorted.
func FilterNames() []string {
	names := make([]string, 0, len(filters))
	for n := range filters {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Template is text with {{field}} and {{field | filter}} placeholders over
// the contact profile, the flow's slots and "org".
type Template struct {
	Src   string
	parts []tplPart
}

type tplPart struct {
	lit    string
	name   string
	filter string
	isVar  bool
}

// TemplateError is a syntax error in a template. Col is the 1-based rune
// column within the template text.
type TemplateError struct {
	Col int
	Msg string
}

func (e *TemplateError) Error() string { return fmt.Sprintf("template column %d: %s", e.Col, e.Msg) }

// ParseTemplate parses src. Unknown filters, empty or malformed
// placeholders and unclosed braces are errors.
func ParseTemplate(src string) (*Template, error) {
	t := &Template{Src: src}
	rest, off := src, 0
	col := func(byteOff int) int { return utf8.RuneCountInString(src[:byteOff]) + 1 }
	for rest != "" {
		i := strings.Index(rest, "{{")
		j := strings.Index(rest, "}}")
		if j >= 0 && (i < 0 || j < i) {
			return nil, &TemplateError{Col: col(off + j), Msg: "\"}}\" without an opening \"{{\""}
		}
		if i < 0 {
			t.parts = append(t.parts, tplPart{lit: rest})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, tplPart{lit: rest[:i]})
		}
		end := strings.Index(rest[i+2:], "}}")
		if end < 0 {
			return nil, &TemplateError{Col: col(off + i), Msg: "unclosed \"{{\""}
		}
		inner := rest[i+2 : i+2+end]
		if strings.Contains(inner, "{{") {
			return nil, &TemplateError{Col: col(off + i), Msg: "unclosed \"{{\""}
		}
		name, filter, hasFilter := strings.Cut(inner, "|")
		name, filter = strings.TrimSpace(name), strings.TrimSpace(filter)
		if !isIdent(name) {
			return nil, &TemplateError{Col: col(off + i), Msg: fmt.Sprintf("bad field name %q in {{%s}}", name, inner)}
		}
		if hasFilter {
			if _, ok := filters[filter]; !ok {
				return nil, &TemplateError{Col: col(off + i), Msg: fmt.Sprintf("unknown filter %q (known: %s)", filter, strings.Join(FilterNames(), ", "))}
			}
		}
		t.parts = append(t.parts, tplPart{name: name, filter: filter, isVar: true})
		adv := i + 2 + end + 2
		rest = rest[adv:]
		off += adv
	}
	return t, nil
}

// isIdent reports whether s is a field name: a letter or _ then letters,
// digits, _ or '.'.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case i > 0 && (r == '.' || (r >= '0' && r <= '9')):
		default:
			return false
		}
	}
	return true
}

// Vars returns the field names the template reads, in order of appearance,
// each once, with the filter applied at first use.
func (t *Template) Vars() []TemplateVar {
	if t == nil {
		return nil
	}
	var out []TemplateVar
	seen := map[TemplateVar]bool{}
	for _, p := range t.parts {
		if !p.isVar {
			continue
		}
		v := TemplateVar{Name: p.name, Filter: p.filter}
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// TemplateVar is one field use in a template.
type TemplateVar struct{ Name, Filter string }

// Render fills the template. lookup returns a field's value and whether it
// exists; a missing field is ErrMissingField, an unspeakable value
// ErrBadValue.
func (t *Template) Render(lang string, lookup func(name string) (string, bool)) (string, error) {
	if t == nil {
		return "", nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if !p.isVar {
			b.WriteString(p.lit)
			continue
		}
		v, ok := lookup(p.name)
		if !ok {
			return "", fmt.Errorf("%w: %q", ErrMissingField, p.name)
		}
		if p.filter != "" {
			s, err := filters[p.filter](lang, v)
			if err != nil {
				return "", fmt.Errorf("field %q: %w", p.name, err)
			}
			v = s
		}
		b.WriteString(v)
	}
	return b.String(), nil
}
