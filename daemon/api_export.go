package daemon

// This file holds GET /v1/calls/export: call records streamed as CSV
// (FreeSWITCH cdr_csv columns plus callbox's own) or as JSON lines of the
// API record, filtered by campaign and time, with the caller's role
// applied (masked numbers for the viewer, redaction, no recording link
// for roles that may not listen).

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
)

// exportPage is how many records one read of the state returns.
const exportPage = 500

// ExportColumns are the CSV columns of GET /v1/calls/export, in order: the
// first fifteen as in FreeSWITCH's cdr_csv default template, then ours.
var ExportColumns = []string{
	"caller_id_name", "caller_id_number", "destination_number", "context",
	"start_stamp", "answer_stamp", "end_stamp", "duration", "billsec",
	"hangup_cause", "uuid", "bleg_uuid", "accountcode", "read_codec", "write_codec",
	"disposition", "sip_code", "intent_level", "emotion", "variant", "campaign_id", "recording",
	"direction", "trunk", "hangup_by", "outcome", "amd", "sip_call_id", "box",
}

// exportQuery is a parsed export request.
type exportQuery struct {
	format string // csv | jsonl
	filter cluster.RecordFilter
	loc    *time.Location
}

// parseExportQuery checks the query; the error names the bad parameter.
func parseExportQuery(q map[string][]string) (exportQuery, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	out := exportQuery{format: get("format"), loc: time.UTC}
	switch out.format {
	case "":
		out.format = "csv"
	case "csv", "jsonl":
	default:
		return out, fmt.Errorf("format %q: want csv or jsonl", out.format)
	}
	out.filter.Campaign = get("campaign")
	for key, dst := range map[string]*time.Time{"since": &out.filter.Since, "until": &out.filter.Until} {
		if s := get(key); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return out, fmt.Errorf("%s %q must be an RFC 3339 time such as 2026-11-21T09:00:00+08:00", key, s)
			}
			*dst = t
		}
	}
	if !out.filter.Since.IsZero() && !out.filter.Until.IsZero() && !out.filter.Since.Before(out.filter.Until) {
		return out, fmt.Errorf("since %s is not before until %s", get("since"), get("until"))
	}
	if tz := get("tz"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return out, fmt.Errorf("tz %q: not a time zone name such as UTC or Asia/Shanghai", tz)
		}
		out.loc = loc
	}
	return out, nil
}

// handleExport is GET /v1/calls/export?format=csv|jsonl&campaign=&since=&until=&tz=.
// Records come newest first, read from the state in pages and streamed;
// an error after the first byte aborts the response so the client sees a
// broken transfer, never a complete-looking short file. The export is
// audited before the first byte (and refused if the audit cannot be
// written).
func (a *apiServer) handleExport(w http.ResponseWriter, r *http.Request) {
	eq, err := parseExportQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	f := eq.filter
	f.Limit = exportPage
	first, err := a.node.CallRecords(f)
	if err != nil {
		writeError(w, clusterStatus(err), err.Error())
		return
	}
	p := principal(r)
	if err := a.auditAs(r, p, "calls.export", r.URL.RawQuery, http.StatusOK, map[string]string{"format": eq.format}); err != nil {
		writeError(w, http.StatusServiceUnavailable, "the audit log cannot be written, so call records cannot be exported: "+err.Error())
		return
	}
	name := "calls-" + time.Now().UTC().Format("20060102T150405Z") + "." + eq.format
	if eq.format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)

	var cw *csv.Writer
	enc := json.NewEncoder(w)
	if eq.format == "csv" {
		cw = csv.NewWriter(w)
		_ = cw.Write(ExportColumns)
	}
	rows := 0
	page := first
	// Paging: records are newest first; the next page ends just after the
	// last record's INVITE time, and records at that instant already sent
	// are skipped by ID.
	seenAtEdge := map[string]bool{}
	for len(page) > 0 {
		fresh := make([]apiv1.CallRecord, 0, len(page))
		for _, rec := range page {
			if seenAtEdge[rec.ID] {
				continue
			}
			v := recordView(rec)
			if cw != nil {
				v.Transcript = nil // not a CSV column: do not audit a transcript read
			}
			fresh = append(fresh, v)
		}
		a.view(r, fresh)
		for i := range fresh {
			if cw != nil {
				err = cw.Write(exportRow(&fresh[i], eq.loc))
			} else {
				err = enc.Encode(&fresh[i])
			}
			if err != nil {
				return // the client went away
			}
			rows++
		}
		if cw != nil {
			cw.Flush()
			if cw.Error() != nil {
				return
			}
		}
		if flusher != nil {
			flusher.Flush()
		}
		if len(page) < exportPage {
			break
		}
		edge := page[len(page)-1].InviteAt
		clear(seenAtEdge)
		for _, rec := range page {
			if rec.InviteAt.Equal(edge) {
				seenAtEdge[rec.ID] = true
			}
		}
		if len(seenAtEdge) == len(page) {
			a.log.Error("export stopped: more records share one INVITE time than a page holds", "at", edge)
			panic(http.ErrAbortHandler)
		}
		f.Until = edge.Add(time.Nanosecond)
		if page, err = a.node.CallRecords(f); err != nil {
			a.log.Error("export stopped: reading records failed", "rows", rows, "err", err)
			panic(http.ErrAbortHandler) // the client sees a broken transfer
		}
	}
	if cw != nil {
		cw.Flush() // the header alone when nothing matched
	}
}

