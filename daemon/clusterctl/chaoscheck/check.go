package chaoscheck

// This file holds the checker: far-end INVITEs joined with the cluster's
// attempts, judged per contact.

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"callbox/cluster"
	"callbox/sim"
)

// Failure classes; Report.Err wraps each class that occurred, so callers
// test with errors.Is.
var (
	// ErrDuplicated: a contact was dialled more than its recorded attempts
	// allow, one attempt was dialled twice, a second INVITE reached the
	// contact while the cluster still held the claim of a call up at the
	// far end, two attempts share a fencing token, or a dial matches no
	// (or another contact's, or a not-dialled) attempt.
	ErrDuplicated = errors.New("contact dialled more than once per attempt")
	// ErrLost: a contact never reached a final state (done or dnc).
	ErrLost = errors.New("contact lost")
	// ErrUnreconciled: an interrupted or still-claimed attempt was not
	// followed by a later attempt that ended the contact final.
	ErrUnreconciled = errors.New("interrupted attempt not reconciled")
	// ErrStray: the far end got an INVITE to a number that is no contact,
	// or a far-end log line was malformed.
	ErrStray = errors.New("stray far-end record")
)

// Contact is one imported contact: its ID in the cluster and the number
// the far end sees (E.164, as the Request-URI user part).
type Contact struct {
	ID, Phone string
}

// Input is everything the checker judges.
type Input struct {
	Contacts  []Contact
	Calls     []sim.CallLog // every far end's log, merged
	Malformed []Malformed   // from ReadFarEnd
	Attempts  []cluster.Attempt
}

// ContactReport is the verdict on one contact.
type ContactReport struct {
	ContactID, Phone string
	Attempts         int    // recorded attempts
	Dialled          int    // INVITEs the far end received
	Interrupted      int    // attempts interrupted by a box failure
	Reconciled       int    // of those, followed by a final attempt
	Open             int    // attempts still claimed at the end (unreconciled)
	Final            string // outcome of the contact's final attempt (done, dnc); "" if none
	Lost             bool
	Duplicated       bool
	Problems         []string // what was found, naming attempts, calls and sources
	// Overlaps are handovers, not failures: a call back placed while the
	// far end still held the call of an attempt already closed as
	// interrupted (its box was killed or frozen mid-call).
	Overlaps []string
}

// Report is the verdict on a run.
type Report struct {
	Contacts, Attempts, Dialled           int
	Duplicated, Lost                      int // contacts
	Interrupted, Reconciled, Unreconciled int // attempts
	Stray                                 int // INVITEs to no contact, malformed lines
	Overlaps                              int // handovers (ContactReport.Overlaps), not failures
	PerContact                            []ContactReport
	Problems                              []string // not tied to a contact
}

// OK reports whether the run met the bar: nothing duplicated, lost,
// unreconciled or stray.
func (r *Report) OK() bool { return r.Err() == nil }

// Err returns nil when OK, else an error wrapping each failure class that
// occurred and listing every problem.
func (r *Report) Err() error {
	var classes []error
	if r.Duplicated > 0 {
		classes = append(classes, fmt.Errorf("%w: %d contacts", ErrDuplicated, r.Duplicated))
	}
	if r.Lost > 0 {
		classes = append(classes, fmt.Errorf("%w: %d contacts", ErrLost, r.Lost))
	}
	if r.Unreconciled > 0 {
		classes = append(classes, fmt.Errorf("%w: %d attempts", ErrUnreconciled, r.Unreconciled))
	}
	if r.Stray > 0 {
		classes = append(classes, fmt.Errorf("%w: %d", ErrStray, r.Stray))
	}
	if len(classes) == 0 {
		return nil
	}
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString("\n  " + p)
	}
	for _, c := range r.PerContact {
		for _, p := range c.Problems {
			fmt.Fprintf(&b, "\n  contact %s (%s): %s", c.ContactID, sim.MaskNumber(c.Phone), p)
		}
	}
	return fmt.Errorf("%w%s", errors.Join(classes...), b.String())
}

