package main

// This file holds "callboxctl export": call records streamed from
// GET /v1/calls/export into a file or stdout.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"callbox/daemon/apiv1"
)

func runExport(api *client, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "csv", "csv (FreeSWITCH cdr_csv columns plus callbox's) or jsonl")
	camp := fs.String("campaign", "", "only this campaign's calls")
	since := fs.String("since", "", "calls dialled at or after this time (RFC 3339, e.g. 2026-11-21T09:00:00+08:00)")
	until := fs.String("until", "", "calls dialled before this time (RFC 3339)")
	tz := fs.String("tz", "", "time zone of the CSV time stamps (default UTC), e.g. Asia/Shanghai")
	out := fs.String("o", "", "write to this file (default: standard output)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "callboxctl export: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *format != "csv" && *format != "jsonl" {
		fmt.Fprintf(stderr, "callboxctl export: --format %q: want csv or jsonl\n", *format)
		return 2
	}
	for name, v := range map[string]string{"since": *since, "until": *until} {
		if v == "" {
			continue
		}
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			fmt.Fprintf(stderr, "callboxctl export: --%s %q: want an RFC 3339 time such as 2026-11-21T09:00:00+08:00\n", name, v)
			return 2
		}
	}
	q := url.Values{"format": {*format}}
	for k, v := range map[string]string{"campaign": *camp, "since": *since, "until": *until, "tz": *tz} {
		if v != "" {
			q.Set(k, v)
		}
	}
	req, err := http.NewRequest("GET", strings.TrimRight(api.base, "/")+"/v1/calls/export?"+q.Encode(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "callboxctl export:", err)
		return 2
	}
	if api.token != "" {
		req.Header.Set("Authorization", "Bearer "+api.token)
	}
	resp, err := api.http.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "callboxctl export: cannot reach callboxd at %s: %v\n", api.base, err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var e apiv1.Error
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			fmt.Fprintf(stderr, "callboxctl export: callboxd: %s (HTTP %d)\n", e.Error, resp.StatusCode)
		} else {
			fmt.Fprintf(stderr, "callboxctl export: callboxd: HTTP %d: %s\n", resp.StatusCode, strings.TrimSpace(string(data)))
		}
		return 1
	}
	if *out == "" {
		if _, err := io.Copy(stdout, resp.Body); err != nil {
			fmt.Fprintln(stderr, "callboxctl export: the transfer broke off; the output is incomplete:", err)
			return 1
		}
		return 0
	}
	// Write beside the target and rename at the end, so an interrupted
	// export never leaves a complete-looking file.
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".part-*")
	if err != nil {
		fmt.Fprintln(stderr, "callboxctl export:", err)
		return 1
	}
	n, err := io.Copy(tmp, resp.Body)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), *out)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
		if !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintln(stderr, "callboxctl export: the transfer broke off; nothing written:", err)
		}
		return 1
	}
	fmt.Fprintf(stderr, "wrote %d bytes to %s\n", n, *out)
	return 0
}
