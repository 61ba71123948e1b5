package daemon

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"callbox/daemon/apiv1"
)

// registeredRoutes reads every route registration of package daemon from
// its source: each X.HandleFunc(PATTERN, …) or X.Handle(PATTERN, …) call.
// A pattern that is not a string literal fails the test, so no route can
// hide from the document check.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 2 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("%s: route registered with a non-literal pattern; use a string literal", fset.Position(call.Pos()))
				return true
			}
			p, _ := strconv.Unquote(lit.Value)
			out = append(out, p)
			return true
		})
	}
	sort.Strings(out)
	return out
}

// docPath turns a ServeMux pattern's path into the document's form.
func docPath(p string) string {
	p = strings.ReplaceAll(p, "{$}", "")
	p = regexp.MustCompile(`\{(\w+)\.\.\.\}`).ReplaceAllString(p, "{$1}")
	if p == "" {
		p = "/"
	}
	return p
}

type openAPI struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]any `json:"schemas"`
	} `json:"components"`
}

func loadOpenAPI(t *testing.T, raw []byte) (openAPI, map[string]any) {
	t.Helper()
	var doc openAPI
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var all map[string]any
	_ = json.Unmarshal(raw, &all)
	return doc, all
}

// TestOpenAPIMatchesRoutes checks the document served by a real box
// against the routes the daemon registers (both ways), resolves every
// $ref, and validates real answers and example requests against schemas.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	b := startBox(t, freePort(t), nil)
	resp, err := http.Get("http://" + b.api + "/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/openapi.json: %d %s", resp.StatusCode, raw[:min(len(raw), 200)])
	}
	doc, all := loadOpenAPI(t, raw)
	if all["openapi"] != "3.0.3" {
		t.Errorf("openapi version %v", all["openapi"])
	}

	// Every registered route is documented.
	routes := registeredRoutes(t)
	if len(routes) < 40 {
		t.Fatalf("only %d routes found in the source: %v", len(routes), routes)
	}
	for _, r := range routes {
		method, path, ok := strings.Cut(r, " ")
		if !ok {
			t.Errorf("route %q has no method", r)
			continue
		}
		ops, ok := doc.Paths[docPath(path)]
		if !ok || ops[strings.ToLower(method)] == nil {
			t.Errorf("route %s is not in the OpenAPI document", r)
		}
	}

	// Every documented operation reaches a handler of the real server: an
	// unauthenticated browser request is answered by the route's auth (401
	// JSON) or its handler, never by the mux's own 404/405.
	ops := 0
	for path, methods := range doc.Paths {
		for method := range methods {
			if !slices.Contains([]string{"get", "post", "put", "delete", "patch"}, method) {
				t.Errorf("%s: %q is not an HTTP method", path, method)
				continue
			}
			ops++
			url := regexp.MustCompile(`\{(\w+)\}`).ReplaceAllString(path, "x")
			if strings.HasSuffix(path, "/{action}") {
				url = strings.TrimSuffix(url, "x") + "pause"
			}
			req, _ := http.NewRequest(strings.ToUpper(method), "http://"+b.api+url, nil)
			req.Header.Set("Sec-Fetch-Site", "same-origin") // no setup-mode admin
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			mux := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") &&
				(resp.StatusCode == 404 || resp.StatusCode == 405)
			if mux && path != "/metrics" {
				t.Errorf("%s %s is documented but not served: %d %s", strings.ToUpper(method), path, resp.StatusCode, body)
			}
			if path == "/metrics" && resp.StatusCode != 200 {
				t.Errorf("GET /metrics: %d", resp.StatusCode)
			}
		}
	}
	if ops < len(routes) {
		t.Errorf("%d documented operations for %d routes", ops, len(routes))
	}

	// Every $ref resolves.
	var refs []string
	collectRefs(all, &refs)
	for _, r := range refs {
		name := strings.TrimPrefix(r, "#/components/schemas/")
		if strings.HasPrefix(r, "#/components/responses/") {
			continue
		}
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("$ref %s does not resolve", r)
		}
	}

	// Real answers and example requests against their schemas.
	v := &schemaChecker{defs: doc.Components.Schemas}
	get := func(path string) any {
		resp, err := http.Get("http://" + b.api + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return out
	}
	post := func(path string, body any) (int, any) {
		data, _ := json.Marshal(body)
		resp, err := http.Post("http://"+b.api+path, "application/json", strings.NewReader(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	spec := apiv1.CampaignSpec{ID: "oa1", Prompt: "Hello.", Windows: []apiv1.Window{{Start: "09:00", End: "18:00"}}, Pacing: apiv1.Pacing{MaxConcurrent: 2}}
	specJSON := roundTrip(t, spec)
	place := roundTrip(t, apiv1.PlaceCall{Number: "+8613800000001", Say: "hello"})
	code, created := post("/v1/campaigns", spec)
	if code != 201 {
		t.Fatalf("create campaign: %d %v", code, created)
	}
	code, bad := post("/v1/campaigns", map[string]any{"id": "x", "nope": 1})
	if code != 400 {
		t.Fatalf("bad campaign: %d %v", code, bad)
	}
	checks := []struct {
		what, schema string
		value        any
	}{
		{"GET /healthz", "Health", get("/healthz")},
		{"GET /v1/whoami", "Session", get("/v1/whoami")},
		{"GET /v1/trunks", "[]Trunk", get("/v1/trunks")},
		{"GET /v1/stats/media", "MediaStats", get("/v1/stats/media")},
		{"GET /v1/cluster/status", "Status", get("/v1/cluster/status")},
		{"GET /v1/dnc", "DNC", get("/v1/dnc?phone=%2B8613800000001")},
		{"POST /v1/campaigns request", "CampaignSpec", specJSON},
		{"POST /v1/campaigns answer", "Campaign", created},
		{"POST /v1/campaigns 400", "Error", bad},
		{"GET /v1/campaigns", "[]Campaign", get("/v1/campaigns")},
		{"GET /v1/campaigns/oa1/report", "Report", get("/v1/campaigns/oa1/report")},
		{"GET /v1/campaigns/oa1/series", "Series", get("/v1/campaigns/oa1/series?step=1m")},
		{"GET /v1/campaigns/oa1/attempts", "[]Attempt", get("/v1/campaigns/oa1/attempts")},
		{"GET /v1/calls/nope", "Error", get("/v1/calls/nope")},
		{"POST /v1/calls request", "PlaceCall", place},
	}
	for _, c := range checks {
		s := map[string]any{"$ref": "#/components/schemas/" + strings.TrimPrefix(c.schema, "[]")}
		if strings.HasPrefix(c.schema, "[]") {
			s = map[string]any{"type": "array", "items": s}
		}
		if err := v.check(s, c.value, "$"); err != nil {
			t.Errorf("%s does not match %s: %v", c.what, c.schema, err)
		}
	}
}

func roundTrip(t *testing.T, v any) any {
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	_ = json.Unmarshal(data, &out)
	return out
}

func collectRefs(v any, out *[]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "$ref" {
				*out = append(*out, s)
			}
			collectRefs(e, out)
		}
	case []any:
		for _, e := range x {
			collectRefs(e, out)
		}
	}
}

// schemaChecker validates decoded JSON against the subset of OpenAPI 3.0
// schemas the document uses: $ref, allOf, type, nullable, properties,
// required, additionalProperties, items, enum and format date-time.
type schemaChecker struct {
	defs map[string]any
}

func (c *schemaChecker) check(schema any, v any, at string) error {
	s, ok := schema.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: schema is %T", at, schema)
	}
	if ref, ok := s["$ref"].(string); ok {
		def, ok := c.defs[strings.TrimPrefix(ref, "#/components/schemas/")]
		if !ok {
			return fmt.Errorf("%s: unresolved %s", at, ref)
		}
		return c.check(def, v, at)
	}
	if v == nil {
		if s["nullable"] == true {
			return nil
		}
		if all, ok := s["allOf"].([]any); ok && s["nullable"] == true && len(all) > 0 {
			return nil
		}
		return fmt.Errorf("%s: null where the schema does not allow it", at)
	}
	if all, ok := s["allOf"].([]any); ok {
		for _, sub := range all {
			if err := c.check(sub, v, at); err != nil {
				return err
			}
		}
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		return fmt.Errorf("%s: %v is not one of %v", at, v, enum)
	}
	switch s["type"] {
	case nil:
		return nil
	case "string":
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: %T, want string", at, v)
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				return fmt.Errorf("%s: %q is not a date-time", at, str)
			}
		}
	case "integer":
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) {
			return fmt.Errorf("%s: %v, want integer", at, v)
		}
	case "number":
		if _, ok := v.(float64); !ok {
			return fmt.Errorf("%s: %T, want number", at, v)
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: %T, want boolean", at, v)
		}
	case "array":
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: %T, want array", at, v)
		}
		for i, e := range arr {
			if err := c.check(s["items"], e, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	case "object":
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: %T, want object", at, v)
		}
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := obj[r.(string)]; !ok {
					return fmt.Errorf("%s: required property %q missing", at, r)
				}
			}
		}
		for k, e := range obj {
			if ps, ok := props[k]; ok {
				if err := c.check(ps, e, at+"."+k); err != nil {
					return err
				}
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: property %q is not in the schema", at, k)
				}
			case map[string]any:
				if err := c.check(ap, e, at+"."+k); err != nil {
					return err
				}
			}
		}
	default:
		return fmt.Errorf("%s: schema type %v not supported by the checker", at, s["type"])
	}
	return nil
}

