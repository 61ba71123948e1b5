package cluster

import (
	"fmt"
	"time"
)

// RTPSummary is the media quality summary of one call.
type RTPSummary struct {
	PacketsSent, PacketsReceived, PacketsLost int64
	LossFraction                              float64
	JitterMs                                  float64
	RemoteLossFraction, RemoteJitterMs        float64
}

// CallRecord is one call as the daemon saw it. The daemon writes it when a
// call starts and again when it ends (upsert by ID).
type CallRecord struct {
	ID, SIPCallID, Box, Trunk, Number, Direction, CallerID string
	CampaignID, ContactID, AttemptID                       string

	InviteAt, RingAt, EarlyMediaAt, AnswerAt, EndAt time.Time

	Disposition string
	SIPCode     int
	SIPReason   string
	HangupBy    string // "box" | "callee" | ""

	DTMF   string
	Codec  string
	Prompt string

	RTP RTPSummary

	RecordingPath, RecordingBox string
	// RecordingPauses are the intervals the recording held silence on both
	// channels (an operator or the flow paused it while the caller read
	// out card data).
	RecordingPauses []RecordingPause `json:",omitempty"`

	Error string
	Tags  map[string]string

	// Campaign calls: the A/B variant, the answering-machine verdict
	// (human, machine, notsure; empty when AMD did not run) and how long
	// after answer it came, and the flow's outcome and intent level.
	Variant       string `json:",omitempty"`
	AMD           string `json:",omitempty"`
	AMDDecisionMs int64  `json:",omitempty"`
	AMDBeep       bool   `json:",omitempty"`
	Outcome       string `json:",omitempty"`
	Intent        string `json:",omitempty"`

	// Flow is the dialogue flow the call ran ("" for a single prompt);
	// Dialogue and Transcript are what it produced in full (Outcome and
	// Intent above repeat its disposition and intent level). Records
	// written before these fields existed decode with them empty.
	Flow       string           `json:",omitempty"`
	Dialogue   *FlowOutcome     `json:",omitempty"`
	Transcript []TranscriptTurn `json:",omitempty"`
}

// RecordingPause is one interval of a recording replaced by silence.
// OffsetMs and EndOffsetMs place it in the recording's timeline (media
// ticks since the recording started), Start and End in wall-clock time;
// an End that is zero means the call ended paused.
type RecordingPause struct {
	Start       time.Time
	End         time.Time `json:",omitzero"`
	OffsetMs    int64
	EndOffsetMs int64  `json:",omitempty"`
	By          string `json:",omitempty"` // "flow" or the operator's name
}

// MaxRecordingPauses bounds a record's pause list.
const MaxRecordingPauses = 200

// FlowOutcome is what a call's dialogue decided.
type FlowOutcome struct {
	Disposition   string // converted, refused, callback_requested, transferred, opt_out…
	IntentLevel   string
	Tags          map[string]string `json:",omitempty"`
	Slots         map[string]string `json:",omitempty"`
	OptOut        bool              `json:",omitempty"`
	Transferred   bool              `json:",omitempty"`
	EmotionScores []float64         `json:",omitempty"`
	FailedTurns   int               `json:",omitempty"`
	ResumeNode    string            `json:",omitempty"` // where a cut-off call stopped
}

// TranscriptTurn is one entry of a call's transcript.
type TranscriptTurn struct {
	Who        string // bot, caller or system
	Node       string
	Text       string  `json:",omitempty"`
	Digits     string  `json:",omitempty"`
	Intent     string  `json:",omitempty"`
	Confidence float64 `json:",omitempty"`
	Emotion    float64 `json:",omitempty"`
	BargedIn   bool    `json:",omitempty"`
	NoInput    bool    `json:",omitempty"`
	Start, End time.Time
}

// MaxTranscriptTurns bounds a call record's transcript.
const MaxTranscriptTurns = 2000

// PutCallRecord creates or replaces the call record with Record.ID.
type PutCallRecord struct{ Record CallRecord }

// Type implements Command.
func (PutCallRecord) Type() CommandType { return TypePutCallRecord }

