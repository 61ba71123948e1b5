package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// operationCommands maps every operation of the API document to the
// callboxctl command that drives it (placeholders: {dir} a temporary
// directory, {flow} a valid flow file). An operation a command cannot
// sensibly drive is listed in operationExempt with the reason.
var operationCommands = map[string]string{
	"placeCall":        "call +8613800000001 --say hi",
	"listCalls":        "calls",
	"getCall":          "call-record c1",
	"exportCalls":      "export -o {dir}/out.csv",
	"console":          "console c1 listen",
	"recording":        "recording c1 -o {dir}/c1.wav",
	"recordingControl": "recording pause c1",
	"transcript":       "transcript c1",
	"trunks":           "trunks",
	"mediaStats":       "stats",
	"openapi":          "openapi",
	"whoami":           "whoami",
	"listUsers":        "users list",
	"addUser":          "users add bob --role viewer",
	"deleteUser":       "users delete bob",
	"setPassword":      "users passwd bob",
	"listTokens":       "users token list",
	"createToken":      "users token create --name ci",
	"revokeToken":      "users token revoke t1",
	"audit":            "audit show",
	"auditVerify":      "audit verify --remote",
	"createCampaign":   "campaign create {dir}/campaign.json",
	"listCampaigns":    "campaign list",
	"getCampaign":      "campaign show k1",
	"campaignAction":   "campaign pause k1",
	"importContacts":   "campaign import k1 {dir}/contacts.csv",
	"campaignReport":   "campaign report k1",
	"campaignAttempts": "campaign attempts k1",
	"campaignSeries":   "campaign series k1 --step 1m",
	"addDNC":           "dnc add +8613800000001",
	"removeDNC":        "dnc remove +8613800000001",
	"checkDNC":         "dnc check +8613800000001",
	"clusterStatus":    "cluster status",
	"clusterToken":     "cluster token create",
	"clusterLeave":     "cluster leave",
	"clusterRemove":    "cluster remove box2",
	"validateFlow":     "flow validate {flow}",
	"putFlow":          "flow push remind {flow}",
	"listFlows":        "flow list",
	"getFlow":          "flow show remind --version 2",
	"flowVersions":     "flow versions remind",
	"archiveFlow":      "flow rm remind",
}

var operationExempt = map[string]string{
	"health":         "a probe for systemd and monitoring (curl), answered without credentials",
	"metrics":        "scraped by Prometheus",
	"dashboard":      "the browser dashboard",
	"dashboardAsset": "the browser dashboard",
	"login":          "dashboard sessions; callboxctl authenticates with tokens",
	"logout":         "dashboard sessions; callboxctl authenticates with tokens",
	"events":         "the dashboard's WebSocket stream",
}

type docOp struct{ id, method, path string }

func apiOperations(t *testing.T) []docOp {
	raw, err := os.ReadFile("../../daemon/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var out []docOp
	for p, ms := range doc.Paths {
		for m, op := range ms {
			out = append(out, docOp{op.OperationID, strings.ToUpper(m), p})
		}
	}
	return out
}

// TestEveryOperationHasACommand runs each operation's command against a
// recording HTTP server and requires it to send that operation's method
// and path: a new endpoint without a command fails here.
func TestEveryOperationHasACommand(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path)
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	flowFile := filepath.Join(dir, "remind.yaml")
	os.WriteFile(flowFile, []byte("version: 1\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "campaign.json"), []byte(`{"id":"k1","prompt":"hi"}`), 0o600)
	os.WriteFile(filepath.Join(dir, "contacts.csv"), []byte("phone\n+8613800000001\n"), 0o600)

	ops := apiOperations(t)
	if len(ops) < 40 {
		t.Fatalf("only %d operations in the document", len(ops))
	}
	for _, op := range ops {
		cmd, ok := operationCommands[op.id]
		if _, exempt := operationExempt[op.id]; exempt {
			continue
		}
		if !ok {
			t.Errorf("operation %s (%s %s) has no callboxctl command: add one and list it in operationCommands", op.id, op.method, op.path)
			continue
		}
		cmd = strings.NewReplacer("{dir}", dir, "{flow}", flowFile).Replace(cmd)
		want := regexp.MustCompile("^" + op.method + " " + regexp.MustCompile(`\\\{\w+\\\}`).ReplaceAllString(regexp.QuoteMeta(op.path), `[^/]+`) + "$")
		mu.Lock()
		seen = nil
		mu.Unlock()
		var stdout, stderr strings.Builder
		run(append([]string{"--api", srv.URL}, strings.Fields(cmd)...), strings.NewReader("a long password\n"), &stdout, &stderr)
		mu.Lock()
		hit := false
		for _, s := range seen {
			hit = hit || want.MatchString(s)
		}
		got := append([]string(nil), seen...)
		mu.Unlock()
		if !hit {
			t.Errorf("callboxctl %s does not send %s %s (sent %v; stderr %q)", cmd, op.method, op.path, got, stderr.String())
		}
	}
	for id := range operationCommands {
		found := false
		for _, op := range ops {
			found = found || op.id == id
		}
		if !found {
			t.Errorf("operationCommands lists %q, which is not in the document", id)
		}
	}
}
