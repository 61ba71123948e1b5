package daemon

// This file holds the campaign and do-not-call endpoints of the HTTP API.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/daemon/campaign"
)

// maxImportBody bounds one CSV upload (1M rows of a wide sheet).
const maxImportBody = 1 << 30

func (a *apiServer) campaignRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/campaigns", a.auth(a.handleCreateCampaign))
	mux.HandleFunc("GET /v1/campaigns", a.auth(a.handleListCampaigns))
	mux.HandleFunc("GET /v1/campaigns/{id}", a.auth(a.handleGetCampaign))
	mux.HandleFunc("POST /v1/campaigns/{id}/{action}", a.auth(a.handleCampaignAction))
	mux.HandleFunc("GET /v1/campaigns/{id}/report", a.auth(a.handleCampaignReport))
	mux.HandleFunc("GET /v1/campaigns/{id}/series", a.auth(a.handleCampaignSeries)) // api_series.go
	mux.HandleFunc("GET /v1/campaigns/{id}/attempts", a.auth(a.handleCampaignAttempts))
	mux.HandleFunc("POST /v1/dnc", a.auth(a.handleAddDNC))
	mux.HandleFunc("DELETE /v1/dnc", a.auth(a.handleRemoveDNC))
	mux.HandleFunc("GET /v1/dnc", a.auth(a.handleCheckDNC))
}

// clusterStatus maps cluster sentinels onto HTTP codes.
func clusterStatus(err error) int {
	switch {
	case errors.Is(err, cluster.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, cluster.ErrExists), errors.Is(err, cluster.ErrBadTransition),
		errors.Is(err, cluster.ErrCampaignNotActive), errors.Is(err, cluster.ErrImportConflict):
		return http.StatusConflict
	case errors.Is(err, cluster.ErrInvalidCommand), errors.Is(err, campaign.ErrBadSpec), errors.Is(err, campaign.ErrBadNumber):
		return http.StatusBadRequest
	case errors.Is(err, cluster.ErrNotLeader):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (a *apiServer) handleCreateCampaign(w http.ResponseWriter, r *http.Request) {
	var spec apiv1.CampaignSpec
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		writeError(w, http.StatusBadRequest, "campaign body: "+err.Error())
		return
	}
	k, err := campaign.FromSpec(spec)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if len(k.Trunks) == 0 && len(a.cfg.Trunks) > 0 {
		k.Trunks = []string{a.cfg.Trunks[0].Name}
	}
	for _, t := range k.Trunks {
		if _, ok := a.cfg.Trunk(t); !ok {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%v: trunks: unknown trunk %q", campaign.ErrBadSpec, t))
			return
		}
	}
	res, err := a.node.Apply(r.Context(), cluster.CreateCampaign{Campaign: k, At: time.Now()})
	if err != nil {
		writeError(w, clusterStatus(err), err.Error())
		return
	}
	w.Header().Set("Location", "/v1/campaigns/"+k.ID)
	writeJSON(w, http.StatusCreated, campaign.View(res.(cluster.Campaign)))
}

func (a *apiServer) handleListCampaigns(w http.ResponseWriter, r *http.Request) {
	ks, err := a.node.Campaigns()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := make([]apiv1.Campaign, 0, len(ks))
	for _, k := range ks {
		out = append(out, campaign.View(k))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *apiServer) campaign(w http.ResponseWriter, id string) (cluster.Campaign, bool) {
	k, ok, err := a.node.Campaign(id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return k, false
	}
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no campaign %q", id))
		return k, false
	}
	return k, true
}

func (a *apiServer) handleGetCampaign(w http.ResponseWriter, r *http.Request) {
	if k, ok := a.campaign(w, r.PathValue("id")); ok {
		writeJSON(w, http.StatusOK, campaign.View(k))
	}
}

var campaignActions = map[string]cluster.CampaignState{
	"start": cluster.CampaignRunning, "resume": cluster.CampaignRunning, "pause": cluster.CampaignPaused,
	"stop": cluster.CampaignStopped, "archive": cluster.CampaignArchived,
}

func (a *apiServer) handleCampaignAction(w http.ResponseWriter, r *http.Request) {
	action := r.PathValue("action")
	if action == "contacts" {
		a.handleImport(w, r)
		return
	}
	to, ok := campaignActions[action]
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("unknown campaign action %q (want start, pause, resume, stop, archive or contacts)", action))
		return
	}
	id := r.PathValue("id")
	k, ok := a.campaign(w, id)
	if !ok {
		return
	}
	if action == "resume" && k.State != cluster.CampaignPaused {
		writeError(w, http.StatusConflict, fmt.Sprintf("campaign %q is %s; only a paused campaign resumes", id, k.State))
		return
	}
	if action == "start" && k.State != cluster.CampaignCreated && k.State != cluster.CampaignRunning {
		writeError(w, http.StatusConflict, fmt.Sprintf("campaign %q is %s; start a created campaign, resume a paused one", id, k.State))
		return
	}
	res, err := a.node.Apply(r.Context(), cluster.SetCampaignState{ID: id, State: to, At: time.Now(), Reason: "api " + action})
	if err != nil {
		writeError(w, clusterStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, campaign.View(res.(cluster.Campaign)))
}

