// Package adminui serves the Socket.IO Admin UI's page, which mpmd shows at
// /admin/ (its protocol is pkg/admin's).
//
// The page is npm's @socket.io/admin-ui (its prebuilt ui/dist) with the
// Material Design Icons of @mdi/font, copied by `make build`
// (web/build-admin.mjs) into dist/, which this package embeds: one binary
// serves it with no CDN and no network. A binary built without the assets
// (a plain `go build`) still works; its page says how to build them.
package adminui

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed all:dist
var embedded embed.FS

// contentTypes is fixed here rather than taken from the system's mime
// tables, which differ between machines.
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".woff2": "font/woff2",
}

// Built reports whether the assets were embedded at build time.
func Built() bool {
	_, err := fs.Stat(embedded, "dist/index.html")
	return err == nil
}

// Handler serves the page and its assets at "/" (mount it with the
// /admin prefix stripped). It answers GET and HEAD only, and serves only
// the embedded files (no directory listings).
func Handler() http.Handler {
	sub, _ := fs.Sub(embedded, "dist")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if !Built() {
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("<!doctype html><meta charset=utf-8><title>Socket.IO Admin UI</title>" +
				"<h1>Socket.IO Admin UI</h1><p>The Admin UI's assets are not built: run <code>make build</code> in the mpm source tree, then restart mpmd.</p>\n"))
			return
		}
		p := r.URL.Path
		if p == "" || p == "/" {
			p = "/index.html"
		}
		name := strings.TrimPrefix(p, "/")
		if !fs.ValidPath(name) || strings.HasPrefix(path.Base(name), ".") {
			http.NotFound(w, r)
			return
		}
		if st, err := fs.Stat(sub, name); err != nil || st.IsDir() {
			http.NotFound(w, r)
			return
		}
		if ct, ok := contentTypes[path.Ext(name)]; ok {
			h.Set("Content-Type", ct)
		}
		h.Set("Cache-Control", "no-cache")
		if name == "index.html" {
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "no-referrer")
			// FileServer redirects /index.html to ./; serve the file itself.
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/"
			files.ServeHTTP(w, r2)
			return
		}
		files.ServeHTTP(w, r)
	})
}
