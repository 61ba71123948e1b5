package web

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestEveryStringIsTranslated checks that every key the page uses (the
// data-i18n attributes of index.html, the t('…') and tv('prefix', …) calls
// of app.js) has an English and a Mandarin text, and that the two
// dictionaries hold the same keys.
func TestEveryStringIsTranslated(t *testing.T) {
	raw, err := static.ReadFile("static/i18n.json")
	if err != nil {
		t.Fatal(err)
	}
	var dict map[string]map[string]string
	if err := json.Unmarshal(raw, &dict); err != nil {
		t.Fatalf("i18n.json: %v", err)
	}
	en, zh := dict["en"], dict["zh"]
	if len(en) < 100 || len(zh) != len(en) {
		t.Fatalf("%d English and %d Mandarin strings", len(en), len(zh))
	}
	for k := range en {
		if zh[k] == "" {
			t.Errorf("%q has no Mandarin text", k)
		}
	}
	for k := range zh {
		if en[k] == "" {
			t.Errorf("%q has no English text", k)
		}
	}
	html, _ := static.ReadFile("static/index.html")
	js, _ := static.ReadFile("static/app.js")
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`data-i18n="([^"]+)"`).FindAllStringSubmatch(string(html), -1) {
		used[m[1]] = true
	}
	for _, m := range regexp.MustCompile(`\bt\('([a-zA-Z.]+)'`).FindAllStringSubmatch(string(js), -1) {
		if !strings.HasSuffix(m[1], ".") { // t('act.' + a): checked below
			used[m[1]] = true
		}
	}
	for _, m := range regexp.MustCompile(`'data-i18n': '([a-zA-Z.]+[a-zA-Z])'`).FindAllStringSubmatch(string(js), -1) {
		used[m[1]] = true
	}
	if len(used) < 80 {
		t.Fatalf("only %d keys found in the page: the patterns no longer match", len(used))
	}
	var missing []string
	for k := range used {
		if en[k] == "" || zh[k] == "" {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("keys used by the page but not translated: %s", strings.Join(missing, ", "))
	}
	// Prefixed keys (t('act.' + a), tv('state.', …)) must exist for every value the API sends.
	for _, k := range []string{"act.start", "act.pause", "act.resume", "act.stop", "state.running", "state.ringing",
		"disp.answered", "disp.busy", "mode.agentless", "mode.predictive", "who.bot", "who.caller", "day.mon", "day.sun"} {
		if en[k] == "" || zh[k] == "" {
			t.Errorf("%q is not translated", k)
		}
	}
}

// TestNoExternalReferences keeps the dashboard offline: no file refers to
// another origin (the SVG namespace is an identifier, not a fetch).
func TestNoExternalReferences(t *testing.T) {
	h := New()
	for _, n := range h.Names() {
		data := strings.ReplaceAll(string(h.files[n].data), "http://www.w3.org/2000/svg", "")
		for _, bad := range []string{"http://", "https://", "fonts.googleapis", "cdn."} {
			if strings.Contains(data, bad) {
				t.Errorf("%s refers to %q", n, bad)
			}
		}
	}
}
