package main

// This file holds `callboxctl chaos check`: the far-end checker
// (daemon/clusterctl/chaoscheck) against a live cluster's attempts.

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/daemon/campaign"
	"callbox/daemon/clusterctl/chaoscheck"
	"callbox/sim"
)

const chaosUsage = `usage: callboxctl chaos check --campaign ID --log FILE [--log FILE ...]
                            [--contacts CSV] [--region CN] [--json]

Joins the callee simulators' far-end logs (callboxctl sim --log) with the
campaign's attempts on the box at --api and reports per contact: lost,
duplicated, interrupted, reconciled. --contacts is the CSV that was
imported (a "phone" column, or the first column): without it, contacts
that were never attempted are missed and only counted from the campaign's
counters. Exit status 0: the bar is met; 3: a failure was found.
`

// logFlags collects repeated --log values.
type logFlags []string

func (l *logFlags) String() string     { return strings.Join(*l, ",") }
func (l *logFlags) Set(s string) error { *l = append(*l, s); return nil }

func runChaos(api *client, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, chaosUsage)
		return 2
	}
	fs := flag.NewFlagSet("chaos check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, chaosUsage) }
	id := fs.String("campaign", "", "campaign ID")
	contactsCSV := fs.String("contacts", "", "the imported contacts CSV")
	region := fs.String("region", "CN", "region of national numbers in --contacts")
	asJSON := fs.Bool("json", false, "print the full report as JSON")
	var logs logFlags
	fs.Var(&logs, "log", "far-end log FILE (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *id == "" || len(logs) == 0 || fs.NArg() > 0 {
		fmt.Fprint(stderr, chaosUsage)
		return 2
	}
	calls, bad, err := chaoscheck.ReadFarEndFiles(logs...)
	if err != nil {
		fmt.Fprintln(stderr, "callboxctl chaos check:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	atts, err := chaoscheck.FetchAttempts(ctx, &api.http, strings.TrimRight(api.base, "/"), api.token, *id)
	if err != nil {
		fmt.Fprintln(stderr, "callboxctl chaos check:", err)
		return 1
	}
	var contacts []chaoscheck.Contact
	if *contactsCSV != "" {
		if contacts, err = readContactsCSV(*contactsCSV, *region); err != nil {
			fmt.Fprintln(stderr, "callboxctl chaos check:", err)
			return 2
		}
	} else {
		contacts = contactsFromRun(atts, calls)
		var k apiv1.Campaign
		if err := api.do("GET", "/v1/campaigns/"+*id, nil, &k); err == nil && int(k.Counters.Contacts) > len(contacts) {
			fmt.Fprintf(stderr, "callboxctl chaos check: %d contacts were never attempted nor dialled; pass --contacts to name them\n",
				int(k.Counters.Contacts)-len(contacts))
		}
	}
	rep := chaoscheck.Check(chaoscheck.Input{Contacts: contacts, Calls: calls, Malformed: bad, Attempts: atts})
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(rep)
	} else {
		fmt.Fprintln(stdout, rep.Summary())
		for _, c := range rep.PerContact {
			for _, o := range c.Overlaps {
				fmt.Fprintf(stdout, "handover %s (%s): %s\n", c.ContactID, sim.MaskNumber(c.Phone), o)
			}
		}
	}
	if err := rep.Err(); err != nil {
		fmt.Fprintln(stderr, err)
		return 3
	}
	return 0
}

// readContactsCSV reads the phone column of an import CSV, normalised as
// the import does.
func readContactsCSV(path, region string) ([]chaoscheck.Contact, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	col := 0
	if len(rows) > 0 {
		for i, h := range rows[0] {
			if strings.EqualFold(strings.TrimSpace(h), "phone") {
				col = i
			}
		}
	}
	var out []chaoscheck.Contact
	seen := map[string]bool{}
	for n, row := range rows {
		if len(row) <= col {
			continue
		}
		phone, err := campaign.NormalizePhone(row[col], region)
		if err != nil {
			if n == 0 {
				continue // the header
			}
			return nil, fmt.Errorf("%s line %d: %v", path, n+1, err)
		}
		if !seen[phone] {
			seen[phone] = true
			out = append(out, chaoscheck.Contact{ID: campaign.ContactID(phone), Phone: phone})
		}
	}
	return out, nil
}

// contactsFromRun names the contacts seen in attempts or at the far end.
func contactsFromRun(atts []cluster.Attempt, calls []sim.CallLog) []chaoscheck.Contact {
	phones := map[string]string{} // contact ID -> phone
	for _, c := range calls {
		phones[campaign.ContactID(c.Number)] = c.Number
	}
	var out []chaoscheck.Contact
	seen := map[string]bool{}
	for _, a := range atts {
		if !seen[a.ContactID] {
			seen[a.ContactID] = true
			out = append(out, chaoscheck.Contact{ID: a.ContactID, Phone: phones[a.ContactID]})
		}
	}
	for id, p := range phones {
		if !seen[id] {
			seen[id] = true
			out = append(out, chaoscheck.Contact{ID: id, Phone: p})
		}
	}
	return out
}
