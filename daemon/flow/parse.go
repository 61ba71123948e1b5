package flow

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads and validates the flow file at path.
func Load(path string) (*Flow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load flow: %w", err)
	}
	return Parse(path, data)
}

var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// ref is one reference from a node field to another node, kept for the
// dangling-reference and graph checks.
type ref struct {
	from, field, to string
	at              *yaml.Node
}

// Parse validates a flow file's contents; name is used in diagnostics.
// On failure the error is an ErrorList (which wraps ErrInvalidFlow) with
// every problem found, ordered by line.
func Parse(name string, data []byte) (*Flow, error) {
	p := &parser{file: name}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line := 0
		if m := yamlErrLine.FindStringSubmatch(err.Error()); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		return nil, ErrorList{{File: name, Line: line, Msg: "YAML syntax: " + msg}}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, ErrorList{{File: name, Msg: "empty flow file"}}
	}
	f := p.flow(doc.Content[0])
	if len(p.errs) > 0 {
		all := append(p.errs, p.warns...)
		sortDiags(all)
		return nil, ErrorList(all)
	}
	sortDiags(p.warns)
	f.Warnings = p.warns
	return f, nil
}

func sortDiags(d []Diagnostic) {
	sort.SliceStable(d, func(i, j int) bool {
		if d[i].Line != d[j].Line {
			return d[i].Line < d[j].Line
		}
		return d[i].Col < d[j].Col
	})
}

// flowState carries what node parsing learns for the whole-flow checks.
type flowState struct {
	refs       []ref
	intentUses []ref // from=node, to=intent name
	nodeKeys   map[string]*yaml.Node
}

