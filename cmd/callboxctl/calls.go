package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"callbox/daemon/apiv1"
)

func runCall(api *client, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("call", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var body apiv1.PlaceCall
	fs.StringVar(&body.Say, "say", "", "text to speak when the callee answers (required)")
	fs.StringVar(&body.Trunk, "trunk", "", "trunk name (default: the first configured)")
	fs.StringVar(&body.Voice, "voice", "", "TTS voice, e.g. en-us or cmn-latn-pinyin")
	fs.StringVar(&body.CallerID, "caller-id", "", "caller ID user part")
	fs.IntVar(&body.WaitDTMF, "wait-dtmf", 0, "digits to collect after the prompt")
	dtmfTimeout := fs.Duration("dtmf-timeout", 0, "how long to wait for digits (default: the daemon's)")
	ringTimeout := fs.Duration("ring-timeout", 0, "how long to ring (default: the daemon's)")
	asJSON := fs.Bool("json", false, "print the record as JSON")
	fs.StringVar(&body.Flow, "flow", "", "run this dialogue flow (a file, or a name under the daemon's flows.dir) instead of --say")
	profile := profileFlag{}
	fs.Var(profile, "profile", "contact profile field key=value for --flow (repeatable)")
	number, rest := splitPositional(args)
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if number == "" && fs.NArg() > 0 {
		number = fs.Arg(0)
	}
	if number == "" {
		fmt.Fprintln(stderr, "callboxctl call: NUMBER is required")
		return 2
	}
	if body.Say == "" && body.Flow == "" {
		fmt.Fprintln(stderr, "callboxctl call: --say TEXT or --flow FILE is required")
		return 2
	}
	if body.Flow != "" {
		if _, err := os.Stat(body.Flow); err == nil {
			if abs, err := filepath.Abs(body.Flow); err == nil {
				body.Flow = abs // the daemon on this host reads the same file
			}
		}
		if len(profile) > 0 {
			body.Profile = profile
		}
	}
	body.Number = number
	body.DTMFTimeoutSec = dtmfTimeout.Seconds()
	body.RingTimeoutSec = ringTimeout.Seconds()
	var rec apiv1.CallRecord
	if err := api.do("POST", "/v1/calls?wait=true", body, &rec); err != nil {
		fmt.Fprintln(stderr, "callboxctl call:", err)
		return 1
	}
	printRecord(stdout, rec, *asJSON)
	if rec.Disposition != "answered" {
		return 3
	}
	return 0
}

// splitPositional lets NUMBER come before the flags.
func splitPositional(args []string) (string, []string) {
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		return args[0], args[1:]
	}
	return "", args
}

func printRecord(w io.Writer, r apiv1.CallRecord, asJSON bool) {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(r)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("call", r.ID)
	row("number", r.Number)
	row("trunk", r.Trunk)
	row("direction", r.Direction)
	row("disposition", r.Disposition)
	row("sip code", codeText(r.SIPCode, r.SIPReason))
	row("hung up by", orDash(r.HangupBy))
	row("dtmf", orDash(r.DTMF))
	row("invite", r.InviteAt.Local().Format(time.DateTime))
	row("ring", fmtTime(r.RingAt))
	row("answer", fmtTime(r.AnswerAt))
	row("end", fmtTime(r.EndAt))
	if r.AnswerAt != nil && r.EndAt != nil {
		row("talk time", r.EndAt.Sub(*r.AnswerAt).Round(10*time.Millisecond).String())
	}
	row("codec", orDash(r.Codec))
	row("rtp", fmt.Sprintf("sent %d, received %d, lost %d (%.1f%%), jitter %.1f ms", r.RTP.PacketsSent, r.RTP.PacketsReceived, r.RTP.PacketsLost, 100*r.RTP.LossFraction, r.RTP.JitterMs))
	row("recording", orDash(r.RecordingPath))
	if r.Dialogue != nil {
		d := r.Dialogue
		row("flow", r.Flow)
		row("outcome", fmt.Sprintf("%s (intent level %s, failed turns %d, opt-out %v, transferred %v)", orDash(d.Disposition), orDash(d.IntentLevel), d.FailedTurns, d.OptOut, d.Transferred))
		for _, t := range r.Transcript {
			text := t.Text
			if t.Digits != "" {
				text += " [" + t.Digits + "]"
			}
			if t.NoInput {
				text = "(no input)"
			}
			row("  "+t.Who, strings.TrimSpace(text+" "+t.Intent))
		}
	}
	if r.Error != "" {
		row("error", r.Error)
	}
	tw.Flush()
}

func codeText(code int, reason string) string {
	if code == 0 {
		return "-"
	}
	if reason != "" {
		return strconv.Itoa(code) + " " + reason
	}
	return strconv.Itoa(code)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runCalls(api *client, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("calls", flag.ContinueOnError)
	fs.SetOutput(stderr)
	limit := fs.Int("limit", 50, "how many records")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var recs []apiv1.CallRecord
	if err := api.do("GET", "/v1/calls?limit="+strconv.Itoa(*limit), nil, &recs); err != nil {
		fmt.Fprintln(stderr, "callboxctl calls:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(recs)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTARTED\tDIR\tNUMBER\tTRUNK\tDISPOSITION\tCODE\tDTMF\tTALK\tHUNG UP BY")
	for _, r := range recs {
		talk := "-"
		if r.AnswerAt != nil && r.EndAt != nil {
			talk = r.EndAt.Sub(*r.AnswerAt).Round(100 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.InviteAt.Local().Format(time.DateTime), r.Direction, r.Number, r.Trunk,
			orDash(r.Disposition), codeText(r.SIPCode, ""), orDash(r.DTMF), talk, orDash(r.HangupBy))
	}
	tw.Flush()
	return 0
}

func runCallRecord(api *client, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("call-record", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	id, rest := splitPositional(args)
	if err := fs.Parse(rest); err != nil {
		return 2
	}
	if id == "" {
		fmt.Fprintln(stderr, "callboxctl call-record: ID is required")
		return 2
	}
	var rec apiv1.CallRecord
	if err := api.do("GET", "/v1/calls/"+id, nil, &rec); err != nil {
		fmt.Fprintln(stderr, "callboxctl call-record:", err)
		return 1
	}
	printRecord(stdout, rec, *asJSON)
	return 0
}

func runTrunks(api *client, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("trunks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var trunks []apiv1.Trunk
	if err := api.do("GET", "/v1/trunks", nil, &trunks); err != nil {
		fmt.Fprintln(stderr, "callboxctl trunks:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(trunks)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tAUTH\tREGISTRATION\tUP\tCALLS\tLAST ERROR")
	for _, t := range trunks {
		reg := orDash(t.RegState)
		if t.Auth == "ip" {
			reg = "-"
		}
		up := "down"
		if t.Up {
			up = "up"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\n", t.Name, t.Auth, reg, up, t.ActiveCalls, t.MaxCalls, orDash(t.LastError))
	}
	tw.Flush()
	return 0
}
