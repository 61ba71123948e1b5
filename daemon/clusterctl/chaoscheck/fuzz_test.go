package chaoscheck

import (
	"bytes"
	"strings"
	"testing"

	"callbox/cluster"
)

// FuzzReadFarEnd feeds arbitrary bytes to the far-end log reader and the
// checker: neither may panic, every line is either a call or malformed,
// and the checker's figures stay consistent.
func FuzzReadFarEnd(f *testing.F) {
	f.Add([]byte(`{"call_id":"a1","number":"+8613900000100","received_at":"2026-11-21T12:00:01Z","ended_at":"2026-11-21T12:00:04Z","status":200}` + "\n"))
	f.Add([]byte("not json\n\n{\"call_id\":\"a1\",\"number\":\"+86139"))
	f.Add([]byte(`{"call_id":"b1","number":"+8613900000101","received_at":"2026-11-21T12:00:01Z"}` + "\n" +
		`{"call_id":"b1","number":"+8613900000101","received_at":"2026-11-21T12:00:00Z","ended_at":"2026-11-21T12:00:09Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		calls, bad, err := ReadFarEnd(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("reader error on an in-memory log: %v", err)
		}
		lines := 0
		for _, l := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(l) != "" {
				lines++
			}
		}
		if len(calls)+len(bad) > lines {
			t.Fatalf("%d calls + %d malformed from %d non-blank lines", len(calls), len(bad), lines)
		}
		var atts []cluster.Attempt
		for i, c := range calls {
			if c.CallID == "" || c.Number == "" || c.ReceivedAt.IsZero() {
				t.Fatalf("accepted an incomplete line: %+v", c)
			}
			if i%2 == 0 {
				atts = append(atts, cluster.Attempt{ID: c.CallID, ContactID: "k", Token: uint64(i + 1), State: cluster.AttemptInterrupted, FinishedAt: c.ReceivedAt})
			}
		}
		rep := Check(Input{Contacts: []Contact{{"k", "+8613900000101"}}, Calls: calls, Malformed: bad, Attempts: atts})
		if rep.Reconciled > rep.Interrupted || rep.Duplicated > rep.Contacts || rep.Stray < len(bad) {
			t.Fatalf("inconsistent report: %s", rep.Summary())
		}
		_ = rep.Err()
	})
}