func (p *parser) flow(root *yaml.Node) *Flow {
	f := &Flow{File: p.file, Nodes: map[string]*Node{}, intents: map[string]*IntentDef{}, slots: map[string]bool{}}
	top := p.mapping(root, "the flow file")
	if top == nil {
		return f
	}
	st := &flowState{nodeKeys: map[string]*yaml.Node{}}

	if v, ok := top.scalar("version"); !ok {
		p.errAt(root, "missing version (add \"version: %d\")", SupportedVersion)
	} else if n, err := strconv.Atoi(v.Value); err != nil || n != SupportedVersion {
		p.errAt(v, "unsupported version %q (this callbox reads version %d)", v.Value, SupportedVersion)
	} else {
		f.Version = n
	}
	f.Name, _ = top.str("name")
	if strings.TrimSpace(f.Name) == "" {
		p.errAt(root, "missing name")
	}
	lang, langNode := top.str("language")
	switch lang {
	case LangZH, LangEN:
		f.Language = lang
	case "":
		p.errAt(root, "missing language (zh or en)")
	default:
		p.errAt(langNode, "unsupported language %q (zh or en)", lang)
	}
	top.get("description")
	f.Org, _ = top.str("org")

	textOr := func(key string) *Template {
		if top.has(key) {
			t := top.template(key)
			if t != nil && strings.TrimSpace(t.Src) == "" {
				p.errAt(top.vals[key], "%s must not be empty", key)
			}
			return t
		}
		if f.Language == "" {
			return nil
		}
		t, _ := ParseTemplate(defaultTexts[f.Language][key])
		return t
	}
	f.Disclosure = textOr("disclosure")
	f.Goodbye = textOr("goodbye")
	f.OptOutText = textOr("opt_out_text")
	f.TransferText = textOr("transfer_text")
	if f.Org == "" && speaksOrg(f.Disclosure, f.Goodbye, f.OptOutText, f.TransferText) {
		p.errAt(root, "missing org (the flow's texts speak {{org}})")
	}

	f.MaxFailedTurns = top.integer("max_failed_turns", DefaultMaxFailedTurns, 1, 20)
	f.OnMaxFailed = p.action(top, "on_max_failed")
	if th, ok := top.float("emotion_threshold", -1, 1); ok {
		f.EmotionEnabled, f.EmotionThreshold = true, th
	}
	f.OnEmotion = p.action(top, "on_emotion")
	if top.has("on_emotion") && !f.EmotionEnabled && !top.has("emotion_threshold") {
		p.errAt(top.keys["on_emotion"], "on_emotion needs emotion_threshold")
	}
	f.EscalateTo, _ = top.str("escalate_to")
	if f.EscalateTo != "" && !validTarget(f.EscalateTo) {
		p.errAt(top.vals["escalate_to"], "escalate_to %q is not a SIP URI (sip:...) or agent queue name", f.EscalateTo)
	}
	f.EscalateMode = p.transferMode(top)
	for _, key := range []string{"on_max_failed", "on_emotion"} {
		if v := top.vals[key]; v != nil && v.Value == ActionTransfer && f.EscalateTo == "" {
			p.errAt(v, "%s: transfer needs escalate_to (the SIP URI or queue to transfer to)", key)
		}
	}
	f.MinConfidence = DefaultMinConfidence
	if c, ok := top.float("min_confidence", 0, 1); ok {
		f.MinConfidence = c
	}

	p.resume(f, top)

	before := len(p.errs)
	if in := top.get("intents"); in != nil {
		p.intents(f, in)
	}
	if len(p.errs) == before {
		m, err := NewMatcher(orDefault(f.Language, LangEN), f.intentDefs())
		if err != nil {
			p.errAt(top.vals["intents"], "%v", err)
		}
		f.matcher = m
	}

	startNode := top.get("start")
	f.Start, _ = top.str("start")
	if f.Start == "" {
		p.errAt(root, "missing start (the id of the first node)")
	}
	nodesNode := top.get("nodes")
	if nodesNode == nil {
		p.errAt(root, "missing nodes")
	} else if nm := p.mapping(nodesNode, "nodes"); nm != nil {
		if len(nm.order) == 0 {
			p.errAt(nodesNode, "nodes is empty")
		}
		for _, id := range nm.order {
			st.nodeKeys[id] = nm.keys[id]
			nm.get(id)
			if n := p.node(f, st, id, nm.keys[id], nm.vals[id]); n != nil {
				f.Nodes[id] = n
			}
		}
	}
	top.unknown()
	if f.Resumable && f.ResumeText == nil && f.Language != "" {
		f.ResumeText, _ = ParseTemplate(defaultTexts[f.Language]["resume_text"])
	}
	if f.Start != "" && len(st.nodeKeys) > 0 && st.nodeKeys[f.Start] == nil {
		p.errAt(startNode, "start refers to unknown node %q", f.Start)
	}
	p.checkGraph(f, st)
	return f
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (p *parser) action(top *fields, key string) string {
	v, _ := top.str(key)
	switch v {
	case "":
		return ActionEnd
	case ActionTransfer, ActionEnd:
		return v
	}
	p.errAt(top.vals[key], "%s must be transfer or end, found %q", top.label(key), v)
	return ActionEnd
}

func (p *parser) transferMode(m *fields) string {
	key := "mode"
	if m.what == "the flow file" {
		key = "escalate_mode"
	}
	v, _ := m.str(key)
	switch v {
	case "":
		return TransferBlind
	case TransferBlind, TransferWarm:
		return v
	}
	p.errAt(m.vals[key], "%s must be blind or warm, found %q", m.label(key), v)
	return TransferBlind
}

var (
	sipTarget   = regexp.MustCompile(`^(sips?|tel):[^\s]+$`)
	queueTarget = regexp.MustCompile(`^(queue:)?[A-Za-z0-9_.\-]+$`)
	dispRe      = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	levelRe     = regexp.MustCompile(`^([A-D]|[0-5])$`)
	dtmfKeyRe   = regexp.MustCompile(`^[0-9*#]{1,8}$`)
)

func validTarget(s string) bool { return sipTarget.MatchString(s) || queueTarget.MatchString(s) }

func (f *Flow) intentDefs() []IntentDef {
	names := make([]string, 0, len(f.intents))
	for n := range f.intents {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]IntentDef, 0, len(names))
	for _, n := range names {
		out = append(out, *f.intents[n])
	}
	return out
}

