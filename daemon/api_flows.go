package daemon

// This file holds the stored-flow endpoints of the HTTP API (validate,
// upload a version, list, read, versions, archive) and the resolution of
// "store:NAME[@N]" flow references for calls: the version a call runs is
// written under data_dir/flowstore as NAME@N.yaml (checked against its
// SHA-256 every time), so the call record's flow names the exact version
// the caller heard.

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"callbox/cluster"
	"callbox/daemon/apiv1"
	"callbox/daemon/auth"
	"callbox/daemon/flow"
)

func (a *apiServer) flowRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/flows/validate", a.allow(auth.PermFlowsWrite, a.handleValidateFlow))
	mux.HandleFunc("GET /v1/flows", a.allow(auth.PermFlowsRead, a.handleListFlows))
	mux.HandleFunc("GET /v1/flows/{name}", a.allow(auth.PermFlowsRead, a.handleGetFlow))
	mux.HandleFunc("GET /v1/flows/{name}/versions", a.allow(auth.PermFlowsRead, a.handleFlowVersions))
	mux.HandleFunc("PUT /v1/flows/{name}", a.allow(auth.PermFlowsWrite, a.handlePutFlow))
	mux.HandleFunc("DELETE /v1/flows/{name}", a.allow(auth.PermFlowsWrite, a.handleArchiveFlow))
}

// readFlowBody reads an uploaded flow file (YAML, at most
// cluster.MaxFlowSize bytes, UTF-8).
func readFlowBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, cluster.MaxFlowSize))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("flow file is larger than %d bytes", cluster.MaxFlowSize))
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "flow body: "+err.Error())
		return nil, false
	case len(data) == 0:
		writeError(w, http.StatusBadRequest, "flow body is empty: send the flow's YAML")
		return nil, false
	case !utf8.Valid(data):
		writeError(w, http.StatusBadRequest, "flow file is not valid UTF-8")
		return nil, false
	}
	return data, true
}

func flowProblem(d flow.Diagnostic) apiv1.FlowProblem {
	return apiv1.FlowProblem{File: d.File, Line: d.Line, Col: d.Col, Warning: d.Warning, Message: d.Msg, Text: d.String()}
}

// parseFlow validates data as file; on problems it writes the 400 answer.
func parseFlow(w http.ResponseWriter, file string, data []byte) (*flow.Flow, bool) {
	f, err := flow.Parse(file, data)
	var list flow.ErrorList
	switch {
	case errors.As(err, &list):
		out := apiv1.FlowInvalid{Error: list.Error(), Problems: make([]apiv1.FlowProblem, 0, len(list))}
		for _, d := range list {
			out.Problems = append(out.Problems, flowProblem(d))
		}
		writeJSON(w, http.StatusBadRequest, out)
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: %v", file, err))
		return nil, false
	}
	return f, true
}

func flowSummary(file string, f *flow.Flow) *apiv1.FlowSummary {
	s := &apiv1.FlowSummary{File: file, Name: f.Name, Language: f.Language, Start: f.Start, Nodes: len(f.Nodes)}
	for _, d := range f.Warnings {
		s.Warnings = append(s.Warnings, flowProblem(d))
	}
	return s
}

// handleValidateFlow is POST /v1/flows/validate[?file=NAME]: the body is
// checked as callboxctl flow lint would, nothing is stored.
func (a *apiServer) handleValidateFlow(w http.ResponseWriter, r *http.Request) {
	file := r.URL.Query().Get("file")
	if file == "" {
		file = "flow.yaml"
	}
	data, ok := readFlowBody(w, r)
	if !ok {
		return
	}
	if f, ok := parseFlow(w, file, data); ok {
		writeJSON(w, http.StatusOK, flowSummary(file, f))
	}
}

func flowHeadView(h cluster.FlowHead) apiv1.Flow {
	v := apiv1.Flow{Name: h.Name, Latest: h.Latest, SHA256: h.SHA256, Author: h.Author, Created: h.Created, Updated: h.Updated,
		Archived: h.Archived, ArchivedBy: h.ArchivedBy, Ref: cluster.FlowRef{Name: h.Name}.String()}
	if h.Archived {
		at := h.ArchivedAt
		v.ArchivedAt = &at
	}
	return v
}

func flowVersionView(fv cluster.FlowVersion, size int) apiv1.FlowVersion {
	return apiv1.FlowVersion{Name: fv.Name, Version: fv.Version, SHA256: fv.SHA256, Author: fv.Author, Created: fv.At,
		Size: size, Ref: cluster.FlowRef{Name: fv.Name, Version: fv.Version}.String()}
}