// Validate implements Command.
func (c PutCallRecord) Validate() error {
	r := &c.Record
	if err := checkID("Record.ID", r.ID); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{
		{"Record.Box", r.Box}, {"Record.Trunk", r.Trunk}, {"Record.CampaignID", r.CampaignID},
		{"Record.ContactID", r.ContactID}, {"Record.AttemptID", r.AttemptID}, {"Record.RecordingBox", r.RecordingBox},
	} {
		if err := checkOptID(f.name, f.v); err != nil {
			return err
		}
	}
	for _, f := range []struct{ name, v string }{
		{"Record.SIPCallID", r.SIPCallID}, {"Record.Number", r.Number}, {"Record.Direction", r.Direction},
		{"Record.CallerID", r.CallerID}, {"Record.Disposition", r.Disposition}, {"Record.SIPReason", r.SIPReason},
		{"Record.DTMF", r.DTMF}, {"Record.Codec", r.Codec}, {"Record.Prompt", r.Prompt},
		{"Record.RecordingPath", r.RecordingPath}, {"Record.Error", r.Error},
		{"Record.Variant", r.Variant}, {"Record.AMD", r.AMD}, {"Record.Outcome", r.Outcome}, {"Record.Intent", r.Intent},
	} {
		if err := checkText(f.name, f.v); err != nil {
			return err
		}
	}
	switch r.HangupBy {
	case "", "box", "callee":
	default:
		return invalid("Record.HangupBy %q: want \"box\", \"callee\" or empty", r.HangupBy)
	}
	switch r.Direction {
	case "", "outbound", "inbound":
	default:
		return invalid("Record.Direction %q: want \"outbound\", \"inbound\" or empty", r.Direction)
	}
	if r.SIPCode != 0 && (r.SIPCode < 100 || r.SIPCode > 699) {
		return invalid("Record.SIPCode %d is not a SIP status code", r.SIPCode)
	}
	for _, f := range []struct {
		name string
		t    time.Time
	}{{"Record.InviteAt", r.InviteAt}, {"Record.RingAt", r.RingAt}, {"Record.EarlyMediaAt", r.EarlyMediaAt},
		{"Record.AnswerAt", r.AnswerAt}, {"Record.EndAt", r.EndAt}} {
		if err := checkTime(f.name, f.t); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"Record.RTP.LossFraction", r.RTP.LossFraction}, {"Record.RTP.JitterMs", r.RTP.JitterMs},
		{"Record.RTP.RemoteLossFraction", r.RTP.RemoteLossFraction}, {"Record.RTP.RemoteJitterMs", r.RTP.RemoteJitterMs}} {
		if err := checkFinite(f.name, f.v); err != nil {
			return err
		}
	}
	if err := checkMap("Record.Tags", r.Tags); err != nil {
		return err
	}
	if err := checkPauses(r.RecordingPauses); err != nil {
		return err
	}
	return checkDialogue(r)
}

// checkPauses validates a record's recording pauses.
func checkPauses(ps []RecordingPause) error {
	if len(ps) > MaxRecordingPauses {
		return invalid("Record.RecordingPauses has %d entries, limit %d", len(ps), MaxRecordingPauses)
	}
	for i, p := range ps {
		name := fmt.Sprintf("Record.RecordingPauses[%d]", i)
		if err := checkReqTime(name+".Start", p.Start); err != nil {
			return err
		}
		if err := checkTime(name+".End", p.End); err != nil {
			return err
		}
		if !p.End.IsZero() && p.End.Before(p.Start) {
			return invalid("%s.End is before its Start", name)
		}
		if p.OffsetMs < 0 || p.EndOffsetMs < 0 || (p.EndOffsetMs != 0 && p.EndOffsetMs < p.OffsetMs) {
			return invalid("%s offsets %d..%d ms are not an interval", name, p.OffsetMs, p.EndOffsetMs)
		}
		if err := checkText(name+".By", p.By); err != nil {
			return err
		}
	}
	return nil
}

// checkDialogue validates the flow fields of a record.
func checkDialogue(r *CallRecord) error {
	if err := checkText("Record.Flow", r.Flow); err != nil {
		return err
	}
	if o := r.Dialogue; o != nil {
		for _, f := range []struct{ name, v string }{{"Record.Dialogue.Disposition", o.Disposition},
			{"Record.Dialogue.IntentLevel", o.IntentLevel}, {"Record.Dialogue.ResumeNode", o.ResumeNode}} {
			if err := checkText(f.name, f.v); err != nil {
				return err
			}
		}
		if err := checkMap("Record.Dialogue.Tags", o.Tags); err != nil {
			return err
		}
		if err := checkMap("Record.Dialogue.Slots", o.Slots); err != nil {
			return err
		}
		if len(o.EmotionScores) > MaxTranscriptTurns {
			return invalid("Record.Dialogue.EmotionScores has %d entries, limit %d", len(o.EmotionScores), MaxTranscriptTurns)
		}
		for i, v := range o.EmotionScores {
			if err := checkFinite(fmt.Sprintf("Record.Dialogue.EmotionScores[%d]", i), v); err != nil {
				return err
			}
		}
		if o.FailedTurns < 0 {
			return invalid("Record.Dialogue.FailedTurns %d is negative", o.FailedTurns)
		}
	}
	if len(r.Transcript) > MaxTranscriptTurns {
		return invalid("Record.Transcript has %d turns, limit %d", len(r.Transcript), MaxTranscriptTurns)
	}
	for i, t := range r.Transcript {
		name := fmt.Sprintf("Record.Transcript[%d]", i)
		for _, f := range []struct{ name, v string }{{".Who", t.Who}, {".Node", t.Node}, {".Text", t.Text},
			{".Digits", t.Digits}, {".Intent", t.Intent}} {
			if err := checkText(name+f.name, f.v); err != nil {
				return err
			}
		}
		for _, f := range []struct {
			name string
			v    float64
		}{{".Confidence", t.Confidence}, {".Emotion", t.Emotion}} {
			if err := checkFinite(name+f.name, f.v); err != nil {
				return err
			}
		}
		if err := checkTime(name+".Start", t.Start); err != nil {
			return err
		}
		if err := checkTime(name+".End", t.End); err != nil {
			return err
		}
	}
	return nil
}

