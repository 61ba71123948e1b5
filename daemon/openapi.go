package daemon

// This file holds the API's OpenAPI 3 document (GET /v1/openapi.json) and
// the registration of the operator-surface routes: the document, the event
// stream, the call export and the embedded dashboard.
//
// The paths are written by hand in openapi.json; the schemas of the Go wire
// types are generated from the types themselves (json tags, omitempty,
// pointers) when the document is first served, so they cannot drift from
// what the handlers encode. openapi_test.go checks the document against
// the routes actually registered and real answers against the schemas.

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/daemon/campaign"
	"callbox/daemon/web"
)

//go:embed openapi.json
var openAPIPaths []byte

// operatorRoutes registers the routes this file family serves.
func (a *apiServer) operatorRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/openapi.json", handleOpenAPI)
	mux.HandleFunc("GET /v1/events", a.auth(a.handleEvents))       // api_events.go
	mux.HandleFunc("GET /v1/calls/export", a.auth(a.handleExport)) // api_export.go
	dash := web.New()
	mux.Handle("GET /{$}", dash)
	mux.Handle("GET /ui/{file}", dash)
}

// schemaTypes are the wire types whose schemas are generated, by the name
// the document's $refs use.
var schemaTypes = map[string]any{
	"Error": apiv1.Error{}, "CallRecord": apiv1.CallRecord{}, "PlaceCall": apiv1.PlaceCall{},
	"TranscriptTurn": apiv1.TranscriptTurn{}, "MediaStats": apiv1.MediaStats{}, "Trunk": apiv1.Trunk{},
	"CampaignSpec": apiv1.CampaignSpec{}, "Campaign": apiv1.Campaign{}, "DNC": apiv1.DNC{},
	"Login": apiv1.Login{}, "Session": apiv1.Session{}, "User": apiv1.User{}, "NewUser": apiv1.NewUser{},
	"SetPassword": apiv1.SetPassword{}, "Token": apiv1.Token{}, "NewToken": apiv1.NewToken{},
	"CreatedToken": apiv1.CreatedToken{}, "AuditEntry": apiv1.AuditEntry{}, "AuditVerify": apiv1.AuditVerify{},
	"ImportReport": campaign.ImportReport{}, "Report": campaign.Report{}, "Series": campaign.Series{}, "Attempt": cluster.Attempt{},
	"Status": cluster.Status{}, "RecordingPause": cluster.RecordingPause{}, "ConsoleRequest": ConsoleRequest{}, "ConsoleState": ConsoleState{},
	"StreamEvent": StreamEvent{},
}

var openAPIDoc struct {
	once sync.Once
	data []byte
	err  error
}

// OpenAPIDocument returns the complete document as JSON.
func OpenAPIDocument() ([]byte, error) {
	openAPIDoc.once.Do(func() {
		var doc map[string]any
		if err := json.Unmarshal(openAPIPaths, &doc); err != nil {
			openAPIDoc.err = fmt.Errorf("openapi.json: %w", err)
			return
		}
		comps, _ := doc["components"].(map[string]any)
		schemas, _ := comps["schemas"].(map[string]any)
		if schemas == nil {
			openAPIDoc.err = fmt.Errorf("openapi.json: components.schemas missing")
			return
		}
		g := &schemaGen{defs: schemas, names: map[reflect.Type]string{}}
		for name, v := range schemaTypes {
			g.names[reflect.TypeOf(v)] = name
		}
		for name := range schemaTypes {
			if _, dup := schemas[name]; dup {
				openAPIDoc.err = fmt.Errorf("openapi.json: schema %s is both written and generated", name)
				return
			}
		}
		for _, name := range slices.Sorted(maps.Keys(schemaTypes)) { // deterministic names on a clash
			g.define(name, reflect.TypeOf(schemaTypes[name]))
		}
		openAPIDoc.data, openAPIDoc.err = json.MarshalIndent(doc, "", " ")
	})
	return openAPIDoc.data, openAPIDoc.err
}

func handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	data, err := OpenAPIDocument()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(data)
}

// schemaGen turns Go types into OpenAPI 3.0 schemas. Named struct types
// become components (by their schemaTypes name, else their Go name, with
// the package prefixed on a clash) referenced with $ref.
type schemaGen struct {
	defs  map[string]any
	names map[reflect.Type]string
}

var timeType = reflect.TypeOf(time.Time{})

func (g *schemaGen) define(name string, t reflect.Type) {
	if _, ok := g.defs[name]; ok {
		return
	}
	g.defs[name] = map[string]any{} // placeholder against recursion
	g.defs[name] = g.object(t)
}

func (g *schemaGen) nameOf(t reflect.Type) string {
	if n, ok := g.names[t]; ok {
		return n
	}
	n := t.Name()
	if _, taken := g.defs[n]; taken { // another package's type of that name
		pkg := path.Base(t.PkgPath())
		n = strings.ToUpper(pkg[:1]) + pkg[1:] + n
	}
	g.names[t] = n
	return n
}

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		s := g.schema(t.Elem())
		if _, ref := s["$ref"]; ref {
			return map[string]any{"allOf": []any{s}, "nullable": true}
		}
		s["nullable"] = true
		return s
	case t.Kind() == reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		n := g.nameOf(t)
		g.define(n, t)
		return map[string]any{"$ref": "#/components/schemas/" + n}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return map[string]any{"type": "string", "format": "byte"}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem()), "nullable": t.Kind() == reflect.Slice}
	case t.Kind() == reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem()), "nullable": true}
	case t.Kind() == reflect.String:
		return map[string]any{"type": "string"}
	case t.Kind() == reflect.Bool:
		return map[string]any{"type": "boolean"}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return map[string]any{"type": "integer"}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return map[string]any{"type": "number"}
	case t.Kind() == reflect.Interface:
		return map[string]any{}
	}
	panic(fmt.Sprintf("openapi: no schema for %s", t))
}

// object is a struct's schema: properties by JSON name, required unless
// omitempty/omitzero, no other properties. Embedded structs are inlined.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" || (!f.IsExported() && !f.Anonymous) {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			props[name] = g.schema(f.Type)
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
		}
	}
	walk(t)
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}
