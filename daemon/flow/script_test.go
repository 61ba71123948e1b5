package flow

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files")

// scriptIO plays a scripted caller. Inputs: "text", "#digits", "" (silence).
// When the script runs out the caller hangs up (io.EOF).
type scriptIO struct {
	inputs        []string
	transferFails bool
	listens       []ListenOpts
}

func (s *scriptIO) Say(ctx context.Context, text string, interruptible bool) (bool, error) {
	return false, ctx.Err()
}

func (s *scriptIO) Listen(ctx context.Context, opts ListenOpts) (Input, error) {
	s.listens = append(s.listens, opts)
	if len(s.inputs) == 0 {
		return Input{}, io.EOF
	}
	in := s.inputs[0]
	s.inputs = s.inputs[1:]
	switch {
	case in == "":
		return Input{NoInput: true}, nil
	case strings.HasPrefix(in, "#"):
		return Input{Digits: in[1:], Confidence: 1}, nil
	}
	return Input{Text: in, Confidence: 0.9}, nil
}

func (s *scriptIO) Transfer(ctx context.Context, mode, target, summary string) error {
	if s.transferFails {
		return errors.New("agent queue unavailable")
	}
	return nil
}

func (s *scriptIO) Hangup(ctx context.Context) error { return nil }

// stepClock advances one second per reading.
func stepClock(start time.Time) func() time.Time {
	t := start
	return func() time.Time {
		t = t.Add(time.Second)
		return t
	}
}

type script struct {
	flow          string
	now           time.Time
	profile       map[string]string
	inputs        []string
	transferFails bool
}

func readScript(t *testing.T, path string) script {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	sc := script{profile: map[string]string{}, now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	s := bufio.NewScanner(fh)
	for n := 1; s.Scan(); n++ {
		line := s.Text()
		switch {
		case strings.HasPrefix(line, "//") || strings.TrimSpace(line) == "":
		case strings.HasPrefix(line, ">"):
			sc.inputs = append(sc.inputs, strings.TrimSpace(strings.TrimPrefix(line, ">")))
		case strings.HasPrefix(line, "flow:"):
			sc.flow = strings.TrimSpace(strings.TrimPrefix(line, "flow:"))
		case strings.HasPrefix(line, "now:"):
			v := strings.TrimSpace(strings.TrimPrefix(line, "now:"))
			if sc.now, err = time.Parse("2006-01-02T15:04", v); err != nil {
				t.Fatalf("%s:%d: %v", path, n, err)
			}
		case strings.HasPrefix(line, "profile:"):
			k, v, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "profile:")), "=")
			sc.profile[k] = v
		case line == "transfer_fails":
			sc.transferFails = true
		default:
			t.Fatalf("%s:%d: cannot read %q", path, n, line)
		}
	}
	if sc.flow == "" {
		t.Fatalf("%s: no flow: line", path)
	}
	return sc
}

// renderOutcome is the golden form of a conversation.
func renderOutcome(o Outcome, err error) string {
	var b strings.Builder
	for _, t := range o.Transcript {
		switch {
		case t.Who == "caller" && t.NoInput:
			fmt.Fprintf(&b, "caller [%s]: (silence)\n", t.Node)
		case t.Who == "caller":
			in := t.Text
			if t.Digits != "" {
				in = "#" + t.Digits
			}
			fmt.Fprintf(&b, "caller [%s]: %s  → intent=%q conf=%.2f emotion=%.2f\n", t.Node, in, t.Intent, t.Confidence, t.Emotion)
		default:
			fmt.Fprintf(&b, "%s [%s]: %s\n", t.Who, t.Node, t.Text)
		}
	}
	fmt.Fprintf(&b, "--- disposition=%s intent_level=%s opt_out=%v transferred=%v failed_turns=%d resume=%q\n",
		o.Disposition, o.IntentLevel, o.OptOut, o.Transferred, o.FailedTurns, o.ResumeNode)
	for _, k := range sortedKeys(o.Tags) {
		fmt.Fprintf(&b, "tag %s=%s\n", k, o.Tags[k])
	}
	for _, k := range sortedKeys(o.Slots) {
		fmt.Fprintf(&b, "slot %s=%s\n", k, o.Slots[k])
	}
	if err != nil {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	return b.String()
}

func checkGolden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// TestExampleFlows loads every file in flows/, requires each to be covered
// by at least one script, and checks every script's transcript against its
// golden file.
func TestExampleFlows(t *testing.T) {
	flowFiles, err := filepath.Glob("../../flows/*.yaml")
	if err != nil || len(flowFiles) == 0 {
		t.Fatalf("no flows found: %v", err)
	}
	loaded := map[string]*Flow{}
	for _, p := range flowFiles {
		f, err := Load(p)
		if err != nil {
			t.Fatalf("example flow does not lint:\n%v", err)
		}
		if len(f.Warnings) > 0 {
			t.Errorf("%s has warnings: %v", p, f.Warnings)
		}
		loaded[filepath.Base(p)] = f
	}
	scripts, _ := filepath.Glob("testdata/scripts/*.txt")
	covered := map[string]bool{}
	for _, sp := range scripts {
		name := strings.TrimSuffix(filepath.Base(sp), ".txt")
		t.Run(name, func(t *testing.T) {
			sc := readScript(t, sp)
			f := loaded[sc.flow]
			if f == nil {
				t.Fatalf("unknown flow %q", sc.flow)
			}
			covered[sc.flow] = true
			sio := &scriptIO{inputs: sc.inputs, transferFails: sc.transferFails}
			out, err := f.Run(context.Background(), sio, sc.profile, RunOptions{Now: stepClock(sc.now), Logger: discardLogger()})
			checkGolden(t, filepath.Join("testdata/golden", name+".golden"), renderOutcome(out, err))
			for _, tr := range out.Transcript {
				if tr.Start.IsZero() || tr.End.Before(tr.Start) {
					t.Errorf("turn %+v has bad timestamps", tr)
				}
			}
		})
	}
	names := make([]string, 0, len(loaded))
	for n := range loaded {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !covered[n] {
			t.Errorf("flow %s has no script in testdata/scripts", n)
		}
	}
}
