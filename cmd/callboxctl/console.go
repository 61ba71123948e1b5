package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// consoleModes are the modes POST /v1/calls/{id}/console accepts.
var consoleModes = []string{"listen", "whisper", "barge", "off"}

// runConsole implements "callboxctl console CALLID MODE": it puts the
// supervisor's headset at the box on a live call. Exit codes: 0 success,
// 1 the daemon refused (its message is printed), 2 usage.
func runConsole(api *client, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintln(stderr, "usage: callboxctl console CALLID listen|whisper|barge|off [--json]")
		fmt.Fprintln(stderr, "  listen    the headset hears the callee and the bot")
		fmt.Fprintln(stderr, "  whisper   as listen; the microphone stays local (never sent to the callee)")
		fmt.Fprintln(stderr, "  barge     the headset microphone replaces the bot's voice; the bot falls silent")
		fmt.Fprintln(stderr, "  off       detach the headset")
	}
	asJSON := false
	var pos []string
	for _, a := range args {
		switch a {
		case "--json":
			asJSON = true
		case "-h", "--help", "help":
			usage()
			return 0
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 {
		usage()
		return 2
	}
	id, mode := strings.TrimSpace(pos[0]), strings.ToLower(strings.TrimSpace(pos[1]))
	valid := false
	for _, m := range consoleModes {
		valid = valid || m == mode
	}
	if id == "" || !valid {
		fmt.Fprintf(stderr, "callboxctl console: mode %q is not one of %s\n", pos[1], strings.Join(consoleModes, ", "))
		usage()
		return 2
	}
	var out struct {
		Call string `json:"call,omitempty"`
		Mode string `json:"mode"`
	}
	if err := api.do("POST", "/v1/calls/"+url.PathEscape(id)+"/console", map[string]string{"mode": mode}, &out); err != nil {
		fmt.Fprintf(stderr, "callboxctl console: %v\n", err)
		return 1
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return 0
	}
	if out.Mode == "off" {
		fmt.Fprintln(stdout, "headset off")
		return 0
	}
	fmt.Fprintf(stdout, "headset on call %s: %s\n", out.Call, out.Mode)
	return 0
}
