package flow

import "time"

// Supported languages.
const (
	LangZH = "zh"
	LangEN = "en"
)

// Node types.
const (
	TypeSay      = "say"
	TypeAsk      = "ask"
	TypeMenu     = "menu"
	TypeBranch   = "branch"
	TypeSet      = "set"
	TypeTransfer = "transfer"
	TypeHangup   = "hangup"
	TypeGoto     = "goto"
)

// Escalation actions for on_max_failed and on_emotion.
const (
	ActionTransfer = "transfer"
	ActionEnd      = "end"
)

// Values of a set node's recording field.
const (
	RecordingPaused  = "paused"
	RecordingResumed = "resumed"
)

// Transfer modes.
const (
	TransferBlind = "blind"
	TransferWarm  = "warm"
)

// Defaults applied when the flow file leaves a field out.
const (
	DefaultMaxFailedTurns = 3
	DefaultRetries        = 2
	DefaultTimeout        = 5 * time.Second
	DefaultEndSilence     = 500 * time.Millisecond
	DefaultMinConfidence  = 0.5
	// SupportedVersion is the only flow file version this package reads.
	SupportedVersion = 1
)

// Flow is a validated dialogue flow. It is immutable after Parse and safe to
// Run concurrently for many calls.
type Flow struct {
	File     string
	Version  int
	Name     string
	Language string
	Org      string

	Disclosure *Template

	MaxFailedTurns int
	OnMaxFailed    string // ActionTransfer or ActionEnd

	EmotionEnabled   bool
	EmotionThreshold float64 // in [-1, 1]; a turn scoring below it triggers OnEmotion
	OnEmotion        string

	// EscalateTo is the SIP URI or agent queue used when the flow escalates
	// (max failed turns, emotion, the caller asking for a human).
	EscalateTo   string
	EscalateMode string

	MinConfidence float64

	Goodbye      *Template // spoken before ending after escalation to "end"
	OptOutText   *Template // spoken after an opt-out
	TransferText *Template // spoken before an escalation transfer

	// Resumable says a callback after a call cut off by a box failure
	// resumes at the last say/ask/menu node reached (RunOptions.ResumeAt),
	// after the disclosure and ResumeText; otherwise it starts over.
	Resumable  bool
	ResumeText *Template // the "sorry, we were cut off" line

	Start string
	Nodes map[string]*Node
	// Warnings are non-fatal findings (unreachable nodes).
	Warnings []Diagnostic

	intents map[string]*IntentDef
	matcher *Matcher
	slots   map[string]bool // slot names the flow can set
}

// Node is one step of a flow. Which fields matter depends on Type.
type Node struct {
	ID   string
	Type string
	Line int

	Text    *Template // say, hangup
	Next    string    // say, set, ask (free text or unrouted expected intent)
	BargeIn bool      // say

	Prompt     *Template // ask, menu
	NoInput    *Template // ask, menu
	NoMatch    *Template // ask, menu
	Expect     []string  // ask
	Retries    int       // ask, menu
	Timeout    time.Duration
	EndSilence time.Duration
	On         map[string]string // ask: intent -> node
	Default    string            // ask, menu, branch
	SaveAs     string            // ask, menu
	Choices    map[string]string // menu: DTMF key -> node

	Cases []Case // branch

	Tags        map[string]string    // set
	Disposition string               // set
	IntentLevel string               // set
	Slots       map[string]*Template // set
	Recording   string               // set: RecordingPaused, RecordingResumed or ""

	Mode    string    // transfer
	Target  string    // transfer, goto
	Summary *Template // transfer
	OnFail  string    // transfer
}

// Case is one branch arm.
type Case struct {
	When *Expr
	Next string
	Line int
}

// IntentDef declares how an intent is recognised. Phrases, keywords and
// patterns are keyed by language; the key "" applies to every language.
type IntentDef struct {
	Name     string
	Phrases  map[string][]string
	Keywords map[string][]string
	Patterns map[string][]string
	// Synonyms maps a word used in phrases/keywords to alternatives the
	// caller may say instead.
	Synonyms map[string][]string
	DTMF     []string
	// Value is what an ask's save_as stores; the intent name by default.
	Value string
	// Confidence scales every match of this intent, in (0, 1]; default 1.
	Confidence float64
}

// Matcher returns the flow's compiled intent matcher (built-ins plus the
// flow's intents), for callers that classify outside Run.
func (f *Flow) Matcher() *Matcher { return f.matcher }
