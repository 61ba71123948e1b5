package daemon

// This file holds the API's access control (role-checked routes, the
// audit of every write and of every recording or transcript access, the
// viewer's masked records) and the login, users, tokens, audit and
// recording endpoints.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"callbox/daemon/apiv1"
	"callbox/daemon/audit"
	"callbox/daemon/auth"
	"callbox/daemon/recstore"
	"callbox/daemon/redact"
)

// apiRoute is one route with the permission it needs, for the role-matrix
// test and the documentation.
type apiRoute struct {
	Pattern string
	Perm    auth.Permission // "" for open routes
}

// securityRoutes registers the routes this file serves.
func (a *apiServer) securityRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/login", a.handleLogin)
	mux.HandleFunc("POST /v1/logout", a.allow(auth.PermSelf, a.handleLogout))
	mux.HandleFunc("GET /v1/whoami", a.allow(auth.PermSelf, a.handleWhoami))
	mux.HandleFunc("GET /v1/users", a.allow(auth.PermUsersManage, a.handleListUsers))
	mux.HandleFunc("POST /v1/users", a.allow(auth.PermUsersManage, a.handleAddUser))
	mux.HandleFunc("DELETE /v1/users/{name}", a.allow(auth.PermUsersManage, a.handleDeleteUser))
	mux.HandleFunc("PUT /v1/users/{name}/password", a.allow(auth.PermSelf, a.handleSetPassword))
	mux.HandleFunc("GET /v1/tokens", a.allow(auth.PermUsersManage, a.handleListTokens))
	mux.HandleFunc("POST /v1/tokens", a.allow(auth.PermUsersManage, a.handleCreateToken))
	mux.HandleFunc("DELETE /v1/tokens/{id}", a.allow(auth.PermUsersManage, a.handleRevokeToken))
	mux.HandleFunc("GET /v1/audit", a.allow(auth.PermAuditRead, a.handleAudit))
	mux.HandleFunc("GET /v1/audit/verify", a.allow(auth.PermAuditRead, a.handleAuditVerify))
	mux.HandleFunc("GET /v1/calls/{id}/recording", a.allow(auth.PermRecordingsListen, a.handleRecording))
	mux.HandleFunc("POST /v1/calls/{id}/recording/{action}", a.allow(recordingControlPerm, a.handleRecordingControl))
	mux.HandleFunc("GET /v1/calls/{id}/transcript", a.allow(auth.PermTranscriptsRead, a.handleTranscript))
	if a.sec.metrics != nil {
		h := a.sec.metrics.Handler()
		if a.cfg.Metrics.RequireAuth {
			h = a.allow(auth.PermMetrics, h.ServeHTTP)
		}
		mux.Handle("GET /metrics", h)
	}
}

