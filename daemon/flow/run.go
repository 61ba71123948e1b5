package flow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"
)

// DefaultMaxSteps bounds node executions per call.
const DefaultMaxSteps = 1000

// Escalation reasons, recorded in Outcome.Tags["escalation"].
const (
	ReasonMaxFailed = "max_failed_turns"
	ReasonRetries   = "retries_exhausted"
	ReasonEmotion   = "emotion"
	ReasonHuman     = "caller_asked_for_human"
)

// templates lists every template of the flow with where it is used.
func (f *Flow) templates() []*Template {
	out := []*Template{f.Disclosure, f.Goodbye, f.OptOutText, f.TransferText, f.ResumeText}
	for _, id := range sortedKeys(f.Nodes) {
		n := f.Nodes[id]
		out = append(out, n.Text, n.Prompt, n.NoInput, n.NoMatch, n.Summary)
		for _, k := range sortedKeys(n.Slots) {
			out = append(out, n.Slots[k])
		}
	}
	return out
}

// RequiredFields lists the contact profile fields the flow's templates
// speak (slots the flow sets itself and org are not included).
func (f *Flow) RequiredFields() []TemplateVar {
	var out []TemplateVar
	seen := map[TemplateVar]bool{}
	for _, t := range f.templates() {
		for _, v := range t.Vars() {
			if f.slots[v.Name] || (v.Name == "org" && f.Org != "") || seen[v] {
				continue
			}
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// CheckProfile reports every field the flow needs that the profile lacks
// (ErrMissingField) or cannot speak (ErrBadValue), joined into one error.
func (f *Flow) CheckProfile(profile map[string]string) error {
	var errs []error
	for _, v := range f.RequiredFields() {
		val, ok := profile[v.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("flow %s: %w: %q", f.Name, ErrMissingField, v.Name))
			continue
		}
		if v.Filter != "" {
			if _, err := filters[v.Filter](f.Language, val); err != nil {
				errs = append(errs, fmt.Errorf("flow %s: field %q: %w", f.Name, v.Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// MaskPhone hides the middle of a phone number for logs: 13812345678 →
// 138****5678.
func MaskPhone(s string) string {
	r := []rune(s)
	if len(r) <= 4 {
		return strings.Repeat("*", len(r))
	}
	keepHead := min(3, len(r)-4)
	return string(r[:keepHead]) + strings.Repeat("*", len(r)-keepHead-4) + string(r[len(r)-4:])
}

type runner struct {
	f       *Flow
	io      IO
	now     func() time.Time
	log     *slog.Logger
	nlu     NLU
	profile map[string]string
	out     Outcome
	intent  string // last matched intent, for branch expressions
	resume  string // last say/ask/menu node
	ended   bool   // Hangup called or transfer succeeded

	resumeAt string            // RunOptions.ResumeAt when the flow allows it
	progress func(node string) // RunOptions.OnProgress
}

// Run walks the flow for one answered call: the disclosure first (never
// interruptible), then nodes from start until a hangup or transfer. The
// Outcome is complete up to the point of any error.
func (f *Flow) Run(ctx context.Context, io IO, profile map[string]string, opts RunOptions) (Outcome, error) {
	r := &runner{f: f, io: io, now: opts.Now, log: opts.Logger, nlu: opts.NLU, profile: profile, progress: opts.OnProgress}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.log = r.log.With("call", opts.CallID, "flow", f.Name)
	r.out.Tags = map[string]string{}
	r.out.Slots = map[string]string{}
	maxSteps := opts.MaxSteps
	if maxSteps <= 0 {
		maxSteps = DefaultMaxSteps
	}
	if err := f.CheckProfile(profile); err != nil {
		return r.out, err
	}
	if opts.Resume {
		at := opts.ResumeAt
		n := f.Nodes[at]
		if at == "" {
			at = f.Start
		}
		if f.Resumable && (opts.ResumeAt == "" || (n != nil && (n.Type == TypeSay || n.Type == TypeAsk || n.Type == TypeMenu))) {
			r.resumeAt = at
			r.out.Tags["resumed_at"] = at
		} else {
			r.log.Info("flow does not resume here; starting over", "resume_at", opts.ResumeAt, "resumable", f.Resumable)
		}
	}
	r.log.Info("flow start", "phone", MaskPhone(profile["phone"]), "resume_at", r.resumeAt)
	err := r.run(ctx, maxSteps)
	if !r.ended {
		r.out.ResumeNode = r.resume
	}
	if err != nil {
		r.log.Warn("flow ended with error", "err", err, "resume", r.out.ResumeNode)
	} else {
		r.log.Info("flow done", "disposition", r.out.Disposition, "opt_out", r.out.OptOut, "transferred", r.out.Transferred)
	}
	return r.out, err
}

func (r *runner) run(ctx context.Context, maxSteps int) error {
	if err := r.say(ctx, "", r.f.Disclosure, false); err != nil {
		return err
	}
	id := r.f.Start
	if r.resumeAt != "" {
		if err := r.say(ctx, "", r.f.ResumeText, false); err != nil {
			return err
		}
		id = r.resumeAt
	}
	for step := 0; ; step++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if step >= maxSteps {
			r.endPolitely(ctx)
			return fmt.Errorf("%w: %d steps, last node %q", ErrStepLimit, maxSteps, id)
		}
		n := r.f.Nodes[id]
		r.log.Debug("flow node", "node", id, "type", n.Type)
		next, done, err := r.exec(ctx, n)
		if err != nil || done {
			return err
		}
		id = next
	}
}

func (r *runner) exec(ctx context.Context, n *Node) (string, bool, error) {
	switch n.Type {
	case TypeSay, TypeAsk, TypeMenu:
		if r.resume != n.ID {
			r.resume = n.ID
			if r.progress != nil {
				r.progress(n.ID)
			}
		}
	}
	switch n.Type {
	case TypeSay:
		r.resume = n.ID
		return n.Next, false, r.say(ctx, n.ID, n.Text, n.BargeIn)
	case TypeAsk:
		r.resume = n.ID
		return r.ask(ctx, n)
	case TypeMenu:
		r.resume = n.ID
		return r.menu(ctx, n)
	case TypeBranch:
		return r.branch(n), false, nil
	case TypeSet:
		if n.Recording != "" {
			r.setRecording(ctx, n)
		}
		return n.Next, false, r.set(n)
	case TypeGoto:
		return n.Target, false, nil
	case TypeTransfer:
		return r.transferNode(ctx, n)
	case TypeHangup:
		if err := r.say(ctx, n.ID, n.Text, false); err != nil {
			return "", true, err
		}
		return "", true, r.hangup(ctx, n.ID)
	}
	return "", true, fmt.Errorf("node %q: unknown type %q", n.ID, n.Type)
}

func (r *runner) lookup(name string) (string, bool) {
	if v, ok := r.out.Slots[name]; ok {
		return v, true
	}
	if name == "org" && r.f.Org != "" {
		return r.f.Org, true
	}
	if v, ok := r.profile[name]; ok {
		return v, true
	}
	if r.f.slots[name] {
		return "", true // a slot not set on this path speaks as nothing
	}
	return "", false
}

func (r *runner) turn(t Turn) { r.out.Transcript = append(r.out.Transcript, t) }

func (r *runner) say(ctx context.Context, node string, t *Template, interruptible bool) error {
	if t == nil {
		return nil
	}
	text, err := t.Render(r.f.Language, r.lookup)
	if err != nil {
		r.endPolitely(ctx)
		return fmt.Errorf("node %q: %w", node, err)
	}
	if strings.TrimSpace(text) == "" {
		return nil
	}
	start := r.now()
	barged, err := r.io.Say(ctx, text, interruptible)
	r.turn(Turn{Who: "bot", Node: node, Text: text, BargedIn: barged, Start: start, End: r.now()})
	if err != nil {
		return fmt.Errorf("node %q: say: %w", node, err)
	}
	return nil
}

func (r *runner) hangup(ctx context.Context, node string) error {
	now := r.now()
	r.turn(Turn{Who: "system", Node: node, Text: "hangup", Start: now, End: now})
	r.ended = true
	if err := r.io.Hangup(ctx); err != nil {
		return fmt.Errorf("node %q: hangup: %w", node, err)
	}
	return nil
}

// endPolitely says goodbye and hangs up after an internal error; IO errors
// here are only logged, the original error is what the caller gets.
func (r *runner) endPolitely(ctx context.Context) {
	if r.ended || ctx.Err() != nil {
		return
	}
	if text, err := r.f.Goodbye.Render(r.f.Language, r.lookup); err == nil && text != "" {
		if _, err := r.io.Say(ctx, text, false); err != nil {
			r.log.Warn("goodbye failed", "err", err)
		}
	}
	r.ended = true
	if err := r.io.Hangup(ctx); err != nil {
		r.log.Warn("hangup failed", "err", err)
	}
}

func (r *runner) setDisposition(d string) {
	if r.out.Disposition != "" && r.out.Disposition != d {
		r.out.Tags["prior_disposition"] = r.out.Disposition
	}
	r.out.Disposition = d
}

// listen runs one caller turn and records it; it returns the input and the
// classified intent.
func (r *runner) listen(ctx context.Context, n *Node, mode ListenMode, maxDigits int) (Input, Intent, error) {
	opts := ListenOpts{Node: n.ID, Lang: r.f.Language, Mode: mode, Expect: n.Expect, Timeout: n.Timeout, EndSilence: n.EndSilence, MaxDigits: maxDigits}
	if opts.EndSilence == 0 {
		opts.EndSilence = DefaultEndSilence
	}
	start := r.now()
	in, err := r.io.Listen(ctx, opts)
	if err != nil {
		return in, Intent{}, fmt.Errorf("node %q: listen: %w", n.ID, err)
	}
	in.Text = strings.TrimSpace(in.Text)
	in.Digits = strings.TrimSpace(in.Digits)
	if in.Text == "" && in.Digits == "" {
		in.NoInput = true
	}
	t := Turn{Who: "caller", Node: n.ID, Text: in.Text, Digits: in.Digits, NoInput: in.NoInput, Start: start, End: r.now()}
	var it Intent
	if !in.NoInput {
		it = r.classify(ctx, n, in)
		t.Intent, t.Confidence = it.Name, it.Confidence
		if in.Text != "" {
			t.Emotion = EmotionScore(r.f.Language, in.Text)
			if in.Emotion != nil {
				t.Emotion = max(-1, min(1, *in.Emotion))
			}
			r.out.EmotionScores = append(r.out.EmotionScores, t.Emotion)
		}
	}
	r.turn(t)
	return in, it, nil
}

func (r *runner) classify(ctx context.Context, n *Node, in Input) Intent {
	m := r.f.matcher
	if in.Digits != "" {
		if it := m.ClassifyDigits(in.Digits, n.Expect); it.Name != "" {
			return it
		}
	}
	if in.Text == "" {
		return Intent{}
	}
	it := m.Classify(in.Text, n.Expect)
	if it.Name != "" && it.Confidence >= r.f.MinConfidence {
		return it
	}
	if r.nlu == nil {
		return Intent{}
	}
	ext, err := r.nlu.Classify(ctx, in.Text, r.f.Language, n.Expect)
	if err != nil {
		r.log.Warn("nlu failed, using built-in matcher only", "node", n.ID, "err", err)
		return Intent{}
	}
	if ext.Name == "" || ext.Confidence < r.f.MinConfidence || !knownIntent(r.f, ext.Name) {
		return Intent{}
	}
	if ext.Value == "" {
		ext.Value = ext.Name
		if d := r.f.intents[ext.Name]; d != nil && d.Value != "" {
			ext.Value = d.Value
		}
	}
	return ext
}

// common handles what any caller turn may trigger before node routing:
// opt-out, emotion and a request for a human. handled=true means the call
// was ended or escalated.
func (r *runner) common(ctx context.Context, n *Node, in Input, it Intent) (handled bool, err error) {
	if it.Name == IntentOptOut {
		r.out.OptOut = true
		r.setDisposition("opt_out")
		if err := r.say(ctx, n.ID, r.f.OptOutText, false); err != nil {
			return true, err
		}
		return true, r.hangup(ctx, n.ID)
	}
	if r.f.EmotionEnabled && in.Text != "" {
		if s := r.out.EmotionScores[len(r.out.EmotionScores)-1]; s < r.f.EmotionThreshold {
			r.out.Tags["emotion_trigger"] = fmt.Sprintf("%.2f", s)
			return true, r.escalate(ctx, n, r.f.OnEmotion, ReasonEmotion)
		}
	}
	if it.Name == IntentHuman && n.On[IntentHuman] == "" && r.f.EscalateTo != "" {
		return true, r.escalate(ctx, n, ActionTransfer, ReasonHuman)
	}
	return false, nil
}

// failed counts a failed turn; escalate=true when max_failed_turns is hit.
func (r *runner) failed() bool {
	r.out.FailedTurns++
	return r.out.FailedTurns >= r.f.MaxFailedTurns
}

func (r *runner) retryPrompt(n *Node, in Input) *Template {
	if in.NoInput && n.NoInput != nil {
		return n.NoInput
	}
	if !in.NoInput && n.NoMatch != nil {
		return n.NoMatch
	}
	return n.Prompt
}

func (r *runner) ask(ctx context.Context, n *Node) (string, bool, error) {
	prompt := n.Prompt
	for attempt := 0; ; attempt++ {
		if err := r.say(ctx, n.ID, prompt, true); err != nil {
			return "", true, err
		}
		in, it, err := r.listen(ctx, n, ListenSpeech, 0)
		if err != nil {
			return "", true, err
		}
		if !in.NoInput {
			if handled, err := r.common(ctx, n, in, it); handled || err != nil {
				return "", true, err
			}
			if it.Name != "" {
				if next, ok := n.On[it.Name]; ok {
					r.accept(n, it, it.Value)
					return next, false, nil
				}
				if n.Next != "" && contains(n.Expect, it.Name) {
					r.accept(n, it, it.Value)
					return n.Next, false, nil
				}
			}
			if len(n.Expect) == 0 && n.Next != "" {
				// free answer: keep what was said (or keyed)
				r.accept(n, Intent{}, orDefault(in.Text, in.Digits))
				return n.Next, false, nil
			}
		}
		if r.failed() {
			return "", true, r.escalate(ctx, n, r.f.OnMaxFailed, ReasonMaxFailed)
		}
		if attempt >= n.Retries {
			if n.Default != "" {
				return n.Default, false, nil
			}
			return "", true, r.escalate(ctx, n, r.f.OnMaxFailed, ReasonRetries)
		}
		prompt = r.retryPrompt(n, in)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (r *runner) accept(n *Node, it Intent, value string) {
	if it.Name != "" {
		r.intent = it.Name
	}
	if n.SaveAs != "" {
		r.out.Slots[n.SaveAs] = value
	}
	maps.Copy(r.out.Slots, it.Slots)
}

// spokenDigits maps a caller saying a single key to that key.
var spokenDigits = map[string]string{
	"零": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5", "六": "6", "七": "7", "八": "8", "九": "9",
	"zero": "0", "oh": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
	"star": "*", "pound": "#", "hash": "#",
}

func (r *runner) menu(ctx context.Context, n *Node) (string, bool, error) {
	maxDigits := 1
	for k := range n.Choices {
		maxDigits = max(maxDigits, len(k))
	}
	prompt := n.Prompt
	for attempt := 0; ; attempt++ {
		if err := r.say(ctx, n.ID, prompt, true); err != nil {
			return "", true, err
		}
		in, it, err := r.listen(ctx, n, ListenDTMF, maxDigits)
		if err != nil {
			return "", true, err
		}
		if !in.NoInput {
			if handled, err := r.common(ctx, n, in, it); handled || err != nil {
				return "", true, err
			}
			key := in.Digits
			if key == "" {
				t := strings.TrimSuffix(strings.TrimSuffix(Normalize(in.Text), "号"), "键")
				t = strings.TrimPrefix(strings.TrimPrefix(t, "按"), "press ")
				if d, ok := spokenDigits[t]; ok {
					key = d
				} else if dtmfKeyRe.MatchString(t) {
					key = t
				}
			}
			next, ok := n.Choices[key]
			if !ok && len(key) > 1 {
				key = key[:1]
				next, ok = n.Choices[key]
			}
			if ok {
				if n.SaveAs != "" {
					r.out.Slots[n.SaveAs] = key
				}
				return next, false, nil
			}
		}
		if r.failed() {
			return "", true, r.escalate(ctx, n, r.f.OnMaxFailed, ReasonMaxFailed)
		}
		if attempt >= n.Retries {
			if n.Default != "" {
				return n.Default, false, nil
			}
			return "", true, r.escalate(ctx, n, r.f.OnMaxFailed, ReasonRetries)
		}
		prompt = r.retryPrompt(n, in)
	}
}

func (r *runner) env(name string) (Value, bool) {
	switch name {
	case "intent":
		return StringValue(r.intent), true
	case "hour":
		return NumberValue(float64(r.now().Hour())), true
	case "minute":
		return NumberValue(float64(r.now().Minute())), true
	case "weekday": // ISO: Monday=1 … Sunday=7
		wd := int(r.now().Weekday())
		if wd == 0 {
			wd = 7
		}
		return NumberValue(float64(wd)), true
	}
	if v, ok := r.out.Slots[name]; ok {
		return StringValue(v), true
	}
	if v, ok := r.profile[name]; ok {
		return StringValue(v), true
	}
	return Value{}, false
}

// branch takes the first case that holds. A case that cannot be evaluated
// (a missing or non-numeric field) counts as false and is logged and
// tagged, so bad contact data reaches the default path, not a dead call.
func (r *runner) branch(n *Node) string {
	for i, c := range n.Cases {
		ok, err := c.When.Eval(r.env)
		if err != nil {
			r.log.Warn("branch case failed", "node", n.ID, "case", i+1, "expr", c.When.Src, "err", err)
			r.out.Tags["branch_error"] = fmt.Sprintf("%s case %d: %v", n.ID, i+1, err)
			continue
		}
		if ok {
			return c.Next
		}
	}
	return n.Default
}

// setRecording pauses or resumes the call's recording for a set node and
// notes it in the transcript; a failure is logged, never fatal.
func (r *runner) setRecording(ctx context.Context, n *Node) {
	now := r.now()
	text := "recording " + n.Recording
	if rc, ok := r.io.(RecordingControl); !ok {
		text += " (not recorded)"
	} else if err := rc.SetRecording(ctx, n.Recording == RecordingPaused); err != nil {
		r.log.Warn("recording not "+n.Recording, "node", n.ID, "err", err)
		text += " (failed: " + err.Error() + ")"
	}
	r.turn(Turn{Who: "system", Node: n.ID, Text: text, Start: now, End: now})
}

func (r *runner) set(n *Node) error {
	maps.Copy(r.out.Tags, n.Tags)
	if n.Disposition != "" {
		r.setDisposition(n.Disposition)
	}
	if n.IntentLevel != "" {
		r.out.IntentLevel = n.IntentLevel
	}
	for _, k := range sortedKeys(n.Slots) {
		v, err := n.Slots[k].Render(r.f.Language, r.lookup)
		if err != nil {
			return fmt.Errorf("node %q: slot %q: %w", n.ID, k, err)
		}
		r.out.Slots[k] = v
	}
	return nil
}

func (r *runner) transfer(ctx context.Context, node, mode, target, summary string) error {
	now := r.now()
	r.turn(Turn{Who: "system", Node: node, Text: fmt.Sprintf("transfer %s %s", mode, target), Start: now, End: now})
	if err := r.io.Transfer(ctx, mode, target, summary); err != nil {
		return err
	}
	r.ended = true
	r.out.Transferred = true
	if r.out.Disposition == "" {
		r.out.Disposition = "transferred"
	}
	return nil
}

func (r *runner) transferNode(ctx context.Context, n *Node) (string, bool, error) {
	summary, err := n.Summary.Render(r.f.Language, r.lookup)
	if err != nil {
		r.endPolitely(ctx)
		return "", true, fmt.Errorf("node %q: summary: %w", n.ID, err)
	}
	if summary == "" && n.Mode == TransferWarm {
		summary = r.autoSummary("flow")
	}
	if err := r.transfer(ctx, n.ID, n.Mode, n.Target, summary); err != nil {
		r.log.Warn("transfer failed", "node", n.ID, "err", err)
		r.out.Tags["transfer_error"] = err.Error()
		if n.OnFail != "" {
			return n.OnFail, false, nil
		}
		r.setDisposition("transfer_failed")
		r.endPolitely(ctx)
		return "", true, fmt.Errorf("node %q: %w: %v", n.ID, ErrTransferFailed, err)
	}
	return "", true, nil
}

// autoSummary is what a warm-transfer agent hears when the flow gives no
// summary: who, why, and the caller's last words.
func (r *runner) autoSummary(reason string) string {
	last := ""
	for i := len(r.out.Transcript) - 1; i >= 0; i-- {
		if t := r.out.Transcript[i]; t.Who == "caller" && t.Text != "" {
			last = t.Text
			break
		}
	}
	name := r.profile["name"]
	if r.f.Language == LangZH {
		return fmt.Sprintf("客户%s，流程%s，转接原因%s，客户最后说：%s", name, r.f.Name, reason, last)
	}
	return fmt.Sprintf("Customer %s, flow %s, transfer reason %s, last said: %s", name, r.f.Name, reason, last)
}

// escalate transfers to the flow's escalate_to or ends politely.
func (r *runner) escalate(ctx context.Context, n *Node, action, reason string) error {
	r.out.Tags["escalation"] = reason
	if action == ActionTransfer && r.f.EscalateTo != "" {
		if err := r.say(ctx, n.ID, r.f.TransferText, false); err != nil {
			return err
		}
		r.setDisposition("transferred")
		if err := r.transfer(ctx, n.ID, r.f.EscalateMode, r.f.EscalateTo, r.autoSummary(reason)); err != nil {
			r.log.Warn("escalation transfer failed", "node", n.ID, "err", err)
			r.out.Tags["transfer_error"] = err.Error()
			r.setDisposition("transfer_failed")
			r.endPolitely(ctx)
			return fmt.Errorf("node %q: %w: %v", n.ID, ErrTransferFailed, err)
		}
		return nil
	}
	switch reason {
	case ReasonEmotion:
		r.setDisposition("negative_emotion")
	default:
		r.setDisposition("unresolved")
	}
	if err := r.say(ctx, n.ID, r.f.Goodbye, false); err != nil {
		return err
	}
	return r.hangup(ctx, n.ID)
}