// Summary is one line of figures.
func (r *Report) Summary() string {
	return fmt.Sprintf("contacts %d, attempts %d, dialled %d, duplicated %d, lost %d, interrupted %d, reconciled %d, unreconciled %d, stray %d, handover overlaps %d",
		r.Contacts, r.Attempts, r.Dialled, r.Duplicated, r.Lost, r.Interrupted, r.Reconciled, r.Unreconciled, r.Stray, r.Overlaps)
}

// Check judges in. It never fails: every inconsistency is a finding.
func Check(in Input) *Report {
	rep := &Report{Contacts: len(in.Contacts), Attempts: len(in.Attempts)}
	for _, m := range in.Malformed {
		rep.Stray++
		rep.Problems = append(rep.Problems, "malformed far-end log "+m.String())
	}
	byPhone := map[string]int{} // phone -> index in PerContact
	byID := map[string]int{}    // contact ID -> index
	for _, c := range in.Contacts {
		if _, dup := byID[c.ID]; dup {
			rep.Problems = append(rep.Problems, fmt.Sprintf("contact %s listed twice in the input", c.ID))
			continue
		}
		byID[c.ID] = len(rep.PerContact)
		byPhone[c.Phone] = len(rep.PerContact)
		rep.PerContact = append(rep.PerContact, ContactReport{ContactID: c.ID, Phone: c.Phone})
	}
	atts := map[string][]cluster.Attempt{} // contact ID -> attempts
	attByID := map[string]cluster.Attempt{}
	for _, a := range in.Attempts {
		if _, ok := byID[a.ContactID]; !ok {
			rep.Problems = append(rep.Problems, fmt.Sprintf("attempt %s is for contact %s, which is not in the input", a.ID, a.ContactID))
			rep.Stray++
			continue
		}
		atts[a.ContactID] = append(atts[a.ContactID], a)
		attByID[a.ID] = a
	}
	calls := map[string][]sim.CallLog{} // contact ID -> far-end calls
	for _, c := range in.Calls {
		i, ok := byPhone[c.Number]
		if !ok {
			rep.Stray++
			rep.Problems = append(rep.Problems, fmt.Sprintf("INVITE %s from %s at %s to %s, which is no contact",
				c.CallID, c.Source, c.ReceivedAt.Format(time.RFC3339Nano), sim.MaskNumber(c.Number)))
			continue
		}
		id := rep.PerContact[i].ContactID
		calls[id] = append(calls[id], c)
	}
	for i := range rep.PerContact {
		cr := &rep.PerContact[i]
		checkContact(cr, atts[cr.ContactID], calls[cr.ContactID], attByID)
		rep.Dialled += cr.Dialled
		rep.Interrupted += cr.Interrupted
		rep.Reconciled += cr.Reconciled
		if cr.Duplicated {
			rep.Duplicated++
		}
		if cr.Lost {
			rep.Lost++
		}
		rep.Unreconciled += cr.Interrupted - cr.Reconciled + cr.Open
		rep.Overlaps += len(cr.Overlaps)
	}
	return rep
}

func callDesc(c sim.CallLog) string {
	end := "still up"
	if !c.EndedAt.IsZero() {
		end = fmt.Sprintf("ended %s (%s, %s)", c.EndedAt.Format("15:04:05.000"), c.EndReason, c.HungUpBy)
	}
	return fmt.Sprintf("INVITE %s from %s at %s, status %d, %s", c.CallID, c.Source, c.ReceivedAt.Format("15:04:05.000"), c.Status, end)
}

