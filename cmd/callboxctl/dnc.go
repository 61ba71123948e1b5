package main

// This file holds `callboxctl dnc add|remove|check`.

import (
	"flag"
	"fmt"
	"io"
	"net/url"

	"callbox/daemon/apiv1"
)

func runDNC(api *client, args []string, stdout, stderr io.Writer) int {
	if len(args) < 2 {
		fmt.Fprintln(stderr, "usage: callboxctl dnc add|remove|check NUMBER [--scope global|CAMPAIGN] [--reason TEXT] [--region CN]")
		return 2
	}
	sub, number := args[0], args[1]
	fs := flag.NewFlagSet("dnc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	b := apiv1.DNC{Phone: number}
	fs.StringVar(&b.Scope, "scope", "global", "global or a campaign ID")
	fs.StringVar(&b.Reason, "reason", "", "why the number is listed")
	fs.StringVar(&b.Region, "region", "", "region for national numbers (default CN)")
	if err := fs.Parse(args[2:]); err != nil {
		return 2
	}
	q := url.Values{"scope": {b.Scope}, "phone": {b.Phone}, "region": {b.Region}}.Encode()
	var out apiv1.DNC
	var err error
	switch sub {
	case "add":
		err = api.do("POST", "/v1/dnc", b, &out)
	case "remove":
		err = api.do("DELETE", "/v1/dnc?"+q, nil, &out)
	case "check":
		err = api.do("GET", "/v1/dnc?"+q, nil, &out)
	default:
		fmt.Fprintf(stderr, "callboxctl dnc: unknown command %q (want add, remove or check)\n", sub)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "callboxctl dnc %s: %v\n", sub, err)
		return 1
	}
	state := "not listed"
	if out.Listed {
		state = "listed"
	}
	if sub == "remove" {
		state = "removed"
	}
	fmt.Fprintf(stdout, "%s (%s): %s\n", out.Phone, out.Scope, state)
	if sub == "check" && out.Listed {
		return 3
	}
	return 0
}
