package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"callbox/cluster"
	"callbox/daemon/campaign"
)

// TestChaosCheckCommand runs `callboxctl chaos check` against a fake box
// API: a consistent run exits 0; the same far-end log with the attempt
// dialled twice exits 3 naming the attempt; a contact of the CSV that was
// never attempted is lost.
func TestChaosCheckCommand(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	phone := "+8613900009000"
	id := campaign.ContactID(phone)
	atts := []cluster.Attempt{{ID: "att-1", CampaignID: "c", ContactID: id, Box: "box0", Token: 1,
		State: cluster.AttemptFinished, Outcome: cluster.OutcomeDone, Disposition: "answered", ClaimedAt: t0, FinishedAt: t0.Add(3 * time.Second)}}
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth = r.Header.Get("Authorization")
		switch r.URL.Path {
		case "/v1/campaigns/c/attempts":
			json.NewEncoder(w).Encode(atts)
		case "/v1/campaigns/c":
			w.Write([]byte(`{"id":"c","counters":{"contacts":1}}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	line := `{"call_id":"att-1","number":"+8613900009000","source":"10.0.0.10:5060","received_at":"2026-11-21T12:00:00.100Z","ended_at":"2026-11-21T12:00:03Z","status":200,"hung_up_by":"caller"}` + "\n"
	good, dup, csv := filepath.Join(dir, "good.jsonl"), filepath.Join(dir, "dup.jsonl"), filepath.Join(dir, "contacts.csv")
	os.WriteFile(good, []byte(line), 0o644)
	os.WriteFile(dup, []byte(line+strings.NewReplacer("12:00:00.100", "12:00:05.000", "12:00:03Z", "12:00:08Z").Replace(line)), 0o644)
	os.WriteFile(csv, []byte("phone\n13900009000\n13900009001\n"), 0o644)

	run1 := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := run(append([]string{"--api", srv.URL, "--token", "tok", "chaos", "check", "--campaign", "c"}, args...), nil, &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errs := run1("--log", good); code != 0 || !strings.Contains(out, "duplicated 0, lost 0") || gotAuth != "Bearer tok" {
		t.Errorf("good run: exit %d\n%s%s (auth %q)", code, out, errs, gotAuth)
	}
	if code, _, errs := run1("--log", dup); code != 3 || !strings.Contains(errs, "attempt att-1 (box box0, token 1) dialled 2 times") {
		t.Errorf("duplicate: exit %d, stderr %s", code, errs)
	}
	if code, _, errs := run1("--log", good, "--contacts", csv); code != 3 || !strings.Contains(errs, "contact lost: 1 contacts") {
		t.Errorf("never attempted contact: exit %d, stderr %s", code, errs)
	}
	if code, _, _ := run1(); code != 2 {
		t.Errorf("no --log: exit %d, want 2", code)
	}
}