// exportRow is one CSV row in ExportColumns order.
func exportRow(rec *apiv1.CallRecord, loc *time.Location) []string {
	stamp := func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return ""
		}
		return t.In(loc).Format("2006-01-02 15:04:05")
	}
	secs := func(from, to *time.Time) string {
		if from == nil || to == nil || to.Before(*from) {
			return "0"
		}
		return strconv.FormatInt(int64(to.Sub(*from)/time.Second), 10)
	}
	invite := rec.InviteAt
	callerName, callerNum, dest := rec.Box, rec.CallerID, rec.Number
	if rec.Direction == "inbound" {
		callerName, callerNum, dest = "", rec.Number, rec.CallerID
	}
	intent, emotion := rec.Intent, ""
	if rec.Dialogue != nil {
		if rec.Dialogue.IntentLevel != "" {
			intent = rec.Dialogue.IntentLevel
		}
		if n := len(rec.Dialogue.EmotionScores); n > 0 {
			var sum float64
			for _, e := range rec.Dialogue.EmotionScores {
				sum += e
			}
			emotion = strconv.FormatFloat(sum/float64(n), 'f', 2, 64)
		}
	}
	recording := ""
	if rec.RecordingPath != "" { // view() cleared it for roles that may not listen
		recording = "/v1/calls/" + rec.ID + "/recording"
	}
	sipCode := ""
	if rec.SIPCode != 0 {
		sipCode = strconv.Itoa(rec.SIPCode)
	}
	row := []string{
		callerName, callerNum, dest, rec.Direction,
		stamp(&invite), stamp(rec.AnswerAt), stamp(rec.EndAt), secs(&invite, rec.EndAt), secs(rec.AnswerAt, rec.EndAt),
		HangupCause(rec.Disposition, rec.SIPCode, rec.EndAt != nil), rec.ID, "", rec.CampaignID, rec.Codec, rec.Codec,
		rec.Disposition, sipCode, intent, emotion, rec.Variant, rec.CampaignID, recording,
		rec.Direction, rec.Trunk, rec.HangupBy, rec.Outcome, rec.AMD, rec.SIPCallID, rec.Box,
	}
	for i := range row {
		row[i] = csvSafe(row[i])
	}
	return row
}

// csvSafe keeps a cell from being taken as a formula by a spreadsheet: a
// cell starting with = or @, or with + or - not followed by a digit, gets
// a leading apostrophe. Phone numbers (+86…) stay as they are.
func csvSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '@', '\t', '\r':
		return "'" + s
	case '+', '-':
		if len(s) == 1 || s[1] < '0' || s[1] > '9' {
			return "'" + s
		}
	}
	return s
}

// HangupCause names a call's end the way FreeSWITCH's hangup_cause does
// (Q.850 cause names, RFC 3398 mapping from the SIP code); "" while the
// call is up.
func HangupCause(disposition string, sipCode int, ended bool) string {
	if !ended {
		return ""
	}
	switch sipCode {
	case 404, 604:
		return "UNALLOCATED_NUMBER"
	case 484:
		return "INVALID_NUMBER_FORMAT"
	case 486, 600:
		return "USER_BUSY"
	case 480:
		return "NO_USER_RESPONSE"
	case 487:
		return "ORIGINATOR_CANCEL"
	case 488, 606:
		return "INCOMPATIBLE_DESTINATION"
	case 403, 603:
		return "CALL_REJECTED"
	case 408:
		return "RECOVERY_ON_TIMER_EXPIRE"
	case 502:
		return "NETWORK_OUT_OF_ORDER"
	case 503:
		return "NORMAL_TEMPORARY_FAILURE"
	}
	switch strings.ToLower(disposition) {
	case "answered":
		return "NORMAL_CLEARING"
	case "busy":
		return "USER_BUSY"
	case "no-answer":
		return "NO_ANSWER"
	case "rejected":
		return "CALL_REJECTED"
	case "unreachable":
		return "DESTINATION_OUT_OF_ORDER"
	case "failed":
		return "NORMAL_TEMPORARY_FAILURE"
	}
	return "NORMAL_UNSPECIFIED"
}