// allow authenticates the request, checks perm, and audits every request
// that is not GET or HEAD (allowed or denied) with its outcome.
func (a *apiServer) allow(perm auth.Permission, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		write := r.Method != http.MethodGet && r.Method != http.MethodHead
		p, err := a.sec.authn.Authenticate(r)
		if err == nil && !p.Can(perm) {
			err = fmt.Errorf("%w: role %s lacks %s", auth.ErrForbidden, p.Role, perm)
		}
		if err != nil {
			status := auth.HTTPStatus(err)
			if write || perm == auth.PermRecordingsListen || perm == auth.PermTranscriptsRead || perm == auth.PermAuditRead {
				a.auditRequest(r, p, status, map[string]string{"denied": err.Error()})
			}
			writeError(w, status, err.Error())
			return
		}
		r = r.WithContext(auth.WithPrincipal(r.Context(), p))
		if !write {
			h(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		h(sw, r)
		a.auditRequest(r, p, sw.code(), nil)
	}
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// auditRequest appends one entry for a request.
func (a *apiServer) auditRequest(r *http.Request, p auth.Principal, status int, detail map[string]string) {
	action := r.Pattern
	if action == "" {
		action = r.Method + " " + r.URL.Path
	}
	_ = a.auditAs(r, p, action, r.URL.Path, status, detail)
}

// auditAs appends an entry; the error is logged and returned so that
// accesses to personal data can fail closed.
func (a *apiServer) auditAs(r *http.Request, p auth.Principal, action, target string, status int, detail map[string]string) error {
	e := audit.Entry{Actor: p.User, Role: string(p.Role), Via: p.Via, Remote: auth.ClientAddr(r),
		Action: action, Target: target, Status: status, Detail: detail}
	_, err := a.sec.audit.Append(e)
	a.sec.metrics.AuditWrite(err)
	if err != nil {
		a.log.Error("audit append failed", "action", action, "err", err)
	}
	return err
}

func principal(r *http.Request) auth.Principal {
	p, _ := auth.FromContext(r.Context())
	return p
}

// decodeBody decodes a small JSON body strictly.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	return true
}

func writeAuthError(w http.ResponseWriter, err error) {
	var we *auth.WaitError
	if errors.As(err, &we) {
		w.Header().Set("Retry-After", strconv.Itoa(int(we.Wait.Seconds()+0.999)))
	}
	writeError(w, auth.HTTPStatus(err), err.Error())
}

func permissionsOf(role auth.Role) []string {
	var out []string
	for _, p := range auth.Permissions() {
		if auth.Allowed(role, p) {
			out = append(out, string(p))
		}
	}
	return out
}

func (a *apiServer) handleLogin(w http.ResponseWriter, r *http.Request) {
	var body apiv1.Login
	if !decodeBody(w, r, &body) {
		return
	}
	res, err := a.sec.authn.Login(body.Username, body.Password, auth.ClientAddr(r))
	actor := auth.Principal{User: body.Username}
	if len(actor.User) > 64 {
		actor.User = actor.User[:64]
	}
	if err != nil {
		result := "failed"
		if errors.Is(err, auth.ErrSlowDown) || errors.Is(err, auth.ErrLocked) {
			result = "refused"
		}
		a.sec.metrics.Login(result)
		_ = a.auditAs(r, actor, "login."+result, body.Username, auth.HTTPStatus(err), nil)
		writeAuthError(w, err)
		return
	}
	a.sec.metrics.Login("ok")
	actor.Role, actor.Via = res.Session.Role, auth.ViaSession
	_ = a.auditAs(r, actor, "login", body.Username, http.StatusOK, nil)
	http.SetCookie(w, res.Cookie)
	writeJSON(w, http.StatusOK, apiv1.Session{
		User: res.Session.User, Role: string(res.Session.Role), Via: auth.ViaSession,
		CSRFToken: res.Session.CSRF, ExpiresAt: res.Session.ExpiresAt, Permissions: permissionsOf(res.Session.Role),
	})
}

func (a *apiServer) handleLogout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, a.sec.authn.Logout(r))
	w.WriteHeader(http.StatusNoContent)
}

