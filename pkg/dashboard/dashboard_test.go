package dashboard_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/mpm-dev/mpm/pkg/dashboard"
)

var testFS = fstest.MapFS{
	".keep":                    {Data: nil},
	"index.html":               {Data: []byte(`<!doctype html><script src="app-ABCDEFGH.js"></script>`)},
	"app-ABCDEFGH.js":          {Data: []byte(strings.Repeat("console.log('mpm');\n", 200))},
	"app-ABCDEFGH.css":         {Data: []byte("body{}")},
	"favicon.svg":              {Data: []byte("<svg/>")},
	"nested/logo-12345678.png": {Data: []byte("\x89PNG")},
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "http://127.0.0.1/", nil)
	req.URL.Path = target // unclean on purpose: the handler must not rely on the mux cleaning it
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestServe(t *testing.T) {
	h := dashboard.HandlerFor(testFS)
	tests := []struct {
		path, status, ctype, cache string
	}{
		{"/", "200", "text/html; charset=utf-8", "no-cache"},
		{"/index.html", "200", "text/html; charset=utf-8", "no-cache"},
		{"/app-ABCDEFGH.js", "200", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{"/app-ABCDEFGH.css", "200", "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"/favicon.svg", "200", "image/svg+xml", "no-cache"},
		{"/nested/logo-12345678.png", "200", "image/png", "public, max-age=31536000, immutable"},
		{"/missing.js", "404", "", ""},
		{"/.keep", "404", "", ""},
		{"/../../etc/passwd", "400", "", ""},
		{"/nested/../index.html", "400", "", ""},
		{"/./index.html", "400", "", ""},
		{"/..%2f..%2fetc/passwd", "404", "", ""},
		{"/a\\..\\index.html", "400", "", ""},
		{"//etc/passwd", "400", "", ""},
	}
	for _, tt := range tests {
		rec := get(t, h, "GET", tt.path, nil)
		if got := http.StatusText(rec.Code); rec.Code != atoi(tt.status) {
			t.Errorf("GET %q: status %d %s, want %s", tt.path, rec.Code, got, tt.status)
			continue
		}
		if tt.ctype != "" {
			if got := rec.Header().Get("Content-Type"); got != tt.ctype {
				t.Errorf("GET %q: Content-Type %q, want %q", tt.path, got, tt.ctype)
			}
			if got := rec.Header().Get("Cache-Control"); got != tt.cache {
				t.Errorf("GET %q: Cache-Control %q, want %q", tt.path, got, tt.cache)
			}
			if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("GET %q: X-Content-Type-Options %q, want nosniff", tt.path, got)
			}
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestConditionalAndGzip(t *testing.T) {
	h := dashboard.HandlerFor(testFS)
	first := get(t, h, "GET", "/app-ABCDEFGH.js", nil)
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if got, want := get(t, h, "GET", "/app-ABCDEFGH.js", map[string]string{"If-None-Match": etag}).Code, http.StatusNotModified; got != want {
		t.Errorf("If-None-Match: status %d, want %d", got, want)
	}
	gz := get(t, h, "GET", "/app-ABCDEFGH.js", map[string]string{"Accept-Encoding": "br, gzip"})
	if got := gz.Header().Get("Content-Encoding"); got != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", got)
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if got, want := string(plain), string(testFS["app-ABCDEFGH.js"].Data); got != want {
		t.Errorf("gunzipped body differs from the asset (%d vs %d bytes)", len(got), len(want))
	}
	if got := get(t, h, "GET", "/app-ABCDEFGH.js", map[string]string{"Accept-Encoding": "gzip;q=0"}).Header().Get("Content-Encoding"); got != "" {
		t.Errorf("gzip;q=0: Content-Encoding %q, want none", got)
	}
	head := get(t, h, "HEAD", "/", nil)
	if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD /: status %d, %d body bytes, Content-Length %q", head.Code, head.Body.Len(), head.Header().Get("Content-Length"))
	}
	if got := get(t, h, "POST", "/", nil).Code; got != http.StatusMethodNotAllowed {
		t.Errorf("POST /: status %d, want 405", got)
	}
}

func TestNotBuilt(t *testing.T) {
	h := dashboard.HandlerFor(fstest.MapFS{".keep": {}})
	rec := get(t, h, "GET", "/", nil)
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", rec.Code)
	}
	if body := rec.Body.String(); !strings.Contains(body, "dashboard assets are not built") || !strings.Contains(body, "make build") {
		t.Errorf("body does not say how to build the assets: %q", body)
	}
}

// TestEmbedded checks the real embedded assets: whatever this binary was
// built with, Built and Handler agree.
func TestEmbedded(t *testing.T) {
	rec := get(t, dashboard.Handler(), "GET", "/", nil)
	if dashboard.Built() {
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "<script") {
			t.Errorf("built: GET / = %d, want the page", rec.Code)
		}
	} else if rec.Code != http.StatusInternalServerError {
		t.Errorf("not built: GET / = %d, want 500", rec.Code)
	}
}
