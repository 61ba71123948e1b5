package main

// This file holds "campaign attempts" and "audit verify --remote".

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
)

func campaignAttempts(api *client, id string, asJSON bool, stdout, stderr io.Writer) int {
	var as []cluster.Attempt
	if err := api.do("GET", "/v1/campaigns/"+url.PathEscape(id)+"/attempts", nil, &as); err != nil {
		fmt.Fprintln(stderr, "callboxctl campaign attempts:", err)
		return 1
	}
	if asJSON {
		return printJSON(stdout, as)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ATTEMPT\tCONTACT\tBOX\tTRUNK\tVARIANT\tSTATE\tCLAIMED\tDISPOSITION\tSIP")
	for _, a := range as {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", a.ID, a.ContactID, a.Box, a.Trunk, a.Variant, a.State,
			a.ClaimedAt.Local().Format(time.DateTime), a.Disposition, a.SIPCode)
	}
	tw.Flush()
	return 0
}

func runAuditVerifyRemote(api *client, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit verify --remote", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if fs.Parse(args) != nil {
		return 2
	}
	var v apiv1.AuditVerify
	if err := api.do("GET", "/v1/audit/verify", nil, &v); err != nil {
		fmt.Fprintln(stderr, "callboxctl audit verify:", err)
		return 1
	}
	if *asJSON {
		printJSON(stdout, v)
	} else if v.OK {
		fmt.Fprintf(stdout, "audit log ok: %d entries, last seq %d\n", v.Entries, v.LastSeq)
	} else {
		fmt.Fprintf(stdout, "AUDIT LOG TAMPERED: %s\n", v.Problem)
	}
	if !v.OK {
		return 3
	}
	return 0
}