// TestSchemaCheckerRejects makes sure the checker can fail: a missing
// required field, an unknown field, a wrong type, a bad time and a null
// are all refused for a CallRecord.
func TestSchemaCheckerRejects(t *testing.T) {
	raw, err := OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := loadOpenAPI(t, raw)
	c := &schemaChecker{defs: doc.Components.Schemas}
	rec := roundTrip(t, apiv1.CallRecord{ID: "a", Box: "b", Trunk: "t", Number: "1", Direction: "outbound", InviteAt: time.Now()}).(map[string]any)
	ref := map[string]any{"$ref": "#/components/schemas/CallRecord"}
	if err := c.check(ref, rec, "$"); err != nil {
		t.Fatalf("a valid record is refused: %v", err)
	}
	mutate := map[string]func(m map[string]any){
		"missing id":   func(m map[string]any) { delete(m, "id") },
		"extra field":  func(m map[string]any) { m["bogus"] = 1 },
		"sip_code str": func(m map[string]any) { m["sip_code"] = "486" },
		"bad time":     func(m map[string]any) { m["invite_at"] = "yesterday" },
		"null number":  func(m map[string]any) { m["number"] = nil },
		"rtp not obj":  func(m map[string]any) { m["rtp"] = []any{} },
	}
	for name, f := range mutate {
		m := roundTrip(t, rec).(map[string]any)
		f(m)
		if err := c.check(ref, m, "$"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
