package adminui_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mpm-dev/mpm/pkg/adminui"
)

func get(t *testing.T, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	adminui.Handler().ServeHTTP(w, httptest.NewRequest(method, path, nil))
	return w
}

func TestServesTheOfflineUI(t *testing.T) {
	if !adminui.Built() {
		t.Skip("pkg/adminui/dist is not built: run make build (make test does)")
	}
	w := get(t, "GET", "/")
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("/: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	html := w.Body.String()
	if !strings.Contains(html, "Socket.IO Admin UI") || !strings.Contains(html, `href="mdi/css/materialdesignicons.min.css"`) {
		t.Errorf("index.html: %.300s", html)
	}
	if strings.Contains(html, "http://") || strings.Contains(html, "https://") {
		t.Errorf("index.html loads something remote: %s", html)
	}
	if w.Header().Get("X-Frame-Options") != "DENY" {
		t.Error("index.html may be framed")
	}
	for _, p := range []string{"/mdi/css/materialdesignicons.min.css", "/mdi/fonts/materialdesignicons-webfont.woff2", "/favicon.png"} {
		if w := get(t, "GET", p); w.Code != 200 {
			t.Errorf("%s: %d", p, w.Code)
		}
	}
	if ct := get(t, "GET", "/mdi/fonts/materialdesignicons-webfont.woff2").Header().Get("Content-Type"); ct != "font/woff2" {
		t.Errorf("woff2 served as %q", ct)
	}
	for _, p := range []string{"/.keep", "/nope.js", "/../adminui.go", "/js/", "/js"} {
		if w := get(t, "GET", p); w.Code != 404 && w.Code != 400 && w.Code != 301 {
			t.Errorf("%s: %d, want it refused", p, w.Code)
		} else if w.Code == 200 {
			t.Errorf("%s served", p)
		}
	}
	if w := get(t, "POST", "/"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
	if w := get(t, "GET", "/index.html"); w.Code != 200 {
		t.Errorf("/index.html: %d", w.Code)
	}
}