// handlePutFlow is PUT /v1/flows/{name}: validate, then commit the next
// version (nothing is stored when the file is invalid). 201 with the new
// version; 200 "unchanged" when it equals the latest.
func (a *apiServer) handlePutFlow(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := cluster.CheckFlowName(name); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	data, ok := readFlowBody(w, r)
	if !ok {
		return
	}
	f, ok := parseFlow(w, name, data)
	if !ok {
		return
	}
	p := principal(r)
	sum := cluster.FlowSHA256(data)
	res, err := a.node.PutFlow(r.Context(), cluster.PutFlowVersion{Name: name, Content: data, SHA256: sum, Author: p.User, At: time.Now()})
	if err != nil {
		writeError(w, clusterStatus(err), err.Error())
		return
	}
	out := apiv1.FlowPut{FlowVersion: apiv1.FlowVersion{Name: name, Version: res.Version, SHA256: res.SHA256, Author: p.User,
		Size: len(data), Ref: cluster.FlowRef{Name: name, Version: res.Version}.String()}, Unchanged: res.Unchanged, Summary: flowSummary(name, f)}
	if fv, ok, err := a.node.FlowVersion(name, res.Version); err == nil && ok {
		out.Author, out.Created = fv.Author, fv.At
	}
	status := http.StatusCreated
	if res.Unchanged {
		status = http.StatusOK
	} else {
		_ = a.auditAs(r, p, "flow.version", name, status, map[string]string{"version": strconv.Itoa(res.Version), "sha256": res.SHA256})
	}
	w.Header().Set("Location", "/v1/flows/"+name+"?version="+strconv.Itoa(res.Version))
	writeJSON(w, status, out)
}

func (a *apiServer) handleListFlows(w http.ResponseWriter, r *http.Request) {
	hs, err := a.node.FlowHeads(r.URL.Query().Get("archived") == "true")
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := make([]apiv1.Flow, 0, len(hs))
	for _, h := range hs {
		out = append(out, flowHeadView(h))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleGetFlow is GET /v1/flows/{name}[?version=N]: a version with its
// content (the latest by default). With Accept: application/yaml the
// body is the file itself.
func (a *apiServer) handleGetFlow(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	version := 0
	if s := r.URL.Query().Get("version"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("version %q: want a positive number", s))
			return
		}
		version = n
	}
	fv, ok, err := a.node.FlowVersion(name, version)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !ok {
		msg := fmt.Sprintf("no stored flow %q", name)
		if version > 0 {
			msg = fmt.Sprintf("flow %q has no version %d", name, version)
		}
		writeError(w, http.StatusNotFound, msg)
		return
	}
	w.Header().Set("X-Callbox-Flow-Version", strconv.Itoa(fv.Version))
	if strings.Contains(r.Header.Get("Accept"), "yaml") {
		w.Header().Set("Content-Type", "application/yaml")
		w.Header().Set("ETag", `"`+fv.SHA256+`"`)
		_, _ = w.Write(fv.Content)
		return
	}
	out := flowVersionView(fv, len(fv.Content))
	out.Content = string(fv.Content)
	writeJSON(w, http.StatusOK, out)
}

func (a *apiServer) handleFlowVersions(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	vs, err := a.node.FlowVersions(name)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if len(vs) == 0 {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no stored flow %q", name))
		return
	}
	out := make([]apiv1.FlowVersion, 0, len(vs))
	for _, v := range vs {
		out = append(out, flowVersionView(v, 0))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleArchiveFlow is DELETE /v1/flows/{name}: the flow is archived (its
// versions stay readable for the records that name them); 409 while a
// running or paused campaign uses it.
func (a *apiServer) handleArchiveFlow(w http.ResponseWriter, r *http.Request) {
	name, p := r.PathValue("name"), principal(r)
	if err := cluster.CheckFlowName(name); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	_, err := a.node.Apply(r.Context(), cluster.ArchiveFlow{Name: name, By: p.User, At: time.Now()})
	switch {
	case errors.Is(err, cluster.ErrFlowInUse):
		writeError(w, http.StatusConflict, err.Error())
		return
	case err != nil:
		writeError(w, clusterStatus(err), err.Error())
		return
	}
	_ = a.auditAs(r, p, "flow.archive", name, http.StatusNoContent, nil)
	w.WriteHeader(http.StatusNoContent)
}

// resolveFlowPath turns a call's flow reference into a file: a
// "store:NAME[@N]" reference is the stored version written under
// data_dir/flowstore/NAME@N.yaml (rewritten when its SHA-256 does not
// match the stored one); anything else is a flows.dir name or a path
// (flowPath).
func (m *callManager) resolveFlowPath(name string) (string, error) {
	ref, ok, err := cluster.ParseFlowRef(name)
	if !ok {
		return flowPath(m.limits(), name)
	}
	if err != nil {
		return "", err
	}
	if ref.Version == 0 {
		h, found, err := m.node.FlowHead(ref.Name)
		if err != nil {
			return "", err
		}
		if !found || h.Archived {
			return "", fmt.Errorf("flow %s: no stored flow %q (or it is archived)", name, ref.Name)
		}
	}
	fv, found, err := m.node.FlowVersion(ref.Name, ref.Version)
	if err != nil {
		return "", err
	}
	if !found {
		return "", fmt.Errorf("flow %s: no such stored flow version", name)
	}
	dir := filepath.Join(m.cfg.Box.DataDir, "flowstore")
	path := filepath.Join(dir, fmt.Sprintf("%s@%d.yaml", fv.Name, fv.Version))
	if old, err := os.ReadFile(path); err == nil && cluster.FlowSHA256(old) == fv.SHA256 {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("flow %s: %w", name, err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("flow %s: %w", name, err)
	}
	_, werr := tmp.Write(fv.Content)
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path)
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("flow %s: writing %s: %w", name, path, werr)
	}
	return path, nil
}
