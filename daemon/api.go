package daemon

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/daemon/auth"
	"callbox/daemon/config"
	"callbox/daemon/sipua"
	"callbox/media"
)

// apiServer serves the HTTP API: /healthz and the /v1 call endpoints.
type apiServer struct {
	cfg   *config.Config
	calls *callManager
	node  *cluster.Node
	ua    *sipua.UA
	clock *media.Clock
	log   *slog.Logger
	sec   *security // auth, audit, recording keys, metrics
}

func (a *apiServer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.handleHealth)
	mux.HandleFunc("POST /v1/calls", a.auth(a.handlePlaceCall))
	mux.HandleFunc("GET /v1/calls", a.auth(a.handleListCalls))
	mux.HandleFunc("GET /v1/calls/{id}", a.auth(a.handleGetCall))
	mux.HandleFunc("POST /v1/calls/{id}/console", a.auth(a.handleConsole))
	mux.HandleFunc("GET /v1/trunks", a.auth(a.handleTrunks))
	a.campaignRoutes(mux)
	a.securityRoutes(mux)
	a.flowRoutes(mux)     // stored flows (api_flows.go)
	a.operatorRoutes(mux) // OpenAPI, events, export, dashboard (openapi.go)
	mux.HandleFunc("GET /v1/stats/media", a.auth(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.calls.mediaStats())
	}))
	return mux
}

// auth guards a route with the default permissions: read for GET and
// HEAD, operate for every other method (see daemon/auth for the matrix).
// Routes that need another permission use allow.
func (a *apiServer) auth(h http.HandlerFunc) http.HandlerFunc {
	read, write := a.allow(auth.PermRead, h), a.allow(auth.PermOperate, h)
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			read(w, r)
			return
		}
		write(w, r)
	}
}

// healthy reports why the box is not healthy, or nil.
func (a *apiServer) healthy() error {
	if !a.clock.Healthy(time.Now()) {
		return errors.New("media clock is not ticking")
	}
	if !a.node.Healthy() {
		return errors.New("raft has no leader")
	}
	return nil
}

func (a *apiServer) handleHealth(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"box": a.cfg.Box.ID, "active_calls": a.calls.activeCount()}
	if err := a.healthy(); err != nil {
		body["status"], body["error"] = "unhealthy", err.Error()
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	body["status"] = "ok"
	writeJSON(w, http.StatusOK, body)
}

func (a *apiServer) handlePlaceCall(w http.ResponseWriter, r *http.Request) {
	var body apiv1.PlaceCall
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
		return
	}
	req := CallRequest{
		Number: body.Number, Trunk: body.Trunk, CallerID: body.CallerID,
		Say: body.Say, Voice: body.Voice, WaitDTMF: body.WaitDTMF,
		Flow: body.Flow, Profile: body.Profile,
	}
	req.DTMFTimeout = time.Duration(body.DTMFTimeoutSec * float64(time.Second))
	req.RingTimeout = time.Duration(body.RingTimeoutSec * float64(time.Second))
	id, done, err := a.calls.PlaceCall(r.Context(), req)
	switch {
	case errors.Is(err, ErrBadRequest):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case errors.Is(err, ErrDraining), errors.Is(err, ErrBusy):
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if wait, _ := strconv.ParseBool(r.URL.Query().Get("wait")); wait {
		select {
		case <-done:
		case <-r.Context().Done():
			return // the call goes on; the client can poll GET /v1/calls/{id}
		}
		a.writeRecord(w, r, id, http.StatusOK)
		return
	}
	w.Header().Set("Location", "/v1/calls/"+id)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": id})
}

func (a *apiServer) handleGetCall(w http.ResponseWriter, r *http.Request) {
	a.writeRecord(w, r, r.PathValue("id"), http.StatusOK)
}

func (a *apiServer) writeRecord(w http.ResponseWriter, r *http.Request, id string, status int) {
	rec, ok, err := a.node.CallRecord(id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no call %q", id))
		return
	}
	out := []apiv1.CallRecord{recordView(rec)}
	a.view(r, out) // the caller's role: masking, redaction, audited transcripts
	writeJSON(w, status, out[0])
}

func (a *apiServer) handleListCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := cluster.RecordFilter{Limit: 100}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 10000 {
			writeError(w, http.StatusBadRequest, "limit must be 1-10000")
			return
		}
		f.Limit = n
	}
	for key, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if s := q.Get(key); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				writeError(w, http.StatusBadRequest, key+" must be an RFC 3339 time such as 2026-11-21T09:00:00Z")
				return
			}
			*dst = t
		}
	}
	recs, err := a.node.CallRecords(f)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := make([]apiv1.CallRecord, 0, len(recs))
	for _, rec := range recs {
		out = append(out, recordView(rec))
	}
	a.view(r, out)
	writeJSON(w, http.StatusOK, out)
}

func (a *apiServer) handleTrunks(w http.ResponseWriter, r *http.Request) {
	out := []apiv1.Trunk{}
	for _, t := range a.ua.Trunks() {
		out = append(out, apiv1.Trunk{
			Name: t.Name, Auth: t.Auth, Registered: t.Registered, RegState: t.RegState, LastError: t.LastError,
			NextRefresh: optTime(t.NextRefresh), Up: t.Up, LastOptionsAt: optTime(t.LastOptionsAt),
			ActiveCalls: t.ActiveCalls, MaxCalls: t.MaxCalls,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