func (a *apiServer) handleImport(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	k, ok := a.campaign(w, id)
	if !ok {
		return
	}
	q := r.URL.Query()
	mode := q.Get("mode")
	switch mode {
	case "", "reject", campaign.ModeRejectAll:
		mode = campaign.ModeRejectAll
	case "valid", campaign.ModeValidRows:
		mode = campaign.ModeValidRows
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("mode %q: want reject-all or valid-rows", mode))
		return
	}
	region := q.Get("region")
	if region == "" {
		region = k.DefaultRegion
	}
	now := time.Now()
	importID := importPrefix(a.cfg.Box.ID) + newCallID(now)
	prog := &importProgress{Store: a.node, m: a.sec.metrics, id: importID, length: r.ContentLength} // callbox_import_rows (metrics_hooks.go)
	defer prog.finish()
	rep, err := campaign.Import(r.Context(), prog.body(http.MaxBytesReader(w, r.Body, maxImportBody)), prog, campaign.ImportOptions{
		CampaignID: id, ImportID: importID, Region: region, Mode: mode,
		Encoding: q.Get("encoding"), At: now,
	})
	prog.done(rep, err) // callbox_imports_total, callbox_import_rows_total (metrics_hooks.go)
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, rep)
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("%v: body over %d bytes; split the file", campaign.ErrBadCSV, maxImportBody))
	case errors.Is(err, campaign.ErrRejected):
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": err.Error(), "report": rep})
	case errors.Is(err, campaign.ErrBadCSV):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error(), "report": rep})
	default:
		writeJSON(w, clusterStatus(err), map[string]any{"error": err.Error(), "report": rep})
	}
}

func (a *apiServer) handleCampaignReport(w http.ResponseWriter, r *http.Request) {
	k, ok := a.campaign(w, r.PathValue("id"))
	if !ok {
		return
	}
	atts, err := a.node.Attempts(k.ID)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	rep := campaign.BuildReport(&k, atts, func(id string) (cluster.CallRecord, bool) {
		rec, ok, _ := a.node.CallRecord(id)
		return rec, ok
	})
	writeJSON(w, http.StatusOK, rep)
}

func (a *apiServer) handleCampaignAttempts(w http.ResponseWriter, r *http.Request) {
	k, ok := a.campaign(w, r.PathValue("id"))
	if !ok {
		return
	}
	atts, err := a.node.Attempts(k.ID)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if atts == nil {
		atts = []cluster.Attempt{}
	}
	writeJSON(w, http.StatusOK, atts)
}

func (a *apiServer) dncBody(w http.ResponseWriter, r *http.Request) (apiv1.DNC, bool) {
	var b apiv1.DNC
	if r.Method == http.MethodPost {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			writeError(w, http.StatusBadRequest, "dnc body: "+err.Error())
			return b, false
		}
	} else {
		q := r.URL.Query()
		b.Scope, b.Phone, b.Region = q.Get("scope"), q.Get("phone"), q.Get("region")
	}
	if b.Scope == "" {
		b.Scope = cluster.ScopeGlobal
	}
	p, err := campaign.NormalizePhone(b.Phone, strings.ToUpper(b.Region))
	if err != nil {
		writeError(w, http.StatusBadRequest, "phone: "+err.Error())
		return b, false
	}
	b.Phone = p
	return b, true
}

func (a *apiServer) handleAddDNC(w http.ResponseWriter, r *http.Request) {
	b, ok := a.dncBody(w, r)
	if !ok {
		return
	}
	if _, err := a.node.Apply(r.Context(), cluster.AddDNC{Scope: b.Scope, Phone: b.Phone, Reason: b.Reason, At: time.Now()}); err != nil {
		writeError(w, clusterStatus(err), err.Error())
		return
	}
	b.Listed = true
	writeJSON(w, http.StatusOK, b)
}

func (a *apiServer) handleRemoveDNC(w http.ResponseWriter, r *http.Request) {
	b, ok := a.dncBody(w, r)
	if !ok {
		return
	}
	if _, err := a.node.Apply(r.Context(), cluster.RemoveDNC{Scope: b.Scope, Phone: b.Phone, At: time.Now()}); err != nil {
		writeError(w, clusterStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (a *apiServer) handleCheckDNC(w http.ResponseWriter, r *http.Request) {
	b, ok := a.dncBody(w, r)
	if !ok {
		return
	}
	camp := ""
	if b.Scope != cluster.ScopeGlobal {
		camp = b.Scope
	}
	listed, err := a.node.IsDNC(b.Phone, camp)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	b.Listed = listed
	writeJSON(w, http.StatusOK, b)
}
