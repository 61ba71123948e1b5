package main

// This file holds the stored-flow commands (callboxctl flow push,
// validate, list, show, versions, rm): they drive /v1/flows on the box.
// flow lint and flow chat stay local (flow.go).

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"callbox/daemon/apiv1"
)

const flowRemoteUsage = `  callboxctl flow push NAME FILE [--json]
      validate FILE on the box and store it as the next version of flow NAME
      (campaigns and calls use it as "store:NAME" or pinned "store:NAME@N")
  callboxctl flow validate FILE...
      check files on the box (same output as flow lint)
  callboxctl flow list [--archived] [--json]
  callboxctl flow show NAME [--version N] [--json]   print a stored version's YAML
  callboxctl flow versions NAME [--json]
  callboxctl flow rm NAME       archive (refused while a running campaign uses it)
`

// runFlowRemote runs a stored-flow subcommand; ok is false when sub is
// not one.
func runFlowRemote(api *client, sub string, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "callboxctl flow %s: %v\n", sub, err)
		return 1
	}
	usage := func() int {
		fmt.Fprint(stderr, "usage:\n"+flowRemoteUsage)
		return 2
	}
	fs := flag.NewFlagSet("flow "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	switch sub {
	case "push":
		pos, flags := positionals(args, 2)
		if fs.Parse(flags) != nil || len(pos) != 2 {
			return usage(), true
		}
		data, err := os.ReadFile(pos[1])
		if err != nil {
			return fail(err), true
		}
		var out apiv1.FlowPut
		status, err := api.flowBody("PUT", "/v1/flows/"+url.PathEscape(pos[0]), data, &out, stdout)
		if err != nil {
			return fail(err), true
		}
		if status == http.StatusBadRequest {
			return 1, true
		}
		if *asJSON {
			return printJSON(stdout, out), true
		}
		if out.Unchanged {
			fmt.Fprintf(stdout, "flow %s unchanged: identical to version %d (%s)\n", out.Name, out.Version, out.Ref)
		} else {
			fmt.Fprintf(stdout, "flow %s version %d stored (%s, sha256 %s)\n", out.Name, out.Version, out.Ref, short(out.SHA256))
		}
		return 0, true
	case "validate":
		if fs.Parse(args) != nil || fs.NArg() == 0 {
			return usage(), true
		}
		code := 0
		for _, path := range fs.Args() {
			data, err := os.ReadFile(path)
			if err != nil {
				fmt.Fprintf(stdout, "%s: %v\n", path, err)
				code = 1
				continue
			}
			var sum apiv1.FlowSummary
			status, err := api.flowBody("POST", "/v1/flows/validate?file="+url.QueryEscape(path), data, &sum, stdout)
			if err != nil {
				return fail(err), true
			}
			if status == http.StatusBadRequest {
				code = 1
				continue
			}
			for _, w := range sum.Warnings {
				fmt.Fprintln(stdout, w.Text)
			}
			fmt.Fprintf(stdout, "%s: ok (%d nodes)\n", path, sum.Nodes)
		}
		return code, true
	case "list":
		archived := fs.Bool("archived", false, "include archived flows")
		if fs.Parse(args) != nil {
			return usage(), true
		}
		var out []apiv1.Flow
		if err := api.do("GET", "/v1/flows?archived="+strconv.FormatBool(*archived), nil, &out); err != nil {
			return fail(err), true
		}
		if *asJSON {
			return printJSON(stdout, out), true
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tLATEST\tUPDATED\tAUTHOR\tSHA256\tSTATE")
		for _, f := range out {
			state := "active"
			if f.Archived {
				state = "archived"
			}
			fmt.Fprintf(tw, "%s\tv%d\t%s\t%s\t%s\t%s\n", f.Name, f.Latest, f.Updated.Local().Format(time.DateTime), f.Author, short(f.SHA256), state)
		}
		tw.Flush()
		return 0, true
	case "show":
		pos, flags := positionals(args, 1)
		version := fs.Int("version", 0, "version number (default: latest)")
		if fs.Parse(flags) != nil || len(pos) != 1 {
			return usage(), true
		}
		path := "/v1/flows/" + url.PathEscape(pos[0])
		if *version > 0 {
			path += "?version=" + strconv.Itoa(*version)
		}
		var out apiv1.FlowVersion
		if err := api.do("GET", path, nil, &out); err != nil {
			return fail(err), true
		}
		if *asJSON {
			return printJSON(stdout, out), true
		}
		fmt.Fprintf(stderr, "# %s version %d by %s at %s, sha256 %s\n", out.Name, out.Version, out.Author, out.Created.Local().Format(time.DateTime), out.SHA256)
		fmt.Fprint(stdout, out.Content)
		return 0, true
	case "versions":
		pos, flags := positionals(args, 1)
		if fs.Parse(flags) != nil || len(pos) != 1 {
			return usage(), true
		}
		var out []apiv1.FlowVersion
		if err := api.do("GET", "/v1/flows/"+url.PathEscape(pos[0])+"/versions", nil, &out); err != nil {
			return fail(err), true
		}
		if *asJSON {
			return printJSON(stdout, out), true
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tCREATED\tAUTHOR\tSHA256\tREF")
		for _, v := range out {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", v.Version, v.Created.Local().Format(time.DateTime), v.Author, short(v.SHA256), v.Ref)
		}
		tw.Flush()
		return 0, true
	case "rm":
		pos, flags := positionals(args, 1)
		if fs.Parse(flags) != nil || len(pos) != 1 {
			return usage(), true
		}
		if err := api.do("DELETE", "/v1/flows/"+url.PathEscape(pos[0]), nil, nil); err != nil {
			return fail(err), true
		}
		fmt.Fprintf(stdout, "flow %s archived (its versions stay readable)\n", pos[0])
		return 0, true
	}
	return 0, false
}

// positionals splits args into the first n arguments that are not flags
// and the rest (flags may come before or after them).
func positionals(args []string, n int) (pos, flags []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") || len(pos) >= n {
			flags = append(flags, a)
			if strings.HasPrefix(a, "-") && !strings.Contains(a, "=") && a != "--json" && a != "-json" && a != "--archived" && i+1 < len(args) {
				i++
				flags = append(flags, args[i])
			}
			continue
		}
		pos = append(pos, a)
	}
	return pos, flags
}

// flowBody sends a flow file; a 400 with problems prints them one per
// line (as flow lint does) and returns the status without an error.
func (c *client) flowBody(method, path string, data []byte, out any, stdout io.Writer) (int, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, strings.TrimRight(c.base, "/")+path, bytes.NewReader(data))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/yaml")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach callboxd at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return 0, err
	}
	var bad apiv1.FlowInvalid
	if resp.StatusCode == http.StatusBadRequest && json.Unmarshal(raw, &bad) == nil && len(bad.Problems) > 0 {
		for _, p := range bad.Problems {
			fmt.Fprintln(stdout, p.Text)
		}
		return resp.StatusCode, nil
	}
	if resp.StatusCode/100 != 2 {
		var e apiv1.Error
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return resp.StatusCode, fmt.Errorf("callboxd: %s (HTTP %d)", e.Error, resp.StatusCode)
		}
		return resp.StatusCode, fmt.Errorf("callboxd: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(raw))
	}
	return resp.StatusCode, json.Unmarshal(raw, out)
}

// short is the first 12 characters of a hash (all of a shorter one).
func short(h string) string { return h[:min(len(h), 12)] }
