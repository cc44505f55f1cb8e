// Package dashboard serves the web dashboard that mpmd shows at "/".
//
// The front-end lives in web/ and is built by `make build` (npm ci + esbuild)
// into dist/, which this package embeds, so one binary serves the page with
// no CDN and no network. A binary built without the assets (a plain
// `go build`) still works; its dashboard is a page that says how to build them.
package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

//go:embed all:dist
var embedded embed.FS

// notBuiltMessage is what a binary without assets answers.
const notBuiltMessage = "dashboard assets are not built: run `make build`"

// asset is one file ready to serve: its bytes, a gzip copy when that is
// smaller, and the headers that do not depend on the request.
type asset struct {
	body         []byte
	gz           []byte
	contentType  string
	etag         string
	cacheControl string
}

// site is a loaded set of assets; the embedded one is loaded once, on first use.
type site map[string]*asset

var embeddedSite = sync.OnceValue(func() site {
	sub, err := fs.Sub(embedded, "dist")
	if err != nil {
		return site{}
	}
	return load(sub)
})

// contentTypes is fixed here rather than taken from the system's mime tables,
// which differ between machines (and once served .js as text/plain).
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".json":  "application/json",
	".map":   "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".txt":   "text/plain; charset=utf-8",
	".woff2": "font/woff2",
}

// load reads every file of fsys except dot files (dist/.keep) into a site.
func load(fsys fs.FS) site {
	assets := site{}
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(body)
		a := &asset{
			body:        body,
			contentType: contentTypes[path.Ext(p)],
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
			// index.html names the other files by content hash, so those never
			// change under their name; the page itself is revalidated each time.
			cacheControl: "public, max-age=31536000, immutable",
		}
		if a.contentType == "" {
			a.contentType = "application/octet-stream"
		}
		if p == "index.html" || !isHashed(p) {
			a.cacheControl = "no-cache"
		}
		if compressible(a.contentType) && len(body) > 1024 {
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			_, _ = zw.Write(body)
			_ = zw.Close()
			if buf.Len() < len(body) {
				a.gz = buf.Bytes()
			}
		}
		assets[p] = a
		return nil
	})
	return assets
}

// isHashed reports whether a file name carries the content hash the build
// adds ("app-3FJ2KQ7A.js").
func isHashed(p string) bool {
	base := strings.TrimSuffix(path.Base(p), path.Ext(p))
	i := strings.LastIndexByte(base, '-')
	return i >= 0 && len(base)-i-1 >= 8
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "image/svg")
}

// Built reports whether the dashboard assets were embedded at build time.
func Built() bool { return embeddedSite().built() }

func (s site) built() bool { return s["index.html"] != nil }

// Handler serves the dashboard: "/" is the page, other paths its assets.
// It answers GET and HEAD only, refuses paths that try to leave the asset
// directory, and when the binary was built without assets answers every
// request with 500 and a page saying to run `make build`.
func Handler() http.Handler { return embeddedSite() }

// ServeHTTP serves one asset of s.
func (s site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !s.built() {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("<!doctype html><meta charset=utf-8><title>mpm dashboard</title>" +
			"<h1>mpm dashboard</h1><p>" + strings.ReplaceAll(notBuiltMessage, "`make build`", "<code>make build</code>") +
			" in the mpm source tree, then restart mpmd.</p>\n"))
		return
	}
	name, ok := assetName(r.URL.Path)
	if !ok {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	a := s[name]
	if a == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", a.cacheControl)
	h.Set("ETag", a.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if name == "index.html" {
		// The page talks only to the daemon that served it (or the port given
		// in ?port=, still on loopback) and is never framed.
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
	}
	if etagMatch(r.Header.Get("If-None-Match"), a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := a.body
	if a.gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		h.Set("Content-Encoding", "gzip")
		body = a.gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

// assetName maps a URL path to a file in dist. It refuses any path with a
// ".." segment, a backslash or a NUL instead of cleaning it, so nothing a
// client sends can name a file outside the embedded directory.
func assetName(urlPath string) (string, bool) {
	if urlPath == "" || urlPath == "/" || urlPath == "/index.html" {
		return "index.html", true
	}
	if strings.ContainsAny(urlPath, "\\\x00") {
		return "", false
	}
	p := strings.TrimPrefix(urlPath, "/")
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." {
			return "", false
		}
	}
	if !fs.ValidPath(p) {
		return "", false
	}
	return p, true
}

func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip
// ("gzip;q=0" refuses it).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(q, 64)
			return err == nil && f > 0
		}
		return true
	}
	return false
}
