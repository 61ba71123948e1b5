package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"callbox/cluster"
	"callbox/daemon/auth"
)

// clusterAPI serves /v1/cluster/*: status, join tokens, leave, remove.
type clusterAPI struct {
	api   *apiServer
	node  *cluster.Node
	rt    *clusterRuntime
	leave func() // stops the box after a graceful leave
}

// withCluster routes /v1/cluster/ to c and everything else to h.
func withCluster(h http.Handler, c *clusterAPI) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/cluster/status", c.api.auth(c.handleStatus))
	// Membership (join tokens, leave, remove) is the admin's (auth.PermClusterManage).
	mux.HandleFunc("POST /v1/cluster/tokens", c.api.allow(auth.PermClusterManage, c.handleToken))
	mux.HandleFunc("POST /v1/cluster/leave", c.api.allow(auth.PermClusterManage, c.handleLeave))
	mux.HandleFunc("POST /v1/cluster/remove", c.api.allow(auth.PermClusterManage, c.handleRemove))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/cluster/") {
			mux.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func clusterHTTPStatus(err error) int {
	switch {
	case errors.Is(err, cluster.ErrInvalidCommand):
		return http.StatusBadRequest
	case errors.Is(err, cluster.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, cluster.ErrNoTLS), errors.Is(err, cluster.ErrJoinRefused):
		return http.StatusConflict
	case errors.Is(err, cluster.ErrNotLeader), errors.Is(err, cluster.ErrOutcomeUnknown):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (c *clusterAPI) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := c.node.Status()
	if err != nil {
		writeError(w, clusterHTTPStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (c *clusterAPI) handleToken(w http.ResponseWriter, r *http.Request) {
	var req struct {
		TTL string `json:"ttl"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
			writeError(w, http.StatusBadRequest, "body: "+err.Error())
			return
		}
	}
	ttl := time.Hour
	if req.TTL != "" {
		d, err := time.ParseDuration(req.TTL)
		if err != nil {
			writeError(w, http.StatusBadRequest, "ttl: "+err.Error())
			return
		}
		ttl = d
	}
	tok, err := c.node.CreateJoinToken(ttl, time.Now())
	if err != nil {
		writeError(w, clusterHTTPStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": tok.String(), "expires": tok.Expires, "addr": tok.Addr})
}

func (c *clusterAPI) handleLeave(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	c.rt.fence.Revoke()
	if err := c.node.RemoveMember(ctx, c.node.ID(), c.rt.cfg.CallbackWithin); err != nil {
		writeError(w, clusterHTTPStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"left": c.node.ID()})
	if c.leave != nil {
		go c.leave()
	}
}

func (c *clusterAPI) handleRemove(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.ID == "" {
		writeError(w, http.StatusBadRequest, `body must be {"id": "BOX"}`)
		return
	}
	if req.ID == c.node.ID() {
		writeError(w, http.StatusBadRequest, "use leave to remove this box itself")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := c.node.RemoveMember(ctx, req.ID, c.rt.cfg.CallbackWithin); err != nil {
		writeError(w, clusterHTTPStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"removed": req.ID})
}
