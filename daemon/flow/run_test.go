package flow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// recIO records every call; inputs are scripted like scriptIO.
type recIO struct {
	scriptIO
	says      []string
	interrupt []bool
	hangups   int
	transfers []string
	cancel    func() // called at the first Listen when set
}

func (r *recIO) Say(ctx context.Context, text string, interruptible bool) (bool, error) {
	r.says = append(r.says, text)
	r.interrupt = append(r.interrupt, interruptible)
	return false, ctx.Err()
}

func (r *recIO) Listen(ctx context.Context, opts ListenOpts) (Input, error) {
	if r.cancel != nil {
		r.cancel()
		return Input{}, ctx.Err()
	}
	return r.scriptIO.Listen(ctx, opts)
}

func (r *recIO) Transfer(ctx context.Context, mode, target, summary string) error {
	r.transfers = append(r.transfers, mode+" "+target+" | "+summary)
	return r.scriptIO.Transfer(ctx, mode, target, summary)
}

func (r *recIO) Hangup(context.Context) error { r.hangups++; return nil }

func mustParse(t *testing.T, src string) *Flow {
	t.Helper()
	f, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

const menuFlow = `version: 1
name: menu
language: zh
org: 示例银行
escalate_to: sip:agent@127.0.0.1
on_max_failed: transfer
max_failed_turns: 2
start: m
nodes:
  m:
    type: menu
    prompt: "{{name}}您好，查询请按一，人工请按二"
    timeout: 8s
    choices: {"1": q, "2": h}
    save_as: key
  q:
    type: ask
    prompt: 请说您的问题
    end_silence_ms: 800
    next: h
    save_as: question
  h:
    type: hangup
    text: 再见
`

func TestRunDisclosureFirstAndListenOpts(t *testing.T) {
	f := mustParse(t, menuFlow)
	io := &recIO{scriptIO: scriptIO{inputs: []string{"二"}}}
	out, err := f.Run(context.Background(), io, map[string]string{"name": "张三", "phone": "13812345678"}, RunOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if io.says[0] != "您好，这是示例银行的智能语音助手来电。" || io.interrupt[0] {
		t.Errorf("disclosure must come first and not be interruptible: %q %v", io.says[0], io.interrupt[0])
	}
	if !io.interrupt[1] {
		t.Error("menu prompt should allow barge-in")
	}
	if out.Slots["key"] != "2" || io.hangups != 1 {
		t.Errorf("spoken digit: slots %v hangups %d", out.Slots, io.hangups)
	}
	l := io.listens[0]
	if l.Mode != ListenDTMF || l.Timeout != 8*time.Second || l.MaxDigits != 1 || l.Lang != LangZH {
		t.Errorf("listen opts %+v", l)
	}
}

func TestRunOptOutFromMenu(t *testing.T) {
	f := mustParse(t, menuFlow)
	io := &recIO{scriptIO: scriptIO{inputs: []string{"别再打了"}}}
	out, err := f.Run(context.Background(), io, map[string]string{"name": "张三"}, RunOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if !out.OptOut || out.Disposition != "opt_out" || io.hangups != 1 || out.ResumeNode != "" {
		t.Errorf("opt-out outcome %+v hangups %d", out, io.hangups)
	}
	if last := io.says[len(io.says)-1]; !strings.Contains(last, "不会再给您打电话") {
		t.Errorf("goodbye = %q", last)
	}
}

func TestRunMaxFailedTransfers(t *testing.T) {
	f := mustParse(t, menuFlow)
	io := &recIO{scriptIO: scriptIO{inputs: []string{"", "#7"}}}
	out, err := f.Run(context.Background(), io, map[string]string{"name": "张三"}, RunOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Transferred || out.FailedTurns != 2 || len(io.transfers) != 1 || !strings.HasPrefix(io.transfers[0], "blind sip:agent@127.0.0.1") {
		t.Errorf("outcome %+v transfers %v", out, io.transfers)
	}
}

func TestRunMissingProfileField(t *testing.T) {
	f := mustParse(t, menuFlow)
	io := &recIO{}
	_, err := f.Run(context.Background(), io, map[string]string{}, RunOptions{Logger: discardLogger()})
	if !errors.Is(err, ErrMissingField) || !strings.Contains(err.Error(), `"name"`) {
		t.Fatalf("err = %v", err)
	}
	if len(io.says) != 0 {
		t.Errorf("nothing should be said before the profile is checked: %v", io.says)
	}
}

func TestRunCancelledKeepsResumeNode(t *testing.T) {
	f := mustParse(t, menuFlow)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	io := &recIO{cancel: cancel}
	out, err := f.Run(ctx, io, map[string]string{"name": "张三"}, RunOptions{Logger: discardLogger()})
	if !errors.Is(err, context.Canceled) || out.ResumeNode != "m" {
		t.Fatalf("err %v resume %q", err, out.ResumeNode)
	}
	if len(out.Transcript) != 2 {
		t.Errorf("transcript kept: %+v", out.Transcript)
	}
}

type fakeNLU struct {
	it    Intent
	err   error
	calls int
}

func (f *fakeNLU) Classify(ctx context.Context, text, lang string, expected []string) (Intent, error) {
	f.calls++
	return f.it, f.err
}

const yesNoFlow = `version: 1
name: yn
language: en
org: Bank
start: a
nodes:
  a:
    type: ask
    prompt: Shall we?
    retries: 0
    on: {yes: y, no: n}
    default: n
  y: {type: hangup, text: yes path}
  n: {type: hangup, text: no path}
`

func TestRunNLUFallback(t *testing.T) {
	f := mustParse(t, yesNoFlow)
	nlu := &fakeNLU{it: Intent{Name: "yes", Confidence: 0.9}}
	io := &recIO{scriptIO: scriptIO{inputs: []string{"absolutely, go ahead"}}}
	out, err := f.Run(context.Background(), io, nil, RunOptions{NLU: nlu, Logger: discardLogger()})
	if err != nil || nlu.calls != 1 || io.says[len(io.says)-1] != "yes path" {
		t.Fatalf("err %v calls %d says %v", err, nlu.calls, io.says)
	}
	if out.Transcript[2].Intent != "yes" {
		t.Errorf("transcript intent: %+v", out.Transcript[2])
	}
	// A matched built-in never reaches the NLU; a failing NLU falls back.
	nlu = &fakeNLU{err: errors.New("down")}
	io = &recIO{scriptIO: scriptIO{inputs: []string{"mumble"}}}
	if _, err := f.Run(context.Background(), io, nil, RunOptions{NLU: nlu, Logger: discardLogger()}); err != nil {
		t.Fatal(err)
	}
	if io.says[len(io.says)-1] != "no path" {
		t.Errorf("NLU failure should lead to default: %v", io.says)
	}
	nlu = &fakeNLU{it: Intent{Name: "invented", Confidence: 1}}
	io = &recIO{scriptIO: scriptIO{inputs: []string{"yes"}}}
	f.Run(context.Background(), io, nil, RunOptions{NLU: nlu, Logger: discardLogger()})
	if nlu.calls != 0 {
		t.Error("NLU consulted although the matcher was confident")
	}
}

func TestRunBranchClockAndErrors(t *testing.T) {
	src := `version: 1
name: b
language: en
org: Bank
start: br
nodes:
  br:
    type: branch
    cases:
      - when: "days > 7"
        next: late
      - when: "hour < 12 && weekday == 6"
        next: sat_morning
    default: other
  late: {type: hangup, text: late}
  sat_morning: {type: hangup, text: saturday morning}
  other: {type: hangup, text: other}
`
	f := mustParse(t, src)
	sat := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	run := func(profile map[string]string, now time.Time) (string, Outcome) {
		io := &recIO{}
		out, err := f.Run(context.Background(), io, profile, RunOptions{Now: func() time.Time { return now }, Logger: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		return io.says[len(io.says)-1], out
	}
	if got, _ := run(map[string]string{"days": "9"}, sat); got != "late" {
		t.Errorf("got %q", got)
	}
	if got, _ := run(map[string]string{"days": "1"}, sat); got != "saturday morning" {
		t.Errorf("got %q", got)
	}
	if got, _ := run(map[string]string{"days": "1"}, sat.Add(5*time.Hour)); got != "other" {
		t.Errorf("got %q", got)
	}
	got, out := run(map[string]string{"days": "n/a"}, sat.Add(5*time.Hour))
	if got != "other" || !strings.Contains(out.Tags["branch_error"], "br case 1") {
		t.Errorf("bad data should reach default with a tag: %q %v", got, out.Tags)
	}
	for _, tr := range out.Transcript {
		if !tr.Start.Equal(sat.Add(5 * time.Hour)) {
			t.Errorf("transcript time %v not from Now", tr.Start)
		}
	}
}

func TestRunTransferFailure(t *testing.T) {
	src := `version: 1
name: t
language: en
org: Bank
start: x
nodes:
  x:
    type: transfer
    mode: warm
    target: queue:agents
`
	f := mustParse(t, src)
	io := &recIO{scriptIO: scriptIO{transferFails: true}}
	out, err := f.Run(context.Background(), io, map[string]string{"name": "Ann"}, RunOptions{Logger: discardLogger()})
	if !errors.Is(err, ErrTransferFailed) || out.Transferred || io.hangups != 1 || out.Disposition != "transfer_failed" {
		t.Fatalf("err %v out %+v hangups %d", err, out, io.hangups)
	}
	if !strings.Contains(io.transfers[0], "Customer Ann") {
		t.Errorf("warm transfer without summary gets a generated one: %q", io.transfers[0])
	}
}

func TestRunStepLimit(t *testing.T) {
	f := mustParse(t, `version: 1
name: s
language: en
org: Bank
start: a
nodes:
  a: {type: say, text: one, next: b}
  b: {type: say, text: two, next: c}
  c: {type: hangup}
`)
	io := &recIO{}
	_, err := f.Run(context.Background(), io, nil, RunOptions{MaxSteps: 2, Logger: discardLogger()})
	if !errors.Is(err, ErrStepLimit) || io.hangups != 1 {
		t.Fatalf("err %v hangups %d", err, io.hangups)
	}
}

func TestRunHumanRoute(t *testing.T) {
	f := mustParse(t, `version: 1
name: h
language: zh
org: 银行
start: a
nodes:
  a:
    type: ask
    prompt: 请问？
    expect: [yes]
    on: {yes: b, human: c}
  b: {type: hangup, text: b}
  c: {type: hangup, text: c}
`)
	io := &recIO{scriptIO: scriptIO{inputs: []string{"帮我转人工"}}}
	if _, err := f.Run(context.Background(), io, nil, RunOptions{Logger: discardLogger()}); err != nil {
		t.Fatal(err)
	}
	if io.says[len(io.says)-1] != "c" {
		t.Errorf("human route: %v", io.says)
	}
}

func TestRunConcurrent(t *testing.T) {
	f, err := Load("../../flows/survey-satisfaction.zh.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			io := &recIO{scriptIO: scriptIO{inputs: []string{"好的", fmt.Sprintf("#%d", i%5+1), "太慢了"}}}
			out, err := f.Run(context.Background(), io, map[string]string{"name": "周", "service": "开户"}, RunOptions{Logger: discardLogger()})
			if err == nil && out.Slots["score"] != fmt.Sprint(i%5+1) {
				err = fmt.Errorf("run %d: score %q", i, out.Slots["score"])
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	for in, want := range map[string]string{"13812345678": "138****5678", "+8613812345678": "+86*******5678", "1234": "****", "": ""} {
		if got := MaskPhone(in); got != want {
			t.Errorf("MaskPhone(%q) = %q; want %q", in, got, want)
		}
	}
}

// A complaint the flow declares no intent for still reaches the emotion
// score: grammar-constrained engines can return it because every grammar
// includes the built-in complaint phrases, and the flow escalates.
func TestRunComplaintWithoutIntentEscalates(t *testing.T) {
	f := mustParse(t, `version: 1
name: remind
language: en
org: Example Bank
escalate_to: sip:agent@127.0.0.1
emotion_threshold: -0.5
on_emotion: transfer
start: ask
nodes:
  ask:
    type: ask
    prompt: Can you make it tomorrow?
    expect: [yes, no]
    on: {yes: bye, no: bye}
  bye:
    type: hangup
    text: Goodbye.
`)
	phrases := f.Matcher().Phrases([]string{"yes", "no"})
	if !strings.Contains(strings.Join(phrases, "|"), "why do you keep calling me") {
		t.Fatalf("grammar phrases lack the built-in complaints: %q", phrases)
	}
	io := &recIO{scriptIO: scriptIO{inputs: []string{"why do you keep calling me"}}}
	out, err := f.Run(context.Background(), io, nil, RunOptions{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Transferred || len(io.transfers) != 1 || len(out.EmotionScores) == 0 || out.EmotionScores[0] >= -0.5 {
		t.Errorf("outcome %+v transfers %v; want an emotion transfer", out, io.transfers)
	}
}