func (p *parser) intents(f *Flow, n *yaml.Node) {
	m := p.mapping(n, "intents")
	if m == nil {
		return
	}
	for _, name := range m.order {
		if !isIdent(name) {
			p.errAt(m.keys[name], "intent name %q must be letters, digits and _", name)
		}
		def := &IntentDef{Name: name}
		im := p.mapping(m.get(name), fmt.Sprintf("intent %q", name))
		if im == nil {
			continue
		}
		def.Phrases = p.langLists(im, "phrases")
		def.Keywords = p.langLists(im, "keywords")
		def.Patterns = p.langLists(im, "patterns")
		for lang, pats := range def.Patterns {
			for _, pat := range pats {
				re, err := regexp.Compile("(?i)" + pat)
				if err != nil {
					p.errAt(im.vals["patterns"], "intent %q: bad %s pattern %q: %v", name, orDefault(lang, "any-language"), pat, err)
					continue
				}
				for _, g := range re.SubexpNames() {
					if g != "" {
						f.slots[g] = true // named groups fill slots
					}
				}
			}
		}
		if sv := im.get("synonyms"); sv != nil {
			if sm := p.mapping(sv, fmt.Sprintf("intent %q synonyms", name)); sm != nil {
				def.Synonyms = map[string][]string{}
				for _, w := range sm.order {
					def.Synonyms[w] = p.strListNode(sm.get(w), fmt.Sprintf("intent %q synonyms %q", name, w))
				}
			}
		}
		def.DTMF = im.strList("dtmf")
		for _, k := range def.DTMF {
			if !dtmfKeyRe.MatchString(k) {
				p.errAt(im.vals["dtmf"], "intent %q: dtmf %q is not made of keys 0-9 * #", name, k)
			}
		}
		def.Value, _ = im.str("value")
		if c, ok := im.float("confidence", 0.01, 1); ok {
			def.Confidence = c
		}
		im.unknown()
		_, builtin := builtinPriority[name]
		if !builtin && len(def.Phrases)+len(def.Keywords)+len(def.Patterns)+len(def.DTMF) == 0 {
			p.errAt(m.keys[name], "intent %q has no phrases, keywords, patterns or dtmf", name)
		}
		f.intents[name] = def
	}
}

// langLists reads a list (any language) or a mapping of zh/en → list.
func (p *parser) langLists(m *fields, key string) map[string][]string {
	v := resolve(m.get(key))
	if v == nil {
		return nil
	}
	what := m.what + ": " + key
	if v.Kind != yaml.MappingNode {
		l := p.strListNode(v, what)
		if len(l) == 0 {
			return nil
		}
		return map[string][]string{"": l}
	}
	lm := p.mapping(v, what)
	out := map[string][]string{}
	for _, lang := range lm.order {
		if lang != LangZH && lang != LangEN {
			p.errAt(lm.keys[lang], "%s: unknown language %q (zh or en)", what, lang)
		}
		out[lang] = p.strListNode(lm.get(lang), what+" "+lang)
	}
	return out
}

func speaksOrg(ts ...*Template) bool {
	for _, t := range ts {
		for _, v := range t.Vars() {
			if v.Name == "org" {
				return true
			}
		}
	}
	return false
}

// resume reads the optional resume block:
//
//	resume: {enabled: true, text: "Sorry, we were cut off ..."}
//
// enabled defaults to true when the block is present; text defaults to
// the language's line.
func (p *parser) resume(f *Flow, top *fields) {
	v := top.get("resume")
	if v == nil {
		return
	}
	m := p.mapping(v, "resume")
	if m == nil {
		return
	}
	f.Resumable = m.boolean("enabled", true)
	if m.has("text") {
		f.ResumeText = m.template("text")
		if f.ResumeText != nil && strings.TrimSpace(f.ResumeText.Src) == "" {
			p.errAt(m.vals["text"], "resume: text must not be empty")
		}
	}
	m.unknown()
}
