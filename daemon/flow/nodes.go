package flow

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var nodeTypes = []string{TypeSay, TypeAsk, TypeMenu, TypeBranch, TypeSet, TypeTransfer, TypeHangup, TypeGoto}

func knownIntent(f *Flow, name string) bool {
	_, builtin := builtinPriority[name]
	return builtin || f.intents[name] != nil
}

// node parses one entry of nodes:.
func (p *parser) node(f *Flow, st *flowState, id string, k, v *yaml.Node) *Node {
	if strings.TrimSpace(id) == "" || strings.ContainsAny(id, " \t\n") {
		p.errAt(k, "node id %q must be non-empty without spaces", id)
	}
	m := p.mapping(v, fmt.Sprintf("node %q", id))
	if m == nil {
		return nil
	}
	n := &Node{ID: id, Line: k.Line}
	typ, tn := m.str("type")
	n.Type = typ
	m.what = fmt.Sprintf("%s node %q", orDefault(typ, "untyped"), id)
	addRef := func(field, target string, at *yaml.Node) {
		if target != "" {
			st.refs = append(st.refs, ref{from: id, field: field, to: target, at: at})
		}
	}
	link := func(key string, required bool) string {
		s, vn := m.str(key)
		if s == "" && required {
			p.errAt(k, "%s is missing %s", m.what, key)
		}
		addRef(key, s, vn)
		return s
	}
	reqText := func(key string) *Template {
		if !m.has(key) {
			p.errAt(k, "%s is missing %s", m.what, key)
			m.get(key)
			return nil
		}
		t := m.template(key)
		if t != nil && strings.TrimSpace(t.Src) == "" {
			p.errAt(m.vals[key], "%s: %s must not be empty", m.what, key)
		}
		return t
	}
	saveAs := func() {
		var vn *yaml.Node
		n.SaveAs, vn = m.str("save_as")
		if n.SaveAs != "" {
			if !isIdent(n.SaveAs) {
				p.errAt(vn, "%s: save_as %q must be a field name (letters, digits, _)", m.what, n.SaveAs)
			}
			f.slots[n.SaveAs] = true
		}
	}
	prompts := func() {
		n.Prompt = reqText("prompt")
		n.NoInput = m.template("no_input")
		n.NoMatch = m.template("no_match")
		n.Retries = m.integer("retries", DefaultRetries, 0, 10)
		n.Timeout = m.duration("timeout", DefaultTimeout, time.Second, time.Minute)
		n.Default = link("default", false)
		saveAs()
	}
	switch typ {
	case TypeSay:
		n.Text = reqText("text")
		n.Next = link("next", true)
		n.BargeIn = m.boolean("barge_in", true)
	case TypeAsk:
		prompts()
		n.EndSilence = time.Duration(m.integer("end_silence_ms", int(DefaultEndSilence/time.Millisecond), 100, 10000)) * time.Millisecond
		n.Expect = m.strList("expect")
		n.Next = link("next", false)
		n.On = map[string]string{}
		if on := m.get("on"); on != nil {
			if om := p.mapping(on, m.what+": on"); om != nil {
				for _, intent := range om.order {
					target, vn := om.str(intent)
					if target == "" {
						p.errAt(om.keys[intent], "%s: on %q has no target node", m.what, intent)
					}
					n.On[intent] = target
					addRef("on "+intent, target, vn)
					st.intentUses = append(st.intentUses, ref{from: id, to: intent, at: om.keys[intent]})
				}
			}
		}
		for _, in := range n.Expect {
			st.intentUses = append(st.intentUses, ref{from: id, to: in, at: m.vals["expect"]})
		}
		p.checkAskRoutes(m, n, k)
	case TypeMenu:
		prompts()
		n.Choices = map[string]string{}
		if ch := m.get("choices"); ch == nil {
			p.errAt(k, "%s is missing choices", m.what)
		} else if cm := p.mapping(ch, m.what+": choices"); cm != nil {
			if len(cm.order) == 0 {
				p.errAt(ch, "%s: choices is empty", m.what)
			}
			for _, key := range cm.order {
				if !dtmfKeyRe.MatchString(key) {
					p.errAt(cm.keys[key], "%s: choice %q is not a DTMF key (0-9, *, #)", m.what, key)
				}
				target, vn := cm.str(key)
				if target == "" {
					p.errAt(cm.keys[key], "%s: choice %q has no target node", m.what, key)
				}
				n.Choices[key] = target
				addRef("choice "+key, target, vn)
			}
		}
	case TypeBranch:
		n.Default = link("default", true)
		cv := resolve(m.get("cases"))
		switch {
		case cv == nil:
			p.errAt(k, "%s is missing cases", m.what)
		case cv.Kind != yaml.SequenceNode:
			p.errAt(cv, "%s: cases must be a list of {when, next}, found %s", m.what, kindName(cv))
		default:
			for i, c := range cv.Content {
				cm := p.mapping(c, fmt.Sprintf("%s case %d", m.what, i+1))
				if cm == nil {
					continue
				}
				cs := Case{Line: c.Line}
				src, wn := cm.str("when")
				if src == "" {
					p.errAt(c, "%s case %d is missing when", m.what, i+1)
				} else if e, err := ParseExpr(src); err != nil {
					ee := err.(*ExprError)
					line, col := valuePos(wn, ee.Col)
					p.errLineCol(line, col, "%s case %d: bad expression %q: %s", m.what, i+1, src, ee.Msg)
				} else {
					cs.When = e
				}
				cs.Next, _ = cm.str("next")
				if cs.Next == "" {
					p.errAt(c, "%s case %d is missing next", m.what, i+1)
				}
				addRef(fmt.Sprintf("case %d next", i+1), cs.Next, cm.vals["next"])
				cm.unknown()
				n.Cases = append(n.Cases, cs)
			}
			if len(cv.Content) == 0 {
				p.errAt(cv, "%s: cases is empty", m.what)
			}
		}
	case TypeSet:
		n.Next = link("next", true)
		n.Tags = map[string]string{}
		if tv := m.get("tags"); tv != nil {
			if tm := p.mapping(tv, m.what+": tags"); tm != nil {
				for _, key := range tm.order {
					n.Tags[key], _ = tm.str(key)
				}
			}
		}
		var dn *yaml.Node
		n.Disposition, dn = m.str("disposition")
		if n.Disposition != "" && !dispRe.MatchString(n.Disposition) {
			p.errAt(dn, "%s: disposition %q must be lower_case_words (converted, refused, callback_requested, ...)", m.what, n.Disposition)
		}
		var ln *yaml.Node
		n.IntentLevel, ln = m.str("intent_level")
		if n.IntentLevel != "" && !levelRe.MatchString(n.IntentLevel) {
			p.errAt(ln, "%s: intent_level %q must be A, B, C, D or 0-5", m.what, n.IntentLevel)
		}
		var rn *yaml.Node
		n.Recording, rn = m.str("recording")
		if rn != nil && rn.Kind == yaml.ScalarNode && n.Recording != RecordingPaused && n.Recording != RecordingResumed {
			p.errAt(rn, "%s: recording %q must be %s or %s", m.what, n.Recording, RecordingPaused, RecordingResumed)
		}
		n.Slots = map[string]*Template{}
		if sv := m.get("slots"); sv != nil {
			if sm := p.mapping(sv, m.what+": slots"); sm != nil {
				for _, key := range sm.order {
					if !isIdent(key) {
						p.errAt(sm.keys[key], "%s: slot name %q must be letters, digits and _", m.what, key)
					}
					f.slots[key] = true
					if t := sm.template(key); t != nil {
						n.Slots[key] = t
					} else if _, ok := sm.scalar(key); !ok {
						n.Slots[key], _ = ParseTemplate("")
					}
				}
			}
		}
	case TypeTransfer:
		n.Mode = p.transferMode(m)
		var tv *yaml.Node
		n.Target, tv = m.str("target")
		switch {
		case n.Target == "":
			p.errAt(k, "%s is missing target (SIP URI or agent queue)", m.what)
		case !validTarget(n.Target):
			p.errAt(tv, "%s: target %q is not a SIP URI (sip:...) or agent queue name", m.what, n.Target)
		}
		n.Summary = m.template("summary")
		if n.Mode == TransferWarm && n.Summary == nil && !m.has("summary") {
			p.warnAt(k, "%s: warm transfer without summary; the agent hears a generated one", m.what)
		}
		n.OnFail = link("on_fail", false)
	case TypeHangup:
		n.Text = m.template("text")
	case TypeGoto:
		n.Target = link("target", true)
	case "":
		p.errAt(k, "node %q is missing type (%s)", id, strings.Join(nodeTypes, ", "))
		for _, key := range m.order {
			m.get(key)
		}
	default:
		p.errAt(tn, "node %q has unknown type %q (%s)", id, typ, strings.Join(nodeTypes, ", "))
		for _, key := range m.order {
			m.get(key)
		}
	}
	m.unknown()
	return n
}

// checkAskRoutes makes sure every intent an ask expects leads somewhere.
func (p *parser) checkAskRoutes(m *fields, n *Node, k *yaml.Node) {
	if len(n.Expect) == 0 && len(n.On) > 0 {
		for in := range n.On {
			n.Expect = append(n.Expect, in)
		}
		sort.Strings(n.Expect)
		return
	}
	if len(n.Expect) == 0 && n.Next == "" {
		p.errAt(k, "%s needs on: (intent → node) or next: (take any answer)", m.what)
		return
	}
	exp := map[string]bool{}
	for _, in := range n.Expect {
		exp[in] = true
		if n.On[in] == "" && n.Next == "" {
			p.errAt(m.vals["expect"], "%s expects %q but has no on: route for it and no next", m.what, in)
		}
	}
	for _, in := range sortedKeys(n.On) {
		if !exp[in] && in != IntentHuman {
			p.errAt(m.vals["on"], "%s: on %q is not listed in expect", m.what, in)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
