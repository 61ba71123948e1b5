package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"callbox/daemon/apiv1"
)

const usersUsage = `usage:
  callboxctl users list [--json]
  callboxctl users add NAME --role admin|operator|auditor|viewer   (password read from stdin)
  callboxctl users passwd NAME                                     (password read from stdin)
  callboxctl users delete NAME
  callboxctl users token create --name LABEL [--user NAME] [--role ROLE] [--ttl 720h] [--json]
  callboxctl users token list [--user NAME] [--json]
  callboxctl users token revoke ID
Passwords are never taken on the command line (other users could see them
in the process list): type them, or pipe them in.
`

func runUsers(api *client, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usersUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	fail := func(err error) int {
		fmt.Fprintf(stderr, "callboxctl users %s: %v\n", sub, err)
		return 1
	}
	switch sub {
	case "list":
		fs := flag.NewFlagSet("users list", flag.ContinueOnError)
		fs.SetOutput(stderr)
		asJSON := fs.Bool("json", false, "print JSON")
		if fs.Parse(rest) != nil {
			return 2
		}
		var users []apiv1.User
		if err := api.do("GET", "/v1/users", nil, &users); err != nil {
			return fail(err)
		}
		if *asJSON {
			return printJSON(stdout, users)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tPASSWORD SET")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.Created.Local().Format(time.DateTime), u.PasswordSet.Local().Format(time.DateTime))
		}
		tw.Flush()
		return 0
	case "add":
		name, flags := splitPositional(rest)
		fs := flag.NewFlagSet("users add", flag.ContinueOnError)
		fs.SetOutput(stderr)
		role := fs.String("role", "", "admin, operator, auditor or viewer (required)")
		if fs.Parse(flags) != nil {
			return 2
		}
		if name == "" || *role == "" {
			fmt.Fprint(stderr, "callboxctl users add: NAME and --role are required\n"+usersUsage)
			return 2
		}
		pw, err := readPassword(stdin, stderr, "password for "+name)
		if err != nil {
			return fail(err)
		}
		var u apiv1.User
		if err := api.do("POST", "/v1/users", apiv1.NewUser{Name: name, Role: *role, Password: pw}, &u); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "user %s added with role %s\n", u.Name, u.Role)
		return 0
	case "passwd":
		if len(rest) != 1 {
			fmt.Fprint(stderr, "callboxctl users passwd: NAME is required\n"+usersUsage)
			return 2
		}
		pw, err := readPassword(stdin, stderr, "new password for "+rest[0])
		if err != nil {
			return fail(err)
		}
		if err := api.do("PUT", "/v1/users/"+url.PathEscape(rest[0])+"/password", apiv1.SetPassword{Password: pw}, nil); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "password of %s changed; their sessions were ended\n", rest[0])
		return 0
	case "delete":
		if len(rest) != 1 {
			fmt.Fprint(stderr, "callboxctl users delete: NAME is required\n"+usersUsage)
			return 2
		}
		if err := api.do("DELETE", "/v1/users/"+url.PathEscape(rest[0]), nil, nil); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "user %s and their tokens deleted\n", rest[0])
		return 0
	case "token":
		return runUsersToken(api, rest, stdout, stderr)
	}
	fmt.Fprintf(stderr, "callboxctl users: unknown subcommand %q\n%s", sub, usersUsage)
	return 2
}

func runUsersToken(api *client, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usersUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	fail := func(err error) int {
		fmt.Fprintf(stderr, "callboxctl users token %s: %v\n", sub, err)
		return 1
	}
	switch sub {
	case "create":
		fs := flag.NewFlagSet("users token create", flag.ContinueOnError)
		fs.SetOutput(stderr)
		var body apiv1.NewToken
		fs.StringVar(&body.Name, "name", "", "a label for the token (required)")
		fs.StringVar(&body.User, "user", "", "the user it acts as (default: you)")
		fs.StringVar(&body.Role, "role", "", "a role no higher than the user's (default: the user's)")
		ttl := fs.Duration("ttl", 0, "lifetime, e.g. 720h (default: no expiry)")
		asJSON := fs.Bool("json", false, "print JSON")
		if fs.Parse(rest) != nil {
			return 2
		}
		if body.Name == "" {
			fmt.Fprint(stderr, "callboxctl users token create: --name is required\n"+usersUsage)
			return 2
		}
		body.TTLSec = int64(ttl.Seconds())
		var tok apiv1.CreatedToken
		if err := api.do("POST", "/v1/tokens", body, &tok); err != nil {
			return fail(err)
		}
		if *asJSON {
			return printJSON(stdout, tok)
		}
		fmt.Fprintf(stdout, "token %s for %s (%s) created. It is shown once; store it now:\n%s\n", tok.ID, tok.User, tok.Role, tok.Secret)
		return 0
	case "list":
		fs := flag.NewFlagSet("users token list", flag.ContinueOnError)
		fs.SetOutput(stderr)
		user := fs.String("user", "", "only this user's tokens")
		asJSON := fs.Bool("json", false, "print JSON")
		if fs.Parse(rest) != nil {
			return 2
		}
		var toks []apiv1.Token
		if err := api.do("GET", "/v1/tokens?user="+url.QueryEscape(*user), nil, &toks); err != nil {
			return fail(err)
		}
		if *asJSON {
			return printJSON(stdout, toks)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tUSER\tROLE\tCREATED\tEXPIRES")
		for _, t := range toks {
			exp := "never"
			if t.Expires != nil {
				exp = t.Expires.Local().Format(time.DateTime)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.User, t.Role, t.Created.Local().Format(time.DateTime), exp)
		}
		tw.Flush()
		return 0
	case "revoke":
		if len(rest) != 1 {
			fmt.Fprint(stderr, "callboxctl users token revoke: ID is required\n"+usersUsage)
			return 2
		}
		if err := api.do("DELETE", "/v1/tokens/"+url.PathEscape(rest[0]), nil, nil); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "token %s revoked\n", rest[0])
		return 0
	}
	fmt.Fprintf(stderr, "callboxctl users token: unknown subcommand %q\n%s", sub, usersUsage)
	return 2
}

// readPassword reads one line from stdin (typed or piped).
func readPassword(stdin io.Reader, stderr io.Writer, prompt string) (string, error) {
	fmt.Fprintf(stderr, "%s: ", prompt)
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", fmt.Errorf("empty password")
	}
	return pw, nil
}
