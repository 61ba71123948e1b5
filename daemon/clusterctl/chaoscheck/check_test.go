package chaoscheck

import (
	"errors"
	"strings"
	"testing"
	"time"

	"callbox/cluster"
	"callbox/sim"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// run is a crafted scenario: two contacts, attempts and far-end calls.
type run struct {
	atts  []cluster.Attempt
	calls []sim.CallLog
}

func (r *run) attempt(id, contact, box string, tok uint64, state cluster.AttemptState, outcome string, claimed, finished float64) {
	a := cluster.Attempt{ID: id, CampaignID: "c", ContactID: contact, Box: box, Token: tok, State: state,
		Outcome: outcome, ClaimedAt: at(claimed), Disposition: "answered"}
	if state != cluster.AttemptClaimed {
		a.FinishedAt = at(finished)
	}
	if state == cluster.AttemptInterrupted {
		a.Disposition = "interrupted"
	}
	r.atts = append(r.atts, a)
}

func (r *run) call(id, phone, src string, recv, end float64, by string) {
	c := sim.CallLog{CallID: id, Number: phone, Source: src, ReceivedAt: at(recv), Status: 200, HungUpBy: by}
	if end > 0 {
		c.EndedAt = at(end)
	}
	r.calls = append(r.calls, c)
}

var contacts = []Contact{{"ka", "+8613900000100"}, {"kb", "+8613900000101"}}

// clean: ka done first time; kb interrupted (box1 killed mid-call), called
// back by box2 after the interruption while the far end still held the
// dead call (a handover overlap), done.
func clean() *run {
	r := &run{}
	r.attempt("a1", "ka", "box0", 1, cluster.AttemptFinished, cluster.OutcomeDone, 1, 4)
	r.call("a1", "+8613900000100", "10.0.0.10:5060", 1.1, 4, sim.ByCaller)
	r.attempt("b1", "kb", "box1", 1, cluster.AttemptInterrupted, cluster.OutcomeCallback, 1, 3)
	r.call("b1", "+8613900000101", "10.0.0.11:5060", 1.1, 10, sim.ByCallee) // max-duration at the far end
	r.attempt("b2", "kb", "box2", 2, cluster.AttemptFinished, cluster.OutcomeDone, 3.5, 7)
	r.call("b2", "+8613900000101", "10.0.0.12:5060", 3.6, 7, sim.ByCaller)
	return r
}

func check(r *run) *Report {
	return Check(Input{Contacts: contacts, Attempts: r.atts, Calls: r.calls})
}

func TestCleanRunPasses(t *testing.T) {
	rep := check(clean())
	if err := rep.Err(); err != nil {
		t.Fatalf("clean run: %v", err)
	}
	if rep.Contacts != 2 || rep.Dialled != 3 || rep.Interrupted != 1 || rep.Reconciled != 1 || rep.Overlaps != 1 {
		t.Errorf("figures: %s", rep.Summary())
	}
	if kb := rep.PerContact[1]; kb.Final != cluster.OutcomeDone || kb.Attempts != 2 || len(kb.Overlaps) != 1 {
		t.Errorf("kb: %+v", kb)
	}
}

// A call cut off on the campaign's last allowed attempt ends the contact:
// the FSM closes that attempt interrupted with outcome done, which is final.
func TestInterruptedAtCapIsFinal(t *testing.T) {
	r := clean()
	r.atts, r.calls = r.atts[:2], r.calls[:2]
	r.atts[1].Outcome = cluster.OutcomeDone
	rep := check(r)
	if err := rep.Err(); err != nil {
		t.Fatalf("interrupted at the cap: %v", err)
	}
	if kb := rep.PerContact[1]; kb.Final != cluster.OutcomeDone || kb.Interrupted != 1 || kb.Reconciled != 1 {
		t.Errorf("kb: %+v", kb)
	}
}

// TestEachFailureClassIsDetected breaks the clean run one way at a time;
// each must fail with its class and name the contact.
func TestEachFailureClassIsDetected(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(r *run)
		class   error
		contact string // "" for run-level problems
		says    string
	}{
		{"attempt dialled twice", func(r *run) {
			r.call("a1", "+8613900000100", "10.0.0.10:5060", 5, 6, sim.ByCaller)
		}, ErrDuplicated, "ka", "dialled 2 times"},
		{"more INVITEs than attempts", func(r *run) {
			r.call("zz", "+8613900000100", "10.0.0.11:5060", 5, 6, sim.ByCaller)
		}, ErrDuplicated, "ka", "matches no recorded attempt"},
		{"concurrent while claimed", func(r *run) {
			// b1 interrupted only at 3 s, but b2's INVITE arrived at 2 s.
			r.atts[2].ClaimedAt, r.calls[2].ReceivedAt = at(1.5), at(2)
		}, ErrDuplicated, "kb", "concurrent calls"},
		{"zombie box keeps its call past a new one on a finished attempt", func(r *run) {
			r.atts[1].State, r.atts[1].Outcome = cluster.AttemptFinished, cluster.OutcomeRetry
		}, ErrDuplicated, "kb", "not closed as interrupted"},
		{"dial of another contact's attempt", func(r *run) {
			r.call("b2", "+8613900000100", "10.0.0.12:5060", 8, 9, sim.ByCaller)
		}, ErrDuplicated, "ka", "carries attempt b2 of contact kb"},
		{"not-dialled attempt reached the far end", func(r *run) {
			r.atts[0].Disposition = "not-dialled"
		}, ErrDuplicated, "ka", "not offered to the network"},
		{"shared fencing token", func(r *run) {
			r.atts[2].Token = 1
		}, ErrDuplicated, "kb", "share fencing token"},
		{"lost: never dialled, no attempt", func(r *run) {
			r.atts, r.calls = r.atts[1:], r.calls[1:]
		}, ErrLost, "ka", "no attempt recorded"},
		{"lost: last attempt retry", func(r *run) {
			r.atts[0].Outcome = cluster.OutcomeRetry
		}, ErrLost, "ka", "outcome \"retry\""},
		{"interrupted not reconciled", func(r *run) {
			r.atts, r.calls = r.atts[:2], r.calls[:2]
			r.atts[1].Outcome = cluster.OutcomeCallback // cut off, callback never made
		}, ErrUnreconciled, "kb", "not followed by a final attempt"},
		{"attempt left claimed", func(r *run) {
			r.attempt("a2", "ka", "box1", 2, cluster.AttemptClaimed, "", 9, 0)
		}, ErrUnreconciled, "ka", "still claimed at the end"},
		{"INVITE to no contact", func(r *run) {
			r.call("q1", "+8613900000999", "10.0.0.10:5060", 5, 6, sim.ByCaller)
		}, ErrStray, "", "which is no contact"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := clean()
			tc.mutate(r)
			rep := check(r)
			err := rep.Err()
			if !errors.Is(err, tc.class) {
				t.Fatalf("err %v, want class %v (%s)", err, tc.class, rep.Summary())
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error does not say %q:\n%v", tc.says, err)
			}
			if tc.contact == "" {
				return
			}
			for _, c := range rep.PerContact {
				if c.ContactID != tc.contact {
					continue
				}
				if len(c.Problems) == 0 {
					t.Errorf("contact %s has no problem: %+v", tc.contact, c)
				}
				switch tc.class {
				case ErrDuplicated:
					if !c.Duplicated || rep.Duplicated == 0 {
						t.Errorf("contact %s not counted duplicated: %s", tc.contact, rep.Summary())
					}
				case ErrLost:
					if !c.Lost || rep.Lost == 0 {
						t.Errorf("contact %s not counted lost: %s", tc.contact, rep.Summary())
					}
				case ErrUnreconciled:
					if rep.Unreconciled == 0 {
						t.Errorf("not counted unreconciled: %s", rep.Summary())
					}
				}
			}
		})
	}
}