func (a *apiServer) handleWhoami(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	out := apiv1.Session{User: p.User, Role: string(p.Role), Via: p.Via, Permissions: permissionsOf(p.Role), SetupMode: p.Via == auth.ViaLocal}
	if p.Via == auth.ViaSession {
		if s, ok := a.sec.authn.Session(r); ok {
			out.CSRFToken, out.ExpiresAt = s.CSRF, s.ExpiresAt
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func userView(u auth.UserInfo) apiv1.User {
	return apiv1.User{Name: u.Name, Role: string(u.Role), Created: u.Created, PasswordSet: u.PasswordSet}
}

func tokenView(t auth.TokenInfo) apiv1.Token {
	return apiv1.Token{ID: t.ID, Name: t.Name, User: t.User, Role: string(t.Role), Created: t.Created, Expires: t.Expires}
}

func (a *apiServer) handleListUsers(w http.ResponseWriter, r *http.Request) {
	out := []apiv1.User{}
	for _, u := range a.sec.authn.Store.Users() {
		out = append(out, userView(u))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *apiServer) handleAddUser(w http.ResponseWriter, r *http.Request) {
	var body apiv1.NewUser
	if !decodeBody(w, r, &body) {
		return
	}
	add := a.sec.authn.Store.AddUser
	if principal(r).Via == auth.ViaLocal {
		add = a.sec.authn.Store.AddFirstUser // setup mode: the cluster's first user, once
	}
	u, err := add(body.Name, auth.Role(body.Role), body.Password)
	if err != nil {
		writeAuthError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, userView(u))
}

func (a *apiServer) handleDeleteUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if err := a.sec.authn.Store.DeleteUser(name); err != nil {
		writeAuthError(w, err)
		return
	}
	a.sec.authn.EndSessions(name)
	w.WriteHeader(http.StatusNoContent)
}

// handleSetPassword: admins set anyone's password, others only their own.
func (a *apiServer) handleSetPassword(w http.ResponseWriter, r *http.Request) {
	name, p := r.PathValue("name"), principal(r)
	if name != p.User && !p.Can(auth.PermUsersManage) {
		writeError(w, http.StatusForbidden, fmt.Sprintf("%v: only an admin may set another user's password", auth.ErrForbidden))
		return
	}
	var body apiv1.SetPassword
	if !decodeBody(w, r, &body) {
		return
	}
	if err := a.sec.authn.Store.SetPassword(name, body.Password); err != nil {
		writeAuthError(w, err)
		return
	}
	a.sec.authn.EndSessions(name)
	w.WriteHeader(http.StatusNoContent)
}

func (a *apiServer) handleListTokens(w http.ResponseWriter, r *http.Request) {
	out := []apiv1.Token{}
	for _, t := range a.sec.authn.Store.Tokens(r.URL.Query().Get("user")) {
		out = append(out, tokenView(t))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *apiServer) handleCreateToken(w http.ResponseWriter, r *http.Request) {
	var body apiv1.NewToken
	if !decodeBody(w, r, &body) {
		return
	}
	if body.User == "" {
		body.User = principal(r).User
	}
	t, secret, err := a.sec.authn.Store.CreateToken(body.User, body.Name, auth.Role(body.Role), time.Duration(body.TTLSec)*time.Second)
	if err != nil {
		writeAuthError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, apiv1.CreatedToken{Token: tokenView(t), Secret: secret})
}

func (a *apiServer) handleRevokeToken(w http.ResponseWriter, r *http.Request) {
	if _, err := a.sec.authn.Store.RevokeToken(r.PathValue("id")); err != nil {
		writeAuthError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *apiServer) handleAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after uint64
	limit := 1000
	if s := q.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "after must be a sequence number")
			return
		}
		after = n
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 || n > 100000 {
			writeError(w, http.StatusBadRequest, "limit must be 1-100000")
			return
		}
		limit = n
	}
	es, err := a.sec.audit.Entries(after, limit)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	out := make([]apiv1.AuditEntry, 0, len(es))
	for _, e := range es {
		out = append(out, apiv1.AuditEntry(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *apiServer) handleAuditVerify(w http.ResponseWriter, r *http.Request) {
	rep, err := a.sec.audit.Verify()
	out := apiv1.AuditVerify{OK: err == nil, Entries: rep.Entries, LastSeq: rep.LastSeq, LastHash: rep.LastHash, MACs: rep.MACs, Head: rep.Head}
	var te *audit.TamperError
	switch {
	case errors.As(err, &te):
		out.Problem, out.BadLine, out.BadSeq = te.Error(), te.Line, te.Seq
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// view applies the caller's role to records: card and ID numbers are
// always redacted from prompts, digits and transcripts; numbers are masked
// and transcripts dropped for roles without those permissions; every
// transcript handed out is audited (fail closed: if the audit fails, the
// transcripts are withheld).
func (a *apiServer) view(r *http.Request, recs []apiv1.CallRecord) {
	p := principal(r)
	unmasked, transcripts, listen := p.Can(auth.PermNumbersUnmasked), p.Can(auth.PermTranscriptsRead), p.Can(auth.PermRecordingsListen)
	var withTranscript []string
	for i := range recs {
		rec := &recs[i]
		rec.Prompt, rec.DTMF = redact.Text(rec.Prompt), redact.Text(rec.DTMF)
		if !unmasked {
			rec.Number, rec.CallerID, rec.Prompt = redact.Phone(rec.Number), redact.Phone(rec.CallerID), ""
		}
		if !listen {
			rec.RecordingPath = ""
		}
		if rec.Dialogue != nil && len(rec.Dialogue.Slots) > 0 {
			if !transcripts {
				rec.Dialogue.Slots = nil
			} else {
				slots := make(map[string]string, len(rec.Dialogue.Slots))
				for k, v := range rec.Dialogue.Slots {
					slots[k] = redact.Text(v)
				}
				rec.Dialogue.Slots = slots
			}
		}
		if !transcripts {
			rec.Transcript = nil
			continue
		}
		for j := range rec.Transcript {
			t := &rec.Transcript[j]
			t.Text, t.Digits = redact.Text(t.Text), redact.Text(t.Digits)
		}
		if len(rec.Transcript) > 0 {
			withTranscript = append(withTranscript, rec.ID)
		}
	}
	if len(withTranscript) == 0 {
		return
	}
	target := strings.Join(withTranscript, ",")
	if len(target) > 4000 {
		target = target[:4000] + "…"
	}
	if err := a.auditAs(r, p, "transcript.read", target, http.StatusOK, map[string]string{"calls": strconv.Itoa(len(withTranscript))}); err != nil {
		for i := range recs {
			recs[i].Transcript = nil
		}
	}
}

// handleTranscript is GET /v1/calls/{id}/transcript.
func (a *apiServer) handleTranscript(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, ok, err := a.node.CallRecord(id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no call %q", id))
		return
	}
	recs := []apiv1.CallRecord{recordView(rec)}
	a.view(r, recs)
	out := recs[0].Transcript
	if out == nil {
		out = []apiv1.TranscriptTurn{}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleRecording is GET /v1/calls/{id}/recording: the recording decrypted
// and authenticated, as a WAV. The whole file is authenticated before the
// first byte is sent; the access is audited before that too, and refused
// if the audit cannot be written.
func (a *apiServer) handleRecording(w http.ResponseWriter, r *http.Request) {
	id, p := r.PathValue("id"), principal(r)
	rec, ok, err := a.node.CallRecord(id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no call %q", id))
		return
	}
	if rec.RecordingPath == "" {
		writeError(w, http.StatusNotFound, fmt.Sprintf("call %s has no recording", id))
		return
	}
	if rec.RecordingBox != "" && rec.RecordingBox != a.cfg.Box.ID {
		writeError(w, http.StatusMisdirectedRequest, fmt.Sprintf("call %s was recorded on box %s; ask that box", id, rec.RecordingBox))
		return
	}
	root := filepath.Join(a.cfg.Box.DataDir, "recordings")
	if rel, err := filepath.Rel(root, rec.RecordingPath); err != nil || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("call %s: recording path is outside %s", id, root))
		return
	}
	if !strings.HasSuffix(rec.RecordingPath, recstore.Ext) {
		writeError(w, http.StatusInternalServerError, fmt.Sprintf("call %s: %s is not an encrypted recording; plaintext recordings are not served", id, filepath.Base(rec.RecordingPath)))
		return
	}
	info, verr := recstore.VerifyFile(rec.RecordingPath, a.sec.keys)
	status, detail := http.StatusOK, map[string]string{"bytes": strconv.FormatInt(info.Bytes, 10)}
	switch {
	case verr == nil:
	case errors.Is(verr, recstore.ErrTruncated):
		detail["truncated"] = "true"
	case errors.Is(verr, os.ErrNotExist):
		status = http.StatusNotFound
	case errors.Is(verr, recstore.ErrWrongKey):
		status = http.StatusConflict
	default:
		status = http.StatusUnprocessableEntity
	}
	if verr != nil {
		detail["error"] = verr.Error()
	}
	if err := a.auditAs(r, p, "recording.listen", id, status, detail); err != nil {
		writeError(w, http.StatusServiceUnavailable, "the audit log cannot be written, so recordings cannot be served: "+err.Error())
		return
	}
	if status != http.StatusOK {
		writeError(w, status, fmt.Sprintf("call %s: %v", id, verr))
		return
	}
	if info.Bytes < 44 {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("call %s: recording holds no audio", id))
		return
	}
	rd, c, err := recstore.Open(rec.RecordingPath, a.sec.keys)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	defer c.Close()
	hdr := make([]byte, 44)
	if _, err := io.ReadFull(rd, hdr); err != nil || string(hdr[0:4]) != "RIFF" {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("call %s: recording does not hold a WAV", id))
		return
	}
	// The recorder streams, so its header says "size unknown": fix it.
	binary.LittleEndian.PutUint32(hdr[4:8], uint32(min(info.Bytes-8, 0xFFFFFFFF)))
	binary.LittleEndian.PutUint32(hdr[40:44], uint32(min(info.Bytes-44, 0xFFFFFFFF)))
	w.Header().Set("Content-Type", "audio/wav")
	w.Header().Set("Content-Length", strconv.FormatInt(info.Bytes, 10))
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", id+".wav"))
	if detail["truncated"] == "true" {
		w.Header().Set("X-Callbox-Recording", "truncated")
	}
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(hdr); err != nil {
		return
	}
	if _, err := io.CopyN(w, rd, info.Bytes-44); err != nil && !errors.Is(err, recstore.ErrTruncated) {
		a.log.Error("recording stream stopped", "call", id, "err", err)
	}
}
