// Command callboxctl is the site engineer's and script writer's tool: it
// drives callboxd through its HTTP API (calls, records, trunks) and runs
// offline tools (flow lint and chat, audio devices).
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `usage: callboxctl [--api URL] [--token TOKEN] COMMAND [ARGS]

Commands:
  call NUMBER --say TEXT [--trunk NAME] [--voice V] [--wait-dtmf N]
                              place a call, speak TEXT, collect N digits, print the record
  calls [--limit N] [--json]  list call records, newest first
  call-record ID [--json]     show one call record
  trunks [--json]             show trunk registration and keepalive state
  campaign create|list|show|start|pause|resume|stop|archive|import|report ...
                              run outbound campaigns (callboxctl campaign for details)
  dnc add|remove|check NUMBER [--scope S]
                              do-not-call lists
  flow lint FILE...           validate dialogue flow files
  flow chat FILE --profile k=v...
                              talk to a flow in the terminal
  flow push NAME FILE | validate FILE... | list | show NAME [--version N] | versions NAME | rm NAME
                              stored, versioned flows on the cluster ("store:NAME[@N]" in campaigns and calls)
  whoami [--json]             who the token or session is, with its permissions
  transcript CALLID [--json]  a call's transcript (card and ID numbers redacted)
  recording CALLID [-o FILE]  download a call's recording as WAV (audited)
  recording pause|resume CALLID
                              pause the recording while a caller reads out card data
  stats [--json]              media plane statistics
  openapi                     print the API's OpenAPI document
  audio devices [--json]      list local audio devices (PortAudio)
  console CALLID listen|whisper|barge|off
                              put the supervisor's headset at the box on a live call
  sim [--listen ADDR] ...     run the callee simulator (personas by number)
  demo [--contacts N]         run a box against the simulator with a sample campaign
  chaos check --campaign ID --log FILE...
                              judge a campaign from the simulators' far-end logs: lost, duplicated, reconciled
  cluster init|token create|join|leave|remove|status
                              form and manage a cluster of boxes (see callboxctl cluster help)
  users list|add|passwd|delete|token create|token list|token revoke
                              manage users and API tokens (admin)
  export [--format csv|jsonl] [--campaign ID] [--since T] [--until T] [--tz ZONE] [-o FILE]
                              export call records (CSV with FreeSWITCH CDR columns, or JSON lines)
  audit verify [--data-dir DIR | --file F]
                              check the audit log offline (exit 3 when tampered)
  audit show [--after SEQ] [--limit N]
                              list audit entries
  version

The API address comes from --api, else $CALLBOX_API, else http://127.0.0.1:8080.
The token comes from --token, else $CALLBOX_TOKEN.
For https:// addresses the box's certificate is trusted from --ca FILE, else
$CALLBOX_CA, else /var/lib/callbox/tls/cert.pem when readable.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	api := &client{base: envOr("CALLBOX_API", "http://127.0.0.1:8080"), token: os.Getenv("CALLBOX_TOKEN")}
	caFile := os.Getenv("CALLBOX_CA")
	for len(args) > 0 {
		switch {
		case args[0] == "--api" && len(args) > 1:
			api.base, args = args[1], args[2:]
		case args[0] == "--token" && len(args) > 1:
			api.token, args = args[1], args[2:]
		case args[0] == "--ca" && len(args) > 1:
			caFile, args = args[1], args[2:]
		default:
			goto dispatch
		}
	}
dispatch:
	if err := api.trustCA(caFile); err != nil { // tls.go
		fmt.Fprintln(stderr, "callboxctl:", err)
		return 2
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "call":
		return runCall(api, rest, stdout, stderr)
	case "calls":
		return runCalls(api, rest, stdout, stderr)
	case "call-record":
		return runCallRecord(api, rest, stdout, stderr)
	case "trunks":
		return runTrunks(api, rest, stdout, stderr)
	case "campaign":
		return runCampaign(api, rest, stdout, stderr)
	case "dnc":
		return runDNC(api, rest, stdout, stderr)
	case "flow":
		if len(rest) > 0 {
			if code, ok := runFlowRemote(api, rest[0], rest[1:], stdout, stderr); ok { // flowremote.go
				return code
			}
		}
		return runFlow(rest, stdin, stdout, stderr)
	case "whoami", "transcript", "recording", "stats", "openapi":
		return runMisc(api, cmd, rest, stdout, stderr) // misc.go
	case "audio":
		return runAudio(rest, stdout, stderr)
	case "console":
		return runConsole(api, rest, stdout, stderr)
	case "sim":
		return runSim(rest, stdout, stderr)
	case "chaos":
		return runChaos(api, rest, stdout, stderr) // chaos.go
	case "demo":
		return runDemo(rest, stdout, stderr)
	case "cluster":
		return runCluster(api, rest, stdout, stderr)
	case "users":
		return runUsers(api, rest, stdin, stdout, stderr)
	case "audit":
		return runAudit(api, rest, stdout, stderr)
	case "export":
		return runExport(api, rest, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "callboxctl", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "callboxctl: unknown command %q\n\n%s", cmd, usage)
	return 2
}

var version = "dev"

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
