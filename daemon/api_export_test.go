package daemon

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"callbox/daemon/apiv1"
)

// TestExportCSVAndJSONL places one busy call against SIPp, exports it as
// CSV (header, the row, FreeSWITCH-style cause) and as JSON lines (valid
// against the OpenAPI CallRecord schema), and checks the viewer sees the
// number masked and no recording link.
func TestExportCSVAndJSONL(t *testing.T) {
	requireEspeak(t)
	s := startSIPp(t, "uas-busy.xml")
	b := startBox(t, s.port, nil)
	rec, code, raw := b.call(apiv1.PlaceCall{Number: "+8613800000010", Say: "Hello there."})
	if code != 200 || rec.Disposition != "busy" {
		t.Fatalf("call: %d %s", code, raw)
	}
	s.wait(t)

	get := func(tok, query string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", "http://"+b.api+"/v1/calls/export?"+query, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	readCSV := func(body []byte) []map[string]string {
		rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
		if err != nil {
			t.Fatalf("csv: %v\n%s", err, body)
		}
		if len(rows) == 0 {
			t.Fatalf("no CSV header: %q", body)
		}
		if strings.Join(rows[0], ",") != strings.Join(ExportColumns, ",") {
			t.Fatalf("header %v", rows[0])
		}
		var out []map[string]string
		for _, r := range rows[1:] {
			m := map[string]string{}
			for i, c := range ExportColumns {
				m[c] = r[i]
			}
			out = append(out, m)
		}
		return out
	}

	resp, body := get("", "format=csv&since="+url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339)))
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export: %d %s", resp.StatusCode, body)
	}
	rows := readCSV(body)
	if len(rows) != 1 {
		t.Fatalf("%d rows: %s", len(rows), body)
	}
	r := rows[0]
	if r["uuid"] != rec.ID || r["destination_number"] != "+8613800000010" || r["disposition"] != "busy" ||
		r["sip_code"] != "486" || r["hangup_cause"] != "USER_BUSY" || r["billsec"] != "0" || r["context"] != "outbound" ||
		r["answer_stamp"] != "" || r["end_stamp"] == "" || r["start_stamp"] != rec.InviteAt.UTC().Format("2006-01-02 15:04:05") {
		t.Errorf("row %v", r)
	}
	// An empty window exports the header only; bad parameters are named.
	if _, body := get("", "until="+url.QueryEscape(time.Now().Add(-time.Hour).Format(time.RFC3339))); len(readCSV(body)) != 0 {
		t.Errorf("rows before the call: %s", body)
	}
	for q, want := range map[string]string{"format=xml": "format", "since=yesterday": "since", "tz=Mars/Base": "tz", "campaign=" + url.QueryEscape("a\x01b"): "Campaign"} {
		if resp, body := get("", q); resp.StatusCode != 400 || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %s", q, resp.StatusCode, body)
		}
	}

	// JSON lines: each line a CallRecord per the OpenAPI schema.
	resp, body = get("", "format=jsonl")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("jsonl: %d %s", resp.StatusCode, body)
	}
	docRaw, err := OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := loadOpenAPI(t, docRaw)
	chk := &schemaChecker{defs: doc.Components.Schemas}
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	lines := 0
	for sc.Scan() {
		lines++
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %d: %v", lines, err)
		}
		if err := chk.check(map[string]any{"$ref": "#/components/schemas/CallRecord"}, v, "$"); err != nil {
			t.Errorf("line %d: %v", lines, err)
		}
	}
	if lines != 1 {
		t.Errorf("%d JSON lines", lines)
	}

	// The viewer sees masked numbers. The first user (an admin, made in
	// setup mode) ends setup mode; it logs in (cookie + CSRF) to add the
	// viewer and the viewer's token.
	setup := &apiClient{t: t, base: "http://" + b.api}
	setup.must("POST", "/v1/users", apiv1.NewUser{Name: "adm", Role: "admin", Password: "admin password"}, http.StatusCreated, nil)
	adm := sessionClient(t, setup.base, "adm", "admin password")
	adm.must("POST", "/v1/users", apiv1.NewUser{Name: "view", Role: "viewer", Password: "viewer password"}, http.StatusCreated, nil)
	var tok apiv1.CreatedToken
	adm.must("POST", "/v1/tokens", apiv1.NewToken{Name: "export", User: "view"}, http.StatusCreated, &tok)
	resp, body = get(tok.Secret, "format=csv")
	rows = readCSV(body)
	if resp.StatusCode != 200 || len(rows) != 1 {
		t.Fatalf("viewer export: %d %s", resp.StatusCode, body)
	}
	if got := rows[0]["destination_number"]; got == "+8613800000010" || !strings.Contains(got, "*") {
		t.Errorf("viewer sees destination %q", got)
	}
	if resp, _ := get("", "format=csv"); resp.StatusCode != 401 {
		t.Errorf("no credentials after setup: %d", resp.StatusCode)
	}
}

// sessionClient logs in through POST /v1/login and returns a client that
// sends the session cookie and the CSRF token.
func sessionClient(t *testing.T, base, user, pass string) *apiClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Post(base+"/v1/login", "application/json", strings.NewReader(`{"username":"`+user+`","password":"`+pass+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sess apiv1.Session
	if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&sess) != nil || sess.CSRFToken == "" {
		t.Fatalf("login %s: %d", user, resp.StatusCode)
	}
	return &apiClient{t: t, base: base, csrf: sess.CSRFToken, http: hc}
}

func TestCSVSafeAndHangupCause(t *testing.T) {
	for in, want := range map[string]string{"+8613800000001": "+8613800000001", "=1+2": "'=1+2", "@x": "'@x", "-x": "'-x", "-1": "-1", "+": "'+", "": ""} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
	for _, c := range []struct {
		d     string
		code  int
		ended bool
		want  string
	}{{"answered", 200, true, "NORMAL_CLEARING"}, {"busy", 486, true, "USER_BUSY"}, {"no-answer", 0, true, "NO_ANSWER"},
		{"no-answer", 487, true, "ORIGINATOR_CANCEL"}, {"failed", 488, true, "INCOMPATIBLE_DESTINATION"}, {"answered", 200, false, ""}} {
		if got := HangupCause(c.d, c.code, c.ended); got != c.want {
			t.Errorf("HangupCause(%s, %d) = %s, want %s", c.d, c.code, got, c.want)
		}
	}
}

// FuzzExportQuery: any query string parses or is refused with an error;
// never a panic, and a parsed query is usable.
func FuzzExportQuery(f *testing.F) {
	f.Add("format=csv&campaign=c1&since=2026-01-01T00:00:00Z&until=2026-02-01T00:00:00Z&tz=Asia/Shanghai")
	f.Add("format=jsonl")
	f.Add("since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		eq, err := parseExportQuery(q)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if eq.format != "csv" && eq.format != "jsonl" || eq.loc == nil {
			t.Fatalf("parsed %+v", eq)
		}
		if !eq.filter.Since.IsZero() && !eq.filter.Until.IsZero() && !eq.filter.Since.Before(eq.filter.Until) {
			t.Fatalf("since %v not before until %v", eq.filter.Since, eq.filter.Until)
		}
	})
}
