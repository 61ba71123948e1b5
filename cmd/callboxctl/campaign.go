package main

// This file holds `callboxctl campaign ...`: create, list, show, lifecycle,
// contact import and reports.

import (
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
	"callbox/daemon/campaign"
)

const campaignUsage = `usage: callboxctl campaign COMMAND
  create FILE.json            create a campaign from a JSON definition
  list [--json]               list campaigns with progress
  show ID [--json]            one campaign and its counters
  start|pause|resume|stop|archive ID
  import ID FILE.csv [--mode reject-all|valid-rows] [--encoding utf-8|gbk] [--region CN]
  attempts ID [--json]        every dial attempt: contact, box, trunk, variant, disposition
  report ID [--json]          attempts, answer/machine/conversion rates per variant, A/B test
  series ID [--step 5m] [--json]  the report's figures per time bucket (finished attempts)
`

func runCampaign(api *client, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, campaignUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("campaign "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	mode := fs.String("mode", campaign.ModeRejectAll, "import mode: reject-all or valid-rows")
	enc := fs.String("encoding", "", "CSV encoding: utf-8 or gbk (default: detect)")
	region := fs.String("region", "", "default region for national numbers (default: the campaign's)")
	step := fs.Duration("step", 0, "series bucket width, e.g. 1m, 1h (default: chosen by the box)")
	var pos []string
	for len(rest) > 0 {
		if err := fs.Parse(rest); err != nil {
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	need := func(n int, what string) bool {
		if len(pos) < n {
			fmt.Fprintf(stderr, "callboxctl campaign %s: %s is required\n", sub, what)
			return false
		}
		return true
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "callboxctl campaign %s: %v\n", sub, err)
		return 1
	}
	switch sub {
	case "create":
		if !need(1, "FILE.json") {
			return 2
		}
		data, err := os.ReadFile(pos[0])
		if err != nil {
			return fail(err)
		}
		var spec apiv1.CampaignSpec
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&spec); err != nil {
			return fail(fmt.Errorf("%s: %v", pos[0], err))
		}
		var c apiv1.Campaign
		if err := api.do("POST", "/v1/campaigns", spec, &c); err != nil {
			return fail(err)
		}
		printCampaign(stdout, c, *asJSON)
	case "list":
		var cs []apiv1.Campaign
		if err := api.do("GET", "/v1/campaigns", nil, &cs); err != nil {
			return fail(err)
		}
		if *asJSON {
			return printJSON(stdout, cs)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tCONTACTS\tPENDING\tDONE\tDNC\tATTEMPTS")
		for _, c := range cs {
			k := c.Counters
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", c.ID, shownState(c), k.Contacts, k.Pending, k.Done, k.DNC, k.Attempts)
		}
		tw.Flush()
	case "show":
		if !need(1, "ID") {
			return 2
		}
		var c apiv1.Campaign
		if err := api.do("GET", "/v1/campaigns/"+url.PathEscape(pos[0]), nil, &c); err != nil {
			return fail(err)
		}
		printCampaign(stdout, c, *asJSON)
	case "start", "pause", "resume", "stop", "archive":
		if !need(1, "ID") {
			return 2
		}
		var c apiv1.Campaign
		if err := api.do("POST", "/v1/campaigns/"+url.PathEscape(pos[0])+"/"+sub, nil, &c); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "campaign %s is %s\n", c.ID, c.State)
	case "import":
		if !need(2, "ID and FILE.csv") {
			return 2
		}
		return runCampaignImport(api, pos[0], pos[1], *mode, *enc, *region, *asJSON, stdout, stderr)
	case "attempts":
		if !need(1, "ID") {
			return 2
		}
		return campaignAttempts(api, pos[0], *asJSON, stdout, stderr) // attempts.go
	case "report":
		if !need(1, "ID") {
			return 2
		}
		var r campaign.Report
		if err := api.do("GET", "/v1/campaigns/"+url.PathEscape(pos[0])+"/report", nil, &r); err != nil {
			return fail(err)
		}
		if *asJSON {
			return printJSON(stdout, r)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "GROUP\tATTEMPTS\tANSWER\tMACHINE\tCONVERSION\tTRANSFER\tAHT(s)\tOPT-OUTS")
		row := func(name string, f campaign.Figures) {
			fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f\t%d\n", name, f.Attempts, 100*f.AnswerRate,
				100*f.MachineRate, 100*f.ConversionRate, 100*f.TransferRate, f.AvgHandleSec, f.OptOuts)
		}
		row("total", r.Total)
		for _, v := range r.Variants {
			row("variant "+v.Variant, v)
		}
		tw.Flush()
		for _, c := range r.Comparisons {
			sig := "not significant"
			if c.Significant {
				sig = "significant"
			}
			fmt.Fprintf(stdout, "%s vs %s: conversion %+.1f points, z=%.2f, p=%.4f (%s at 5%%)\n", c.Variant, c.Baseline, 100*c.Difference, c.Z, c.PValue, sig)
		}
	case "series":
		if !need(1, "ID") {
			return 2
		}
		path := "/v1/campaigns/" + url.PathEscape(pos[0]) + "/series"
		if *step > 0 {
			path += "?step=" + url.QueryEscape(step.String())
		}
		var sr campaign.Series
		if err := api.do("GET", path, nil, &sr); err != nil {
			return fail(err)
		}
		if *asJSON {
			return printJSON(stdout, sr)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FROM\tATTEMPTS\tANSWER\tCONVERSION\tTRANSFER\tAHT(s)")
		for _, p := range sr.Points {
			fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%.1f%%\t%.1f%%\t%.1f\n", p.Start.Local().Format("2006-01-02 15:04"), p.Attempts,
				100*p.AnswerRate, 100*p.ConversionRate, 100*p.TransferRate, p.AvgHandleSec)
		}
		tw.Flush()
	default:
		fmt.Fprintf(stderr, "callboxctl campaign: unknown command %q\n\n%s", sub, campaignUsage)
		return 2
	}
	return 0
}