func TestMalformedFarEndLinesAreStray(t *testing.T) {
	in := strings.Join([]string{
		`{"call_id":"a1","number":"+8613900000100","received_at":"2026-11-21T12:00:01Z","ended_at":"2026-11-21T12:00:04Z","status":200}`,
		``,
		`not json`,
		`{"call_id":"","number":"+8613900000100","received_at":"2026-11-21T12:00:01Z"}`,
		`{"call_id":"x","number":"+1","received_at":"2026-11-21T12:00:05Z","ended_at":"2026-11-21T12:00:04Z"}`,
		`{"call_id":"a1","number":"+86139`, // truncated by a killed writer
	}, "\n")
	calls, bad, err := ReadFarEnd(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) != 1 || calls[0].CallID != "a1" || !calls[0].EndedAt.Equal(at(4)) {
		t.Errorf("calls %+v", calls)
	}
	wantLines := []int{3, 4, 5, 6}
	if len(bad) != len(wantLines) {
		t.Fatalf("malformed %v, want lines %v", bad, wantLines)
	}
	for i, m := range bad {
		if m.Line != wantLines[i] {
			t.Errorf("malformed[%d] = %v, want line %d", i, m, wantLines[i])
		}
	}
	r := clean()
	rep := Check(Input{Contacts: contacts, Attempts: r.atts, Calls: r.calls, Malformed: bad})
	if !errors.Is(rep.Err(), ErrStray) || rep.Stray != 4 {
		t.Errorf("malformed lines not reported: %v", rep.Err())
	}
}

func TestOverlongLineIsMalformedNotFatal(t *testing.T) {
	long := `{"call_id":"` + strings.Repeat("x", MaxLineBytes) + `"}`
	in := long + "\n" + `{"call_id":"a1","number":"+1","received_at":"2026-11-21T12:00:01Z"}` + "\n"
	calls, bad, err := ReadFarEnd(strings.NewReader(in))
	if err != nil || len(calls) != 1 || len(bad) != 1 || bad[0].Line != 1 || !strings.Contains(bad[0].Reason, "longer") {
		t.Fatalf("calls %d bad %v err %v", len(calls), bad, err)
	}
}
