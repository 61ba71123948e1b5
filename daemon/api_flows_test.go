package daemon

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"callbox/daemon/apiv1"
	"callbox/daemon/config"
)

// sendYAML sends body as a flow file with the client's token.
func sendYAML(t *testing.T, c *apiClient, method, path string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/yaml")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// compact removes JSON whitespace so answers can be searched.
func compact(raw []byte) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

func schemaCheck(t *testing.T, what, schema string, raw []byte) {
	t.Helper()
	docRaw, err := OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := loadOpenAPI(t, docRaw)
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v: %s", what, err, raw)
	}
	s := map[string]any{"$ref": "#/components/schemas/" + strings.TrimPrefix(schema, "[]")}
	if strings.HasPrefix(schema, "[]") {
		s = map[string]any{"type": "array", "items": s}
	}
	if err := (&schemaChecker{defs: doc.Components.Schemas}).check(s, v, "$"); err != nil {
		t.Errorf("%s does not match %s: %v", what, schema, err)
	}
}

// TestFlowsAPI: validate, upload versions, read them back, roles, a
// campaign pinned to a version, archive refused while it runs.
func TestFlowsAPI(t *testing.T) {
	b := startBox(t, freePort(t), func(c *config.Config) { c.API.Token = "flows-bootstrap-token" })
	cl := roleTokens(t, b, "flows-bootstrap-token")
	admin, viewer, auditor := cl["admin"], cl["viewer"], cl["auditor"]
	good, err := os.ReadFile("testdata/flows/voice-test.en.yaml")
	if err != nil {
		t.Fatal(err)
	}
	broken, err := os.ReadFile("testdata/flows/broken.yaml")
	if err != nil {
		t.Fatal(err)
	}

	// validate: the same wording as callboxctl flow lint (broken.yaml:9:11)
	code, raw := sendYAML(t, admin, "POST", "/v1/flows/validate?file=broken.yaml", broken)
	if code != 400 || !strings.Contains(string(raw), "broken.yaml:9:11: ") || !strings.Contains(string(raw), "unknown node") {
		t.Fatalf("validate broken: %d %s", code, raw)
	}
	schemaCheck(t, "validate 400", "FlowInvalid", raw)
	code, raw = sendYAML(t, admin, "POST", "/v1/flows/validate", good)
	if code != 200 || !strings.Contains(compact(raw), `"name":"voice-test-en"`) {
		t.Fatalf("validate good: %d %s", code, raw)
	}
	schemaCheck(t, "validate 200", "FlowSummary", raw)

	// an invalid upload stores nothing
	if code, raw := sendYAML(t, admin, "PUT", "/v1/flows/voice", broken); code != 400 || !strings.Contains(string(raw), "voice:9:11") {
		t.Fatalf("PUT broken: %d %s", code, raw)
	}
	if code, raw := admin.do("GET", "/v1/flows/voice", nil); code != 404 {
		t.Fatalf("an invalid upload was stored: %d %s", code, raw)
	}
	if code, _ := sendYAML(t, admin, "PUT", "/v1/flows/..", good); code != 400 && code != 404 {
		t.Fatalf("PUT with a bad name: %d", code)
	}
	// viewers and auditors read, never write
	if code, _ := sendYAML(t, viewer, "PUT", "/v1/flows/voice", good); code != 403 {
		t.Fatalf("viewer PUT: %d", code)
	}
	code, raw = sendYAML(t, cl["operator"], "PUT", "/v1/flows/voice", good)
	if code != 201 {
		t.Fatalf("PUT v1: %d %s", code, raw)
	}
	schemaCheck(t, "PUT 201", "FlowPut", raw)
	var put apiv1.FlowPut
	_ = json.Unmarshal(raw, &put)
	if put.Version != 1 || put.Ref != "store:voice@1" || put.Author != "operator1" {
		t.Fatalf("v1 = %+v", put)
	}
	if code, raw = sendYAML(t, admin, "PUT", "/v1/flows/voice", good); code != 200 || !strings.Contains(compact(raw), `"unchanged":true`) || !strings.Contains(compact(raw), `"version":1`) {
		t.Fatalf("identical PUT: %d %s", code, raw)
	}
	v2 := bytes.Replace(good, []byte("tomorrow morning"), []byte("on Friday"), 1)
	if code, raw = sendYAML(t, admin, "PUT", "/v1/flows/voice", v2); code != 201 || !strings.Contains(compact(raw), `"version":2`) {
		t.Fatalf("PUT v2: %d %s", code, raw)
	}
	var fv apiv1.FlowVersion
	viewer.must("GET", "/v1/flows/voice?version=1", nil, 200, &fv)
	if fv.Content != string(good) || fv.Version != 1 {
		t.Fatalf("version 1 content differs: %+v", fv.Version)
	}
	code, raw = auditor.do("GET", "/v1/flows/voice", nil)
	schemaCheck(t, "GET flow", "FlowVersion", raw)
	if code != 200 || !strings.Contains(string(raw), "on Friday") {
		t.Fatalf("latest: %d", code)
	}
	code, raw = viewer.do("GET", "/v1/flows/voice/versions", nil)
	schemaCheck(t, "versions", "[]FlowVersion", raw)
	var vs []apiv1.FlowVersion
	_ = json.Unmarshal(raw, &vs)
	if code != 200 || len(vs) != 2 || vs[0].Version != 2 || vs[1].Author != "operator1" {
		t.Fatalf("versions: %d %s", code, raw)
	}
	code, raw = viewer.do("GET", "/v1/flows", nil)
	schemaCheck(t, "list", "[]Flow", raw)
	if code != 200 || !strings.Contains(compact(raw), `"latest":2`) {
		t.Fatalf("list: %d %s", code, raw)
	}

	// a campaign pinned to version 1; archive refused while it runs
	spec := apiv1.CampaignSpec{ID: "pinned", Flow: "store:voice@1", Windows: []apiv1.Window{{Start: "00:00", End: "23:59"}}, Pacing: apiv1.Pacing{MaxConcurrent: 1}}
	if code, raw := admin.do("POST", "/v1/campaigns", apiv1.CampaignSpec{ID: "bad", Flow: "store:voice@7", Pacing: apiv1.Pacing{MaxConcurrent: 1}}); code != 404 {
		t.Fatalf("campaign on a missing version: %d %s", code, raw)
	}
	admin.must("POST", "/v1/campaigns", spec, 201, nil)
	admin.must("POST", "/v1/campaigns/pinned/start", nil, 200, nil)
	if code, raw := admin.do("DELETE", "/v1/flows/voice", nil); code != 409 || !strings.Contains(string(raw), "pinned") {
		t.Fatalf("archive while running: %d %s", code, raw)
	}
	admin.must("POST", "/v1/campaigns/pinned/stop", nil, 200, nil)
	if code, raw := viewer.do("DELETE", "/v1/flows/voice", nil); code != 403 {
		t.Fatalf("viewer archive: %d %s", code, raw)
	}
	if code, raw := admin.do("DELETE", "/v1/flows/voice", nil); code != 204 {
		t.Fatalf("archive: %d %s", code, raw)
	}
	if code, raw := viewer.do("GET", "/v1/flows", nil); code != 200 || string(bytes.TrimSpace(raw)) != "[]" {
		t.Fatalf("list after archive: %s", raw)
	}
	viewer.must("GET", "/v1/flows/voice?version=2", nil, 200, &fv) // still readable for the records

	// every change is in the audit log with its version
	code, raw = auditor.do("GET", "/v1/audit", nil)
	for _, want := range []string{`"action":"flow.version"`, `"version":"2"`, `"action":"flow.archive"`, `"PUT /v1/flows/{name}"`} {
		if code != 200 || !strings.Contains(compact(raw), want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
}

// TestStoredFlowCall runs a real call on a pinned stored flow version:
// the record names the version the callee heard.
func TestStoredFlowCall(t *testing.T) {
	needVoiceTools(t)
	s := startSim(t)
	b := flowBox(t, s, func(c *config.Config) { c.Flows.Dir = t.TempDir() }) // nothing on disk
	admin := &apiClient{t: t, base: "http://" + b.api}
	good, _ := os.ReadFile("testdata/flows/voice-test.en.yaml")
	if code, raw := sendYAML(t, admin, "PUT", "/v1/flows/voice", good); code != 201 {
		t.Fatalf("PUT: %d %s", code, raw)
	}
	v2 := bytes.Replace(good, []byte("Press one to confirm"), []byte("Press one now to confirm"), 1)
	if code, raw := sendYAML(t, admin, "PUT", "/v1/flows/voice", v2); code != 201 {
		t.Fatalf("PUT v2: %d %s", code, raw)
	}
	if _, code, body := b.call(apiv1.PlaceCall{Number: "+861380000003", Flow: "store:voice@9"}); code != 400 || !strings.Contains(body, "store:voice@9") {
		t.Fatalf("missing version: %d %s", code, body)
	}
	rec, code, body := b.call(apiv1.PlaceCall{Number: "+861380000003", Flow: "store:voice@1", Profile: map[string]string{"mode": "menu"}})
	if code != 200 {
		t.Fatalf("call: %d %s", code, body)
	}
	if !strings.HasSuffix(rec.Flow, "/flowstore/voice@1.yaml") || rec.Dialogue == nil || rec.Dialogue.Disposition != "converted" {
		t.Fatalf("record flow %q dialogue %+v; want voice@1 converted", rec.Flow, rec.Dialogue)
	}
	prompt := ""
	for _, tr := range rec.Transcript {
		prompt += tr.Text + " "
	}
	if strings.Contains(prompt, "one now") {
		t.Fatalf("version 2's prompt was spoken on a call pinned to version 1: %s", prompt)
	}
}
