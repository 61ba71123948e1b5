// Package web owns callboxd's operator dashboard: the HTML, JavaScript,
// CSS and translation dictionary embedded in the binary (no CDN, no
// external fonts, works on an offline site) and the handler that serves
// them. The dashboard talks only to the daemon's own /v1 API: the session
// cookie for reads, the X-CSRF-Token header for writes, and the
// GET /v1/events WebSocket for live calls and counters.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// ContentSecurityPolicy is sent with every dashboard file: only the box's
// own origin, no inline script, no framing.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	data  []byte
	ctype string
	etag  string
}

// Handler serves the dashboard: GET / is the page, GET /ui/{file} its
// assets. Anything else is 404.
type Handler struct {
	files   map[string]asset // by name under static/
	started time.Time
}

// New loads the embedded files.
func New() *Handler {
	h := &Handler{files: map[string]asset{}, started: time.Now()}
	_ = fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		if strings.HasPrefix(ct, "text/") && !strings.Contains(ct, "charset") {
			ct += "; charset=utf-8"
		}
		h.files[strings.TrimPrefix(p, "static/")] = asset{data: data, ctype: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	return h
}

// Names lists the embedded files (for tests).
func (h *Handler) Names() []string {
	out := make([]string, 0, len(h.files))
	for n := range h.files {
		out = append(out, n)
	}
	return out
}

// ServeHTTP serves "/" as index.html and "/ui/NAME" as static/NAME.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := ""
	switch {
	case r.URL.Path == "/":
		name = "index.html"
	case strings.HasPrefix(r.URL.Path, "/ui/"):
		name = strings.TrimPrefix(r.URL.Path, "/ui/")
		if name == "index.html" {
			name = ""
		}
	}
	a, ok := h.files[name]
	if !ok || name == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"no such dashboard file"}` + "\n"))
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache") // revalidate: the ETag changes with each build's files
	hd.Set("ETag", a.etag)
	http.ServeContent(w, r, name, h.started, bytes.NewReader(a.data))
}
