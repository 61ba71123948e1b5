package daemon

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"callbox/daemon/apiv1"
	"callbox/daemon/audit"
	"callbox/daemon/config"
	"callbox/daemon/recstore"
	"callbox/media"
)

func init() { passwordIterations = 1000 } // fast logins in tests

// openRecording returns a recording's WAV bytes: decrypted and
// authenticated for .cbrec files (keys under the data directory that holds
// "recordings"), read as-is otherwise.
func openRecording(t *testing.T, path string) io.Reader {
	t.Helper()
	if !strings.HasSuffix(path, recstore.Ext) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return bytes.NewReader(data)
	}
	i := strings.LastIndex(path, string(filepath.Separator)+"recordings"+string(filepath.Separator))
	if i < 0 {
		t.Fatalf("%s is not under a recordings directory", path)
	}
	kr, err := recstore.LoadKeyring(filepath.Join(path[:i], "keys"))
	if err != nil {
		t.Fatal(err)
	}
	r, c, err := recstore.Open(path, kr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decrypting %s: %v", path, err)
	}
	return bytes.NewReader(data)
}

// apiClient sends JSON requests as one principal.
type apiClient struct {
	t     *testing.T
	base  string
	token string
	csrf  string
	http  *http.Client
}

func (c *apiClient) do(method, path string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.csrf != "" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	hc := c.http
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (c *apiClient) must(method, path string, body any, want int, out any) {
	c.t.Helper()
	code, raw := c.do(method, path, body)
	if code != want {
		c.t.Fatalf("%s %s: %d %s (want %d)", method, path, code, raw, want)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
}

// roleTokens creates one user and one token per role through the API and
// returns bearer clients by role.
func roleTokens(t *testing.T, b *box, boot string) map[string]*apiClient {
	admin := &apiClient{t: t, base: "http://" + b.api, token: boot}
	out := map[string]*apiClient{}
	for _, role := range []string{"admin", "operator", "auditor", "viewer"} {
		admin.must("POST", "/v1/users", apiv1.NewUser{Name: role + "1", Role: role, Password: role + " password!"}, http.StatusCreated, nil)
		var tok apiv1.CreatedToken
		admin.must("POST", "/v1/tokens", apiv1.NewToken{Name: "test", User: role + "1"}, http.StatusCreated, &tok)
		if tok.Role != role || !strings.HasPrefix(tok.Secret, "cbx_") {
			t.Fatalf("token %+v", tok)
		}
		out[role] = &apiClient{t: t, base: admin.base, token: tok.Secret}
	}
	return out
}

// TestRoleMatrix drives every route with every role against the real
// handler: a denied request is 403 (401 without credentials); an allowed
// one reaches its handler (any other status; bodies are chosen so allowed
// writes fail validation and change nothing).
func TestRoleMatrix(t *testing.T) {
	const boot = "bootstrap-secret-for-tests"
	b := startBox(t, freePort(t), func(c *config.Config) { c.API.Token = boot })
	clients := roleTokens(t, b, boot)
	clients["none"] = &apiClient{t: t, base: "http://" + b.api}
	// allowed roles per route, in order admin operator auditor viewer.
	routes := []struct {
		method, path string
		body         any
		allow        string
	}{
		{"GET", "/v1/calls", nil, "xxxx"},
		{"GET", "/v1/calls/nope", nil, "xxxx"},
		{"POST", "/v1/calls", map[string]any{}, "xx.."},
		{"POST", "/v1/calls/nope/console", map[string]any{"mode": "off"}, "xx.."},
		{"GET", "/v1/calls/nope/recording", nil, "xxx."},
		{"GET", "/v1/calls/nope/transcript", nil, "xxx."},
		{"GET", "/v1/trunks", nil, "xxxx"},
		{"GET", "/v1/stats/media", nil, "xxxx"},
		{"GET", "/v1/campaigns", nil, "xxxx"},
		{"POST", "/v1/campaigns", map[string]any{}, "xx.."},
		{"GET", "/v1/campaigns/nope", nil, "xxxx"},
		{"POST", "/v1/dnc", map[string]any{}, "xx.."},
		{"GET", "/v1/cluster/status", nil, "xxxx"},
		{"GET", "/v1/whoami", nil, "xxxx"},
		{"GET", "/v1/users", nil, "x..."},
		{"POST", "/v1/users", map[string]any{}, "x..."},
		{"DELETE", "/v1/users/nobody", nil, "x..."},
		{"PUT", "/v1/users/nobody/password", map[string]any{"password": "0123456789ab"}, "x..."},
		{"GET", "/v1/tokens", nil, "x..."},
		{"POST", "/v1/tokens", map[string]any{}, "x..."},
		{"DELETE", "/v1/tokens/nope", nil, "x..."},
		{"GET", "/v1/audit", nil, "x.x."},
		{"GET", "/v1/audit/verify", nil, "x.x."},
	}
	for _, rt := range routes {
		for i, role := range []string{"admin", "operator", "auditor", "viewer", "none"} {
			code, raw := clients[role].do(rt.method, rt.path, rt.body)
			allowed := role != "none" && rt.allow[i] == 'x'
			switch {
			case role == "none" && code != http.StatusUnauthorized:
				t.Errorf("%s %s without credentials: %d %s", rt.method, rt.path, code, raw)
			case role != "none" && allowed && (code == http.StatusUnauthorized || code == http.StatusForbidden):
				t.Errorf("%s %s as %s: denied (%d %s), want allowed", rt.method, rt.path, role, code, raw)
			case role != "none" && !allowed && code != http.StatusForbidden:
				t.Errorf("%s %s as %s: %d %s, want 403", rt.method, rt.path, role, code, raw)
			}
		}
	}
	// Every user may change their own password, not another's.
	op := clients["operator"]
	if code, raw := op.do("PUT", "/v1/users/operator1/password", map[string]any{"password": "a new operator pw"}); code != http.StatusNoContent {
		t.Errorf("own password: %d %s", code, raw)
	}
	if code, _ := op.do("PUT", "/v1/users/viewer1/password", map[string]any{"password": "a new viewer pw!"}); code != http.StatusForbidden {
		t.Errorf("someone else's password: %d", code)
	}
	// The audit log holds the writes, including the denied ones, and verifies.
	var entries []apiv1.AuditEntry
	clients["auditor"].must("GET", "/v1/audit?limit=100000", nil, http.StatusOK, &entries)
	var denied, created bool
	for _, e := range entries {
		if e.Action == "POST /v1/calls" && e.Actor == "viewer1" && e.Status == http.StatusForbidden {
			denied = true
		}
		if e.Action == "POST /v1/users" && e.Actor == "bootstrap" && e.Status == http.StatusCreated {
			created = true
		}
	}
	if !denied || !created {
		t.Errorf("audit lacks entries (denied viewer call %v, user creation %v) in %d entries", denied, created, len(entries))
	}
	var v apiv1.AuditVerify
	clients["auditor"].must("GET", "/v1/audit/verify", nil, http.StatusOK, &v)
	if !v.OK || v.Entries != len(entries) || !v.MACs {
		t.Errorf("verify: %+v", v)
	}
}

// TestLoginSessionCSRF logs in through the API with a cookie jar: reads
// work, a write without the CSRF header is refused, with it allowed;
// repeated failures are slowed down (429 with Retry-After).
func TestLoginSessionCSRF(t *testing.T) {
	b := startBox(t, freePort(t), nil)
	setup := &apiClient{t: t, base: "http://" + b.api} // setup mode: loopback is admin
	var who apiv1.Session
	setup.must("GET", "/v1/whoami", nil, http.StatusOK, &who)
	if !who.SetupMode || who.Role != "admin" {
		t.Fatalf("setup mode whoami %+v", who)
	}
	setup.must("POST", "/v1/users", apiv1.NewUser{Name: "ops", Role: "operator", Password: "operator password"}, http.StatusCreated, nil)
	// Setup mode ended with the first user.
	if code, _ := setup.do("GET", "/v1/calls", nil); code != http.StatusUnauthorized {
		t.Fatalf("after the first user, anonymous GET: %d", code)
	}
	jar, _ := cookiejar.New(nil)
	web := &apiClient{t: t, base: setup.base, http: &http.Client{Jar: jar}}
	var sess apiv1.Session
	web.must("POST", "/v1/login", apiv1.Login{Username: "ops", Password: "operator password"}, http.StatusOK, &sess)
	if sess.CSRFToken == "" || sess.Role != "operator" {
		t.Fatalf("login answer %+v", sess)
	}
	web.must("GET", "/v1/calls", nil, http.StatusOK, nil)
	if code, raw := web.do("POST", "/v1/calls", map[string]any{}); code != http.StatusForbidden || !strings.Contains(string(raw), "CSRF") {
		t.Fatalf("cookie write without CSRF: %d %s", code, raw)
	}
	web.csrf = sess.CSRFToken
	if code, raw := web.do("POST", "/v1/calls", map[string]any{}); code != http.StatusBadRequest {
		t.Fatalf("cookie write with CSRF: %d %s (want 400 from the handler)", code, raw)
	}
	web.must("POST", "/v1/logout", nil, http.StatusNoContent, nil)
	if code, _ := web.do("GET", "/v1/calls", nil); code != http.StatusUnauthorized {
		t.Fatalf("after logout: %d", code)
	}
	// Failed logins: 3 free, then 429 with Retry-After.
	anon := &apiClient{t: t, base: setup.base}
	for i := 0; i < 3; i++ {
		if code, _ := anon.do("POST", "/v1/login", apiv1.Login{Username: "ops", Password: "wrong password"}); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, code)
		}
	}
	req, _ := http.NewRequest("POST", setup.base+"/v1/login", strings.NewReader(`{"username":"ops","password":"operator password"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 3 failures: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	log, err := audit.Open(filepath.Join(b.cfg.Box.DataDir, "audit", "audit.log"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	es, _ := log.Entries(0, 0)
	var failed, refused int
	for _, e := range es {
		switch e.Action {
		case "login.failed":
			failed++
		case "login.refused":
			refused++
		}
	}
	if failed != 3 || refused != 1 {
		t.Errorf("audit: %d failed and %d refused logins, want 3 and 1", failed, refused)
	}
}

// TestEncryptedRecordingAudited places a real call (SIPp), then checks that
// no plaintext audio is on disk, that the recording decrypts through the
// API for the roles allowed to hear it (audited), that a flipped byte is
// refused, that the viewer sees a masked number, and that /metrics counts
// the call.
func TestEncryptedRecordingAudited(t *testing.T) {
	requireEspeak(t)
	far := startSIPp(t, "uas-answer-dtmf.xml", "-rtp_echo")
	const boot = "bootstrap-secret-for-tests"
	b := startBox(t, far.port, func(c *config.Config) { c.API.Token = boot })
	admin := &apiClient{t: t, base: "http://" + b.api, token: boot}
	var rec apiv1.CallRecord
	admin.must("POST", "/v1/calls?wait=true", apiv1.PlaceCall{Number: "+8613800000001", Say: testPrompt, WaitDTMF: 1}, http.StatusOK, &rec)
	far.wait(t)
	if rec.Disposition != "answered" || !strings.HasSuffix(rec.RecordingPath, recstore.Ext) {
		t.Fatalf("record %+v", rec)
	}
	// No plaintext audio anywhere under the data directory. (Badger
	// preallocates its value logs sparsely to gigabytes; those, and only
	// those, are skipped: call records hold no audio.)
	scanned := 0
	err := filepath.WalkDir(b.cfg.Box.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		if info, err := d.Info(); err == nil && info.Size() > 64<<20 && strings.HasSuffix(p, ".vlog") {
			return nil
		}
		scanned++
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte("RIFF")) || bytes.Contains(data, []byte("WAVEfmt")) {
			t.Errorf("%s holds a RIFF/WAVE header", p)
		}
		return nil
	})
	if err != nil || scanned < 5 {
		t.Fatalf("scanned %d files: %v", scanned, err)
	}
	clients := roleTokens(t, b, boot)
	// Admin, operator and auditor hear it; the viewer does not.
	for _, role := range []string{"admin", "operator", "auditor"} {
		code, wav := clients[role].do("GET", "/v1/calls/"+rec.ID+"/recording", nil)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", role, code, wav)
		}
		pcm, rate, ch, err := media.ReadWAV(bytes.NewReader(wav))
		if err != nil || rate != 8000 || ch != 2 || len(pcm) < 8000 {
			t.Fatalf("%s: served WAV %d Hz %d ch %d samples: %v", role, rate, ch, len(pcm), err)
		}
	}
	if code, _ := clients["viewer"].do("GET", "/v1/calls/"+rec.ID+"/recording", nil); code != http.StatusForbidden {
		t.Errorf("viewer heard the recording: %d", code)
	}
	// The viewer sees a masked number and no recording path.
	var vrec apiv1.CallRecord
	clients["viewer"].must("GET", "/v1/calls/"+rec.ID, nil, http.StatusOK, &vrec)
	if vrec.Number != "**********0001" || vrec.RecordingPath != "" || vrec.Prompt != "" {
		t.Errorf("viewer record: number %q path %q prompt %q", vrec.Number, vrec.RecordingPath, vrec.Prompt)
	}
	var orec apiv1.CallRecord
	clients["operator"].must("GET", "/v1/calls/"+rec.ID, nil, http.StatusOK, &orec)
	if orec.Number != "+8613800000001" {
		t.Errorf("operator record number %q", orec.Number)
	}
	// Every access is audited: three listens plus the denied one.
	var entries []apiv1.AuditEntry
	clients["auditor"].must("GET", "/v1/audit?limit=100000", nil, http.StatusOK, &entries)
	listens := 0
	for _, e := range entries {
		if e.Action == "recording.listen" && e.Target == rec.ID && e.Status == http.StatusOK {
			listens++
		}
	}
	if listens != 3 {
		t.Errorf("%d audited listens, want 3", listens)
	}
	// A flipped byte is refused on read.
	raw, _ := os.ReadFile(rec.RecordingPath)
	raw[len(raw)/2] ^= 0x40
	if err := os.WriteFile(rec.RecordingPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := admin.do("GET", "/v1/calls/"+rec.ID+"/recording", nil)
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(body), "authentication") {
		t.Errorf("flipped byte: %d %s", code, body)
	}
	// Metrics: open by default, with the call counted.
	resp, err := http.Get("http://" + b.api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`callbox_calls_total{direction="outbound",disposition="answered"} 1`,
		`callbox_active_calls 0`,
		`callbox_call_setup_seconds_count 1`,
		`callbox_rtp_jitter_seconds_count 1`,
		`callbox_raft_state{state="Leader"} 1`,
		`callbox_tts_latency_seconds_count{engine="espeak"}`,
		`callbox_recordings_total{result="complete"} 1`,
	} {
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestHTTPSGeneratedCertificate starts a box with api.tls.mode on: the
// API answers HTTPS with the certificate created under data_dir/tls, and
// refuses plain HTTP.
func TestHTTPSGeneratedCertificate(t *testing.T) {
	b := startBox(t, freePort(t), func(c *config.Config) { c.API.TLS.Mode = "on" })
	pem, err := os.ReadFile(filepath.Join(b.cfg.Box.DataDir, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get("https://" + b.api + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz over HTTPS: %d", resp.StatusCode)
	}
	// Set-Cookie carries Secure over HTTPS.
	c := &apiClient{t: t, base: "https://" + b.api, http: hc}
	c.must("POST", "/v1/users", apiv1.NewUser{Name: "adm", Role: "admin", Password: "admin password"}, http.StatusCreated, nil)
	body, _ := json.Marshal(apiv1.Login{Username: "adm", Password: "admin password"})
	resp, err = hc.Post("https://"+b.api+"/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if sc := resp.Header.Get("Set-Cookie"); !strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Errorf("cookie %q", sc)
	}
	if resp, err := http.Get("http://" + b.api + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on the HTTPS listener")
		}
	}
}

func TestUseTLSModes(t *testing.T) {
	for _, c := range []struct {
		listen, mode, cert string
		want               bool
	}{
		{"127.0.0.1:8080", "auto", "", false},
		{"[::1]:8080", "auto", "", false},
		{"localhost:8080", "auto", "", false},
		{"0.0.0.0:8443", "auto", "", true},
		{"10.0.0.5:8443", "auto", "", true},
		{"127.0.0.1:8080", "auto", "/etc/callbox/cert.pem", true},
		{"127.0.0.1:8080", "on", "", true},
		{"0.0.0.0:8080", "off", "", false},
	} {
		cfg := config.Default()
		cfg.API.Listen, cfg.API.TLS.Mode, cfg.API.TLS.Cert = c.listen, c.mode, c.cert
		if got := useTLS(&cfg); got != c.want {
			t.Errorf("useTLS(%s, %s, %q) = %v", c.listen, c.mode, c.cert, got)
		}
	}
}
