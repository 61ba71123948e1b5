package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"callbox/daemon/apiv1"
	"callbox/daemon/audit"
	"callbox/daemon/recstore"
)

// makeDataDir writes an audit log of n entries the way callboxd does.
func makeDataDir(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	key, err := recstore.CreateKeyFile(mkdir(t, filepath.Join(dir, "keys"), "audit.key"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(filepath.Join(dir, "audit", "audit.log"), key, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		l.Append(audit.Entry{Actor: "alice", Action: "POST /v1/calls", Status: 202})
	}
	l.Close()
	return dir
}

func mkdir(t *testing.T, dir, name string) string {
	os.MkdirAll(dir, 0o700)
	return filepath.Join(dir, name)
}

func TestAuditVerifyCommand(t *testing.T) {
	dir := makeDataDir(t, 4)
	var out, errb bytes.Buffer
	if code := run([]string{"audit", "verify", "--data-dir", dir}, nil, &out, &errb); code != 0 {
		t.Fatalf("intact log: exit %d: %s %s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "intact: 4 entries") || !strings.Contains(out.String(), "MACs checked") {
		t.Errorf("output %q", out.String())
	}
	// Swap entries 2 and 3: exit 3 naming line 2.
	path := filepath.Join(dir, "audit", "audit.log")
	data, _ := os.ReadFile(path)
	ls := bytes.SplitAfter(data, []byte("\n"))
	ls[1], ls[2] = ls[2], ls[1]
	os.WriteFile(path, bytes.Join(ls, nil), 0o600)
	out.Reset()
	if code := run([]string{"audit", "verify", "--data-dir", dir}, nil, &out, &errb); code != 3 {
		t.Fatalf("tampered log: exit %d", code)
	}
	if !strings.Contains(out.String(), "TAMPERED: audit: line 2 (seq 3)") {
		t.Errorf("output %q", out.String())
	}
	// --file without a key checks the chain only, as JSON.
	out.Reset()
	if code := run([]string{"audit", "verify", "--file", path, "--json"}, nil, &out, &errb); code != 3 {
		t.Fatalf("--file: exit %d", code)
	}
	var v apiv1.AuditVerify
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || v.OK || v.BadLine != 2 || v.MACs {
		t.Errorf("json %+v %v", v, err)
	}
	if code := run([]string{"audit", "verify", "--file", path, "--data-dir", dir}, nil, &out, &errb); code != 2 {
		t.Errorf("both flags: exit %d", code)
	}
	// show --file lists the entries.
	out.Reset()
	if code := run([]string{"audit", "show", "--file", path}, nil, &out, &errb); code != 0 || strings.Count(out.String(), "POST /v1/calls") != 4 {
		t.Errorf("show: %d %q", code, out.String())
	}
}

// TestUsersCommands checks what the CLI sends: passwords come from stdin,
// never the command line, and errors from the daemon are shown.
func TestUsersCommands(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got = append(got, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization")+" "+string(body))
		switch {
		case r.Method == "POST" && r.URL.Path == "/v1/users":
			w.WriteHeader(201)
			w.Write([]byte(`{"name":"ops","role":"operator"}`))
		case r.Method == "POST" && r.URL.Path == "/v1/tokens":
			w.WriteHeader(201)
			w.Write([]byte(`{"id":"abc","name":"ci","user":"ops","role":"viewer","secret":"cbx_abc_s3cret"}`))
		case r.Method == "DELETE" && r.URL.Path == "/v1/tokens/nope":
			w.WriteHeader(404)
			w.Write([]byte(`{"error":"auth: not found: token \"nope\""}`))
		case r.Method == "GET" && r.URL.Path == "/v1/users":
			w.Write([]byte(`[{"name":"ops","role":"operator"}]`))
		default:
			w.WriteHeader(204)
		}
	}))
	defer srv.Close()
	cli := func(stdin string, args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(append([]string{"--api", srv.URL, "--token", "T"}, args...), strings.NewReader(stdin), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, _ := cli("operator password\n", "users", "add", "ops", "--role", "operator"); code != 0 || !strings.Contains(out, "ops added") {
		t.Fatalf("add: %d %q", code, out)
	}
	if !strings.Contains(got[0], `"password":"operator password"`) || !strings.Contains(got[0], "Bearer T") {
		t.Errorf("add sent %q", got[0])
	}
	if code, _, _ := cli("", "users", "add", "ops", "--role", "operator"); code != 1 {
		t.Errorf("add with no password on stdin: exit %d", code)
	}
	if code, out, _ := cli("", "users", "token", "create", "--name", "ci", "--user", "ops", "--role", "viewer", "--ttl", "24h"); code != 0 || !strings.Contains(out, "cbx_abc_s3cret") {
		t.Errorf("token create: %d %q", code, out)
	}
	if !strings.Contains(got[len(got)-1], `"ttl_sec":86400`) {
		t.Errorf("token create sent %q", got[len(got)-1])
	}
	if code, _, errs := cli("", "users", "token", "revoke", "nope"); code != 1 || !strings.Contains(errs, "not found") {
		t.Errorf("revoke: %d %q", code, errs)
	}
	if code, out, _ := cli("", "users", "list"); code != 0 || !strings.Contains(out, "operator") {
		t.Errorf("list: %d %q", code, out)
	}
	if code, _, _ := cli("new password 123\n", "users", "passwd", "ops"); code != 0 || !strings.HasPrefix(got[len(got)-1], "PUT /v1/users/ops/password") {
		t.Errorf("passwd: %d %q", code, got[len(got)-1])
	}
	if code, _, _ := cli("", "users", "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}