func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	return 0
}

func printCampaign(w io.Writer, c apiv1.Campaign, asJSON bool) {
	if asJSON {
		printJSON(w, c)
		return
	}
	k := c.Counters
	fmt.Fprintf(w, "campaign %s (%s): %s\n  flow %s, pacing %s x%d @ %.1f cps, max attempts %d, tz %s %s\n",
		c.ID, c.Name, shownState(c), c.Flow, c.Pacing.Mode, c.Pacing.MaxConcurrent, c.Pacing.CPS, c.MaxAttempts, c.TimezonePolicy, c.Timezone)
	fmt.Fprintf(w, "  contacts %d: pending %d, in progress %d, done %d, dnc %d; attempts %d (finished %d, interrupted %d)\n",
		k.Contacts, k.Pending, k.InProgress, k.Done, k.DNC, k.Attempts, k.Finished, k.Interrupted)
	for d, n := range k.Dispositions {
		fmt.Fprintf(w, "    %-12s %d\n", d, n)
	}
}

func runCampaignImport(api *client, id, file, mode, enc, region string, asJSON bool, stdout, stderr io.Writer) int {
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintln(stderr, "callboxctl campaign import:", err)
		return 1
	}
	defer f.Close()
	q := url.Values{"mode": {mode}}
	if enc != "" {
		q.Set("encoding", enc)
	}
	if region != "" {
		q.Set("region", region)
	}
	req, err := http.NewRequest("POST", strings.TrimRight(api.base, "/")+"/v1/campaigns/"+url.PathEscape(id)+"/contacts?"+q.Encode(), f)
	if err != nil {
		fmt.Fprintln(stderr, "callboxctl campaign import:", err)
		return 1
	}
	req.Header.Set("Content-Type", "text/csv")
	if api.token != "" {
		req.Header.Set("Authorization", "Bearer "+api.token)
	}
	resp, err := api.http.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "callboxctl campaign import: cannot reach callboxd at %s: %v\n", api.base, err)
		return 1
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	var rep campaign.ImportReport
	var wrapped struct {
		Error  string                 `json:"error"`
		Report *campaign.ImportReport `json:"report"`
	}
	if resp.StatusCode == 200 {
		_ = json.Unmarshal(data, &rep)
	} else if json.Unmarshal(data, &wrapped) == nil && wrapped.Report != nil {
		rep = *wrapped.Report
	}
	if asJSON {
		printJSON(stdout, json.RawMessage(data))
	} else {
		fmt.Fprintf(stdout, "%d rows (%s): %d valid, %d invalid, %d imported\n", rep.Rows, rep.Encoding, rep.Valid, rep.Invalid, rep.Imported)
		for _, p := range rep.Problems {
			fmt.Fprintf(stdout, "  line %d %s: %s %s\n", p.Line, p.Column, p.Reason, p.Detail)
		}
		if rep.Truncated {
			fmt.Fprintln(stdout, "  (more problems not listed)")
		}
	}
	if resp.StatusCode != 200 {
		msg := wrapped.Error
		if msg == "" {
			msg = strings.TrimSpace(string(data))
		}
		fmt.Fprintf(stderr, "callboxctl campaign import: %s (HTTP %d)\n", msg, resp.StatusCode)
		return 1
	}
	return 0
}

// shownState is the campaign's state, with "(completed)" after a running
// campaign whose contacts are all final, as the dashboard shows it.
func shownState(c apiv1.Campaign) string {
	if c.State == "running" && c.Exhausted {
		return "running (completed)"
	}
	return c.State
}
