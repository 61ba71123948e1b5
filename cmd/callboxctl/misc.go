package main

// This file holds the small API commands: whoami, transcript, recording
// download and pause/resume, media stats and the OpenAPI document.

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"

	"callbox/daemon/apiv1"
)

func runMisc(api *client, cmd string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	outFile := fs.String("o", "", "write to FILE (recording; default CALLID.wav)")
	fail := func(err error) int {
		fmt.Fprintf(stderr, "callboxctl %s: %v\n", cmd, err)
		return 1
	}
	pos, flags := positionals(args, 2)
	if fs.Parse(flags) != nil {
		return 2
	}
	switch cmd {
	case "whoami":
		var s apiv1.Session
		if err := api.do("GET", "/v1/whoami", nil, &s); err != nil {
			return fail(err)
		}
		if *asJSON {
			return printJSON(stdout, s)
		}
		fmt.Fprintf(stdout, "%s (%s, via %s)\npermissions: %s\n", s.User, s.Role, s.Via, strings.Join(s.Permissions, ", "))
		return 0
	case "transcript":
		if len(pos) != 1 {
			fmt.Fprintln(stderr, "usage: callboxctl transcript CALLID [--json]")
			return 2
		}
		var turns []apiv1.TranscriptTurn
		if err := api.do("GET", "/v1/calls/"+url.PathEscape(pos[0])+"/transcript", nil, &turns); err != nil {
			return fail(err)
		}
		if *asJSON {
			return printJSON(stdout, turns)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "AT\tWHO\tTEXT\tDIGITS\tINTENT")
		for _, t := range turns {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Start.Local().Format("15:04:05.000"), t.Who, t.Text, t.Digits, t.Intent)
		}
		tw.Flush()
		return 0
	case "recording":
		if len(pos) == 2 && (pos[0] == "pause" || pos[0] == "resume") {
			var st json.RawMessage
			if err := api.do("POST", "/v1/calls/"+url.PathEscape(pos[1])+"/recording/"+pos[0], nil, &st); err != nil {
				return fail(err)
			}
			fmt.Fprintf(stdout, "recording of call %s: %s\n", pos[1], pos[0]+map[string]string{"pause": "d", "resume": "d"}[pos[0]])
			return 0
		}
		if len(pos) != 1 {
			fmt.Fprintln(stderr, "usage: callboxctl recording CALLID [-o FILE] | recording pause|resume CALLID")
			return 2
		}
		path := *outFile
		if path == "" {
			path = pos[0] + ".wav"
		}
		n, err := api.download("/v1/calls/"+url.PathEscape(pos[0])+"/recording", path)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "%s: %d bytes\n", path, n)
		return 0
	case "stats":
		var m json.RawMessage
		if err := api.do("GET", "/v1/stats/media", nil, &m); err != nil {
			return fail(err)
		}
		return printJSON(stdout, m)
	case "openapi":
		var m json.RawMessage
		if err := api.do("GET", "/v1/openapi.json", nil, &m); err != nil {
			return fail(err)
		}
		return printJSON(stdout, m)
	}
	return 2
}

// download streams path's answer into file (written beside it first and
// renamed when complete).
func (c *client) download(path, file string) (int64, error) {
	req, err := http.NewRequestWithContext(context.Background(), "GET", strings.TrimRight(c.base, "/")+path, nil)
	if err != nil {
		return 0, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach callboxd at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e apiv1.Error
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return 0, fmt.Errorf("callboxd: %s (HTTP %d)", e.Error, resp.StatusCode)
		}
		return 0, fmt.Errorf("callboxd: HTTP %d", resp.StatusCode)
	}
	tmp := file + ".part"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		os.Remove(tmp)
		return n, err
	}
	return n, nil
}
