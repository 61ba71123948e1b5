package daemon

// This file holds GET /v1/campaigns/{id}/series: a campaign's answer,
// conversion and transfer rates and average handle time per time bucket,
// computed on the box from the attempts and their call records (the
// dashboard's charts over time).

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"callbox/cluster"
	"callbox/daemon/campaign"
)

func (a *apiServer) handleCampaignSeries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var step time.Duration
	if s := q.Get("step"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("step %q: want a duration of at least 1s such as 1m, 5m or 1h", s))
			return
		}
		step = d
	}
	var since, until time.Time
	for key, dst := range map[string]*time.Time{"since": &since, "until": &until} {
		if s := q.Get(key); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				writeError(w, http.StatusBadRequest, key+" must be an RFC 3339 time such as 2026-11-21T09:00:00Z")
				return
			}
			*dst = t
		}
	}
	k, ok := a.campaign(w, r.PathValue("id"))
	if !ok {
		return
	}
	atts, err := a.node.Attempts(k.ID)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s, err := campaign.BuildSeries(&k, atts, func(id string) (cluster.CallRecord, bool) {
		rec, ok, _ := a.node.CallRecord(id)
		return rec, ok
	}, step, since, until, time.Now())
	switch {
	case errors.Is(err, campaign.ErrBadSeries):
		writeError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
	default:
		writeJSON(w, http.StatusOK, s)
	}
}