// checkContact judges one contact's attempts (recorded) against its calls
// (seen at the far end).
func checkContact(cr *ContactReport, atts []cluster.Attempt, calls []sim.CallLog, attByID map[string]cluster.Attempt) {
	problem := func(dup bool, format string, a ...any) {
		cr.Problems = append(cr.Problems, fmt.Sprintf(format, a...))
		if dup {
			cr.Duplicated = true
		}
	}
	slices.SortFunc(atts, func(a, b cluster.Attempt) int {
		if a.Token != b.Token {
			if a.Token < b.Token {
				return -1
			}
			return 1
		}
		return a.ClaimedAt.Compare(b.ClaimedAt)
	})
	slices.SortFunc(calls, func(a, b sim.CallLog) int { return a.ReceivedAt.Compare(b.ReceivedAt) })
	cr.Attempts, cr.Dialled = len(atts), len(calls)

	// Fencing: tokens strictly increase per contact.
	for i := 1; i < len(atts); i++ {
		if atts[i].Token == atts[i-1].Token {
			problem(true, "attempts %s and %s share fencing token %d", atts[i-1].ID, atts[i].ID, atts[i].Token)
		}
	}
	// Every INVITE belongs to one recorded, dialled attempt of this contact.
	perAttempt := map[string]int{}
	for _, c := range calls {
		perAttempt[c.CallID]++
		a, ok := attByID[c.CallID]
		switch {
		case !ok:
			problem(true, "%s matches no recorded attempt", callDesc(c))
		case a.ContactID != cr.ContactID:
			problem(true, "%s carries attempt %s of contact %s", callDesc(c), a.ID, a.ContactID)
		case a.Disposition == "not-dialled" || a.Outcome == cluster.OutcomeRelease:
			problem(true, "%s reached the far end but attempt %s is recorded %s/%s (not offered to the network)", callDesc(c), a.ID, a.Disposition, a.Outcome)
		}
	}
	for _, a := range atts {
		if n := perAttempt[a.ID]; n > 1 {
			problem(true, "attempt %s (box %s, token %d) dialled %d times", a.ID, a.Box, a.Token, n)
		}
	}
	if len(calls) > len(atts) {
		problem(true, "dialled %d times for %d recorded attempts", len(calls), len(atts))
	}
	// No two INVITEs to one contact up at once while the cluster still
	// held the earlier one's claim (an open call lasts forever). An overlap
	// after the earlier attempt was closed as interrupted is a handover: the
	// earlier box died or froze mid-call, the far end had no BYE, and the
	// contact was rightly called back; it is reported, not failed.
	for i, a := range calls {
		for _, b := range calls[i+1:] {
			if !a.EndedAt.IsZero() && !b.ReceivedAt.Before(a.EndedAt) {
				continue
			}
			att, ok := attByID[a.CallID]
			if ok && att.State == cluster.AttemptInterrupted && !att.FinishedAt.After(b.ReceivedAt) {
				held := "until the end of the log"
				if !a.EndedAt.IsZero() {
					held = fmt.Sprintf("%v longer, ended by the %s", a.EndedAt.Sub(b.ReceivedAt).Round(time.Millisecond), a.HungUpBy)
				}
				cr.Overlaps = append(cr.Overlaps, fmt.Sprintf("%s after %s was interrupted at %s; the old call lasted %s",
					callDesc(b), callDesc(a), att.FinishedAt.Format("15:04:05.000"), held))
				continue
			}
			problem(true, "concurrent calls: %s while the far end still held %s, whose attempt was not closed as interrupted before", callDesc(b), callDesc(a))
		}
	}

	// Final state: the last claim (highest token) finished done or dnc.
	finalTok := uint64(0)
	if n := len(atts); n > 0 {
		last := atts[n-1]
		switch {
		case last.State == cluster.AttemptFinished && (last.Outcome == cluster.OutcomeDone || last.Outcome == cluster.OutcomeDNC):
			cr.Final, finalTok = last.Outcome, last.Token
		case last.State == cluster.AttemptInterrupted && last.Outcome == cluster.OutcomeDone:
			// cut off on the campaign's last allowed attempt: the
			// interruption itself ends the contact
			cr.Final, finalTok = last.Outcome, last.Token+1
		}
	}
	if cr.Final == "" {
		cr.Lost = true
		switch {
		case len(atts) == 0:
			problem(false, "lost: no attempt recorded and %d far-end calls", len(calls))
		default:
			last := atts[len(atts)-1]
			problem(false, "lost: last attempt %s (box %s, token %d) is %s with outcome %q", last.ID, last.Box, last.Token, last.State, last.Outcome)
		}
	}
	for _, a := range atts {
		switch a.State {
		case cluster.AttemptInterrupted:
			cr.Interrupted++
			if finalTok > a.Token {
				cr.Reconciled++
			} else {
				problem(false, "interrupted attempt %s (box %s, token %d) not followed by a final attempt", a.ID, a.Box, a.Token)
			}
		case cluster.AttemptClaimed:
			cr.Open++
			problem(false, "attempt %s (box %s, token %d) still claimed at the end", a.ID, a.Box, a.Token)
		}
	}
}