func recordKey(id string) []byte { return key("r/", id) }
func recordTimeKey(r *CallRecord) []byte {
	return key("rt/", timeKey(r.InviteAt), r.ID)
}
func recordCampaignKey(r *CallRecord) []byte {
	return key("rc/", r.CampaignID, sep, timeKey(r.InviteAt), r.ID)
}

func normaliseRecord(r *CallRecord) {
	r.InviteAt, r.RingAt, r.EarlyMediaAt = utc(r.InviteAt), utc(r.RingAt), utc(r.EarlyMediaAt)
	r.AnswerAt, r.EndAt = utc(r.AnswerAt), utc(r.EndAt)
	if len(r.Tags) == 0 {
		r.Tags = nil
	}
	if len(r.Transcript) == 0 {
		r.Transcript = nil
	}
	for i := range r.Transcript {
		r.Transcript[i].Start, r.Transcript[i].End = utc(r.Transcript[i].Start), utc(r.Transcript[i].End)
	}
}

func applyPutCallRecord(t *tx, c *PutCallRecord) (any, error) {
	r := c.Record
	normaliseRecord(&r)
	var old CallRecord
	found, err := t.getJSON(recordKey(r.ID), &old)
	if err != nil {
		return nil, err
	}
	if found {
		if err := t.del(recordTimeKey(&old)); err != nil {
			return nil, err
		}
		if old.CampaignID != "" {
			if err := t.del(recordCampaignKey(&old)); err != nil {
				return nil, err
			}
		}
	}
	if err := t.putJSON(recordKey(r.ID), &r); err != nil {
		return nil, err
	}
	if err := t.putRaw(recordTimeKey(&r), nil); err != nil {
		return nil, err
	}
	if r.CampaignID != "" {
		if err := t.putRaw(recordCampaignKey(&r), nil); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// RecordFilter selects call records for CallRecords.
type RecordFilter struct {
	Since    time.Time // InviteAt >= Since (zero: no bound)
	Until    time.Time // InviteAt < Until (zero: no bound)
	Campaign string    // only this campaign (empty: all)
	Limit    int       // 0: DefaultRecordLimit; at most MaxRecordLimit
}

// Listing limits for CallRecords.
const (
	DefaultRecordLimit = 100
	MaxRecordLimit     = 10000
)

// CallRecord reads one record from the local state.
func (f *FSM) CallRecord(id string) (CallRecord, bool, error) {
	var r CallRecord
	var found bool
	err := f.view(func(t *tx) error {
		var err error
		found, err = t.getJSON(recordKey(id), &r)
		return err
	})
	return r, found, err
}

// CallRecords lists records newest first (by InviteAt) from the local state.
func (f *FSM) CallRecords(flt RecordFilter) ([]CallRecord, error) {
	if flt.Limit < 0 || flt.Limit > MaxRecordLimit {
		return nil, fmt.Errorf("%w: RecordFilter.Limit %d: want 0..%d", ErrInvalidCommand, flt.Limit, MaxRecordLimit)
	}
	if !flt.Since.IsZero() && !flt.Until.IsZero() && !flt.Since.Before(flt.Until) {
		return nil, fmt.Errorf("%w: RecordFilter.Since %s is not before Until %s", ErrInvalidCommand,
			flt.Since.UTC().Format(time.RFC3339), flt.Until.UTC().Format(time.RFC3339))
	}
	if flt.Campaign != "" {
		if err := checkID("RecordFilter.Campaign", flt.Campaign); err != nil {
			return nil, err
		}
	}
	limit := flt.Limit
	if limit == 0 {
		limit = DefaultRecordLimit
	}
	prefix := key("rt/")
	if flt.Campaign != "" {
		prefix = key("rc/", flt.Campaign, sep)
	}
	var seek []byte
	if !flt.Until.IsZero() {
		// greatest key strictly before Until
		seek = append(key(string(prefix), timeKey(flt.Until.Add(-1))), 0xff)
	}
	var lower string
	if !flt.Since.IsZero() {
		lower = timeKey(flt.Since)
	}
	var out []CallRecord
	err := f.view(func(t *tx) error {
		var ids []string
		err := t.scan(prefix, seek, true, func(k, _ []byte) (bool, error) {
			rest := k[len(prefix):]
			if len(rest) < 8 {
				return true, nil
			}
			if lower != "" && string(rest[:8]) < lower {
				return false, nil
			}
			ids = append(ids, string(rest[8:]))
			return len(ids) < limit, nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			var r CallRecord
			if ok, err := t.getJSON(recordKey(id), &r); err != nil {
				return err
			} else if ok {
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}
