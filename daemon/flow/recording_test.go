package flow

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// recordedIO is a scriptIO whose call is recorded.
type recordedIO struct {
	scriptIO
	states []bool
	fail   error
}

func (r *recordedIO) SetRecording(_ context.Context, paused bool) error {
	r.states = append(r.states, paused)
	return r.fail
}

const recordingFlow = `version: 1
name: rec
language: en
org: Bank
start: ask
nodes:
  ask:
    type: menu
    prompt: Press 1 to give your card number.
    choices: {"1": pause}
  pause: {type: set, recording: paused, next: card}
  card:
    type: ask
    prompt: Please say your card number.
    next: resume
    save_as: card
  resume: {type: set, recording: resumed, disposition: converted, next: bye}
  bye: {type: hangup, text: Thank you.}
`

// TestSetRecordingPausesAndResumes: set nodes with recording: paused and
// resumed drive the IO's RecordingControl in order and leave system turns
// in the transcript; an IO without it, or one that fails, does not stop
// the dialogue.
func TestSetRecordingPausesAndResumes(t *testing.T) {
	f, err := Parse("rec.yaml", []byte(recordingFlow))
	if err != nil {
		t.Fatal(err)
	}
	run := func(io IO) (Outcome, []string) {
		out, err := f.Run(context.Background(), io, map[string]string{}, RunOptions{Now: stepClock(time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)), Logger: discardLogger()})
		if err != nil {
			t.Fatal(err)
		}
		var sys []string
		for _, tr := range out.Transcript {
			if tr.Who == "system" && strings.HasPrefix(tr.Text, "recording") {
				sys = append(sys, tr.Node+": "+tr.Text)
			}
		}
		return out, sys
	}
	rio := &recordedIO{scriptIO: scriptIO{inputs: []string{"#1", "four one one one"}}}
	out, sys := run(rio)
	if len(rio.states) != 2 || !rio.states[0] || rio.states[1] || out.Disposition != "converted" {
		t.Fatalf("states %v disposition %q", rio.states, out.Disposition)
	}
	if got := strings.Join(sys, "; "); got != "pause: recording paused; resume: recording resumed" {
		t.Errorf("system turns: %s", got)
	}
	_, sys = run(&scriptIO{inputs: []string{"#1", "four one one one"}})
	if got := strings.Join(sys, "; "); got != "pause: recording paused (not recorded); resume: recording resumed (not recorded)" {
		t.Errorf("without RecordingControl: %s", got)
	}
	fio := &recordedIO{scriptIO: scriptIO{inputs: []string{"#1", "four one one one"}}, fail: errors.New("no recorder")}
	out, sys = run(fio)
	if out.Disposition != "converted" || len(sys) != 2 || !strings.Contains(sys[0], "failed: no recorder") {
		t.Errorf("failing RecordingControl: %q %v", out.Disposition, sys)
	}
}
