package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"callbox/cluster"
	"callbox/daemon/config"
)

const clusterUsage = `usage: callboxctl cluster SUBCOMMAND

  init [--config FILE] [--tls-dir DIR] [--id ID]
        on the first box, before starting callboxd: create the cluster CA
        (ECDSA P-256) and this box's certificate under <data_dir>/cluster/tls
  token create [--ttl 1h]
        on a running voter: print a one-time join token
  join TOKEN [--non-voter] [--config FILE] [--tls-dir DIR] [--id ID]
        on a new box, before its first start: get a certificate through the
        token (the member's CA fingerprint is pinned); callboxd then asks to
        be added on first start (set cluster.bootstrap: false there)
  leave                 remove this box from the cluster (its open calls are handed over)
  remove ID             remove a dead box
  status [--json]       members, leader, raft index, each box's lease and capacity
`

func runCluster(api *client, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, clusterUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "init":
		return clusterInit(rest, stdout, stderr)
	case "join":
		return clusterJoin(rest, stdout, stderr)
	case "token":
		if len(rest) > 0 && rest[0] == "create" {
			rest = rest[1:]
		}
		return clusterToken(api, rest, stdout, stderr)
	case "leave":
		var out map[string]string
		if err := api.do("POST", "/v1/cluster/leave", map[string]string{}, &out); err != nil {
			fmt.Fprintln(stderr, "callboxctl cluster leave:", err)
			return 1
		}
		fmt.Fprintf(stdout, "%s left the cluster; stop callboxd on it now\n", out["left"])
		return 0
	case "remove":
		if len(rest) != 1 {
			fmt.Fprintln(stderr, "usage: callboxctl cluster remove ID")
			return 2
		}
		if err := api.do("POST", "/v1/cluster/remove", map[string]string{"id": rest[0]}, nil); err != nil {
			fmt.Fprintln(stderr, "callboxctl cluster remove:", err)
			return 1
		}
		fmt.Fprintf(stdout, "removed %s\n", rest[0])
		return 0
	case "status":
		return clusterStatus(api, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, clusterUsage)
		return 0
	}
	fmt.Fprintf(stderr, "callboxctl cluster: unknown subcommand %q\n\n%s", sub, clusterUsage)
	return 2
}

// boxFlags resolves the TLS directory and node id from the config file
// unless given on the command line.
type boxFlags struct {
	config, tlsDir, id string
}

func (b *boxFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&b.config, "config", "/etc/callbox/callboxd.yaml", "callboxd configuration `file`")
	fs.StringVar(&b.tlsDir, "tls-dir", "", "cluster TLS `dir` (default: from the config)")
	fs.StringVar(&b.id, "id", "", "node `id` (default: from the config)")
}

func (b *boxFlags) resolve() (tlsDir, id string, err error) {
	tlsDir, id = b.tlsDir, b.id
	if tlsDir != "" && id != "" {
		return tlsDir, id, nil
	}
	cfg, err := config.Load(b.config)
	if err != nil {
		return "", "", fmt.Errorf("%w (or give --tls-dir and --id)", err)
	}
	if tlsDir == "" {
		tlsDir = cfg.Cluster.TLSDir
		if tlsDir == "" {
			tlsDir = filepath.Join(cfg.Box.DataDir, "cluster", "tls")
		}
	}
	if id == "" {
		id = cfg.Cluster.NodeID
		if id == "" {
			id = cfg.Box.ID
		}
	}
	return tlsDir, id, nil
}

func clusterInit(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cluster init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var b boxFlags
	b.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	tlsDir, id, err := b.resolve()
	if err != nil {
		fmt.Fprintln(stderr, "callboxctl cluster init:", err)
		return 2
	}
	m, err := cluster.InitCA(tlsDir, id, time.Now())
	if err != nil {
		fmt.Fprintln(stderr, "callboxctl cluster init:", err)
		return 1
	}
	fmt.Fprintf(stdout, "cluster CA created in %s\nCA fingerprint %s\nbox %s certified; start callboxd, then run `callboxctl cluster token create`\n",
		tlsDir, m.CAFingerprint(), id)
	return 0
}

func clusterJoin(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cluster join", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var b boxFlags
	b.register(fs)
	nonVoter := fs.Bool("non-voter", false, "join as a non-voting member (replicates, never votes)")
	var token string
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		token, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if token == "" && fs.NArg() == 1 {
		token = fs.Arg(0)
	}
	if token == "" {
		fmt.Fprintln(stderr, "usage: callboxctl cluster join TOKEN [--non-voter] [--config FILE]")
		return 2
	}
	tlsDir, id, err := b.resolve()
	if err != nil {
		fmt.Fprintln(stderr, "callboxctl cluster join:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cluster.Join(ctx, token, id, tlsDir, !*nonVoter); err != nil {
		fmt.Fprintln(stderr, "callboxctl cluster join:", err)
		return 1
	}
	role := "voter"
	if *nonVoter {
		role = "non-voter"
	}
	fmt.Fprintf(stdout, "box %s certified as a %s in %s; start callboxd (cluster.bootstrap: false) and it joins\n", id, role, tlsDir)
	return 0
}

func clusterToken(api *client, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cluster token create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ttl := fs.Duration("ttl", time.Hour, "how long the token stays valid (one use)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var out struct {
		Token   string    `json:"token"`
		Expires time.Time `json:"expires"`
	}
	if err := api.do("POST", "/v1/cluster/tokens", map[string]string{"ttl": ttl.String()}, &out); err != nil {
		fmt.Fprintln(stderr, "callboxctl cluster token:", err)
		return 1
	}
	fmt.Fprintln(stdout, out.Token)
	fmt.Fprintf(os.Stderr, "one use, expires %s\n", out.Expires.Local().Format(time.RFC3339))
	return 0
}

func clusterStatus(api *client, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cluster status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var st cluster.Status
	if err := api.do("GET", "/v1/cluster/status", nil, &st); err != nil {
		fmt.Fprintln(stderr, "callboxctl cluster status:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(st)
		return 0
	}
	fmt.Fprintf(stdout, "box %s is %s; leader %s (%s); term %s; applied index %d\n\n",
		st.NodeID, st.State, orDash(st.LeaderID), orDash(st.LeaderAddr), st.Term, st.AppliedIndex)
	boxes := map[string]cluster.Box{}
	for _, b := range st.Boxes {
		boxes[b.ID] = b
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MEMBER\tADDRESS\tROLE\tLEASE\tLINES\tACTIVE\tTRUNKS UP")
	now := time.Now()
	for _, m := range st.Members {
		role := "voter"
		if !m.Voter {
			role = "non-voter"
		}
		if m.Leader {
			role += " (leader)"
		}
		lease, lines, active, trunks := "-", "-", "-", "-"
		if b, ok := boxes[m.ID]; ok {
			lease = string(b.State)
			if b.State == cluster.BoxActive {
				if d := b.LeaseUntil.Sub(now); d > 0 {
					lease = fmt.Sprintf("valid %.1fs", d.Seconds())
				} else {
					lease = fmt.Sprintf("lapsed %.1fs ago", -d.Seconds())
				}
			}
			lines, active, trunks = fmt.Sprint(b.Lines), fmt.Sprint(b.Active), fmt.Sprint(b.TrunksUp)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, m.Addr, role, lease, lines, active, trunks)
	}
	tw.Flush()
	return 0
}
