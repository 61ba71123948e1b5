package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"callbox/daemon/apiv1"
	"callbox/daemon/audit"
	"callbox/daemon/recstore"
)

const auditUsage = `usage:
  callboxctl audit verify [--data-dir DIR | --file F [--key KEYFILE]] [--json]
  callboxctl audit verify --remote [--json]     ask the box to verify its log (GET /v1/audit/verify)
      check the audit log's hash chain, MACs and head offline; exit 0 intact,
      3 tampered (the first bad entry is named), 1 on an error
  callboxctl audit show [--after SEQ] [--limit N] [--file F] [--json]
      list audit entries from the daemon (or from a log file)
`

func runAudit(api *client, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, auditUsage)
		return 2
	}
	switch args[0] {
	case "verify":
		if len(args) > 1 && args[1] == "--remote" {
			return runAuditVerifyRemote(api, args[2:], stdout, stderr) // attempts.go
		}
		return runAuditVerify(args[1:], stdout, stderr)
	case "show":
		return runAuditShow(api, args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "callboxctl audit: unknown subcommand %q\n%s", args[0], auditUsage)
	return 2
}

func runAuditVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "", "box data directory (default /var/lib/callbox): uses audit/audit.log and keys/audit.key")
	file := fs.String("file", "", "an audit log file (a copy, say); MACs are checked only with --key")
	keyFile := fs.String("key", "", "the audit key file for --file")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dataDir != "" && *file != "" {
		fmt.Fprintln(stderr, "callboxctl audit verify: give --data-dir or --file, not both")
		return 2
	}
	path, kpath := *file, *keyFile
	if path == "" {
		dir := *dataDir
		if dir == "" {
			dir = "/var/lib/callbox"
		}
		path = filepath.Join(dir, "audit", "audit.log")
		if kpath == "" {
			kpath = filepath.Join(dir, "keys", "audit.key")
		}
	}
	var key []byte
	if kpath != "" {
		k, err := recstore.ReadKeyFile(kpath)
		switch {
		case err == nil:
			key = k
		case errors.Is(err, os.ErrNotExist) && *keyFile == "":
			fmt.Fprintf(stderr, "callboxctl audit verify: %s not found: checking the hash chain only, not the MACs\n", kpath)
		default:
			fmt.Fprintln(stderr, "callboxctl audit verify:", err)
			return 1
		}
	}
	rep, err := audit.VerifyFile(path, key)
	out := apiv1.AuditVerify{OK: err == nil, Entries: rep.Entries, LastSeq: rep.LastSeq, LastHash: rep.LastHash, MACs: rep.MACs, Head: rep.Head}
	var te *audit.TamperError
	if errors.As(err, &te) {
		out.Problem, out.BadLine, out.BadSeq = te.Error(), te.Line, te.Seq
	} else if err != nil {
		fmt.Fprintln(stderr, "callboxctl audit verify:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
	} else if out.OK {
		fmt.Fprintf(stdout, "%s: intact: %d entries, last seq %d, MACs %s, head %s\n", path, rep.Entries, rep.LastSeq, checked(rep.MACs), checked(rep.Head))
	} else {
		fmt.Fprintf(stdout, "%s: TAMPERED: %s\n(%d entries before it verified)\n", path, te.Error(), rep.Entries)
	}
	if !out.OK {
		return 3
	}
	return 0
}

func checked(b bool) string {
	if b {
		return "checked"
	}
	return "not checked"
}

func runAuditShow(api *client, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	after := fs.Uint64("after", 0, "show entries after this sequence number")
	limit := fs.Int("limit", 100, "at most this many entries")
	file := fs.String("file", "", "read this log file instead of asking the daemon")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var entries []apiv1.AuditEntry
	if *file != "" {
		f, err := os.Open(*file)
		if err != nil {
			fmt.Fprintln(stderr, "callboxctl audit show:", err)
			return 1
		}
		es, err := audit.ReadEntries(f, *after, *limit)
		f.Close()
		if err != nil {
			fmt.Fprintln(stderr, "callboxctl audit show:", err)
			return 1
		}
		for _, e := range es {
			entries = append(entries, apiv1.AuditEntry(e))
		}
	} else if err := api.do("GET", "/v1/audit?after="+strconv.FormatUint(*after, 10)+"&limit="+strconv.Itoa(*limit), nil, &entries); err != nil {
		fmt.Fprintln(stderr, "callboxctl audit show:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(entries)
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tROLE\tACTION\tTARGET\tSTATUS\tDETAIL")
	for _, e := range entries {
		var det []string
		for k, v := range e.Detail {
			det = append(det, k+"="+v)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", e.Seq, e.Time.Local().Format("2006-01-02 15:04:05"), e.Actor, e.Role, e.Action, e.Target, e.Status, strings.Join(det, " "))
	}
	tw.Flush()
	return 0
}
