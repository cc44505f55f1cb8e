package fault_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

var allNamespaces = []string{"/", "/system", "/session", "/claude", "/agent", "/hook", "/todo", "/memory", "/log"}

// With a token, every namespace (and "/") refuses a handshake without it or
// with a wrong one — in auth, in the query, as a header — and every protected
// HTTP route answers 401; the right token gets in everywhere.
func TestSecurityTokenEverywhere(t *testing.T) {
	const token = "fault-s3cret"
	d := mpmdtest.Start(t, mpmdtest.WithToken(token))
	before := stored(t, d)

	for _, ns := range allNamespaces {
		for _, c := range []struct {
			name  string
			auth  map[string]any
			query string
			hdr   string
			want  string
		}{
			{"none", map[string]any{}, "", "", "authentication required"},
			{"empty", map[string]any{"token": ""}, "", "", "authentication required"},
			{"wrong", map[string]any{"token": "fault-s3creT"}, "", "", "invalid authentication token"},
			{"prefix", map[string]any{"token": token[:len(token)-1]}, "", "", "invalid authentication token"},
			{"longer", map[string]any{"token": token + "x"}, "", "", "invalid authentication token"},
			{"not a string", map[string]any{"token": 12345}, "", "", "authentication required"},
			{"wrong in query", map[string]any{}, "token=nope", "", "invalid authentication token"},
			{"wrong header", map[string]any{}, "", "Bearer nope", "invalid authentication token"},
		} {
			var hdr http.Header
			if c.hdr != "" {
				hdr = http.Header{"Authorization": {c.hdr}}
			}
			w, _, err := mpmdtest.DialWS(t, d, c.query, hdr)
			if err != nil {
				t.Fatalf("%s %s: %v", ns, c.name, err)
			}
			msg, err := w.Connect(ns, c.auth)
			if err != nil {
				t.Fatalf("%s %s: %v", ns, c.name, err)
			}
			if !strings.Contains(msg, c.want) {
				t.Errorf("%s with %s token: answer %q, want a refusal saying %q", ns, c.name, msg, c.want)
			}
			w.C.Close()
		}
		w := mpmdtest.MustWS(t, d)
		if msg, err := w.Connect(ns, map[string]any{"token": token}); err != nil || msg != "" {
			t.Errorf("%s with the right token: %q %v", ns, msg, err)
		}
		w.C.Close()
	}

	for _, route := range []struct{ method, path, body string }{
		{"POST", "/emit", `{"namespace":"system","event":"x","data":{}}`},
		{"GET", "/api/events", ""},
		{"GET", "/api/events?format=jsonl", ""},
		{"GET", "/metrics", ""},
	} {
		for _, hdr := range []string{"", "Bearer", "Bearer ", "Bearer wrong", "Basic " + token, token, "Bearer " + token + "x"} {
			req, _ := http.NewRequest(route.method, d.URL+route.path, strings.NewReader(route.body))
			if hdr != "" {
				req.Header.Set("Authorization", hdr)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || !bytes.Contains(b, []byte(`"error"`)) {
				t.Errorf("%s %s with Authorization %q: %d %s, want 401 with an error", route.method, route.path, hdr, resp.StatusCode, b)
			}
			if bytes.Contains(b, []byte("go_goroutines")) || bytes.Contains(b, []byte(`"events"`)) {
				t.Errorf("%s %s leaked data without the token: %s", route.method, route.path, b)
			}
		}
		code, b := d.Do(t, route.method, route.path, []byte(route.body))
		if code != http.StatusOK {
			t.Errorf("%s %s with the token: %d %s", route.method, route.path, code, b)
		}
	}
	if got := stored(t, d); got != before+1 { // the one /emit with the token
		t.Errorf("stored events went from %d to %d, want exactly the one authenticated /emit", before, got)
	}
}

// A page on a foreign origin gets nothing from any route: HTTP routes answer
// 403 (preflights too), and Socket.IO polling and websocket handshakes are
// refused; nothing it posts is stored. Loopback origins work (the control).
func TestSecurityForeignOriginRefusedEverywhere(t *testing.T) {
	d := mpmdtest.Start(t)
	before := stored(t, d)
	foreign := []string{
		"https://evil.example",
		"http://evil.example:" + fmt.Sprint(d.Port),
		"http://127.0.0.1.evil.example",
		"http://localhost.evil.example",
		"http://localhost@evil.example",
		"null",
		"file://",
		"chrome-extension://abcdef",
	}
	routes := []struct{ method, path, body string }{
		{"GET", "/health", ""},
		{"POST", "/emit", `{"namespace":"system","event":"evil","data":{}}`},
		{"GET", "/api/events", ""},
		{"GET", "/metrics", ""},
		{"GET", "/", ""},
		{"GET", "/index.html", ""},
		{"OPTIONS", "/emit", ""},
		{"OPTIONS", "/api/events", ""},
		{"GET", "/socket.io/?EIO=4&transport=polling", ""},
		{"OPTIONS", "/socket.io/?EIO=4&transport=polling", ""},
	}
	for _, origin := range foreign {
		for _, r := range routes {
			req, _ := http.NewRequest(r.method, d.URL+r.path, strings.NewReader(r.body))
			req.Header.Set("Origin", origin)
			if r.method == "OPTIONS" {
				req.Header.Set("Access-Control-Request-Method", "POST")
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			acao := resp.Header.Get("Access-Control-Allow-Origin")
			if acao == origin || acao == "*" {
				t.Errorf("%s %s from %s: Access-Control-Allow-Origin %q", r.method, r.path, origin, acao)
			}
			if r.method == "OPTIONS" && strings.HasPrefix(r.path, "/socket.io/") {
				// The engine answers every preflight; without an
				// Access-Control-Allow-Origin for this origin (checked above)
				// the browser refuses the request that would follow.
				continue
			}
			if strings.HasPrefix(r.path, "/socket.io/") {
				// The engine answers a refused handshake with 403 and an
				// Engine.IO error body; what matters is that no session opens.
				if resp.StatusCode < 400 || bytes.Contains(b, []byte(`"sid"`)) {
					t.Errorf("%s %s from %s: %d %s, want the handshake refused", r.method, r.path, origin, resp.StatusCode, b)
				}
				continue
			}
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s from %s: %d %.200s, want 403", r.method, r.path, origin, resp.StatusCode, b)
			}
		}
		// The websocket upgrade, which CORS does not cover.
		w, resp, err := mpmdtest.DialWS(t, d, "", http.Header{"Origin": {origin}})
		if err == nil {
			msg, cerr := w.Connect("/hook", map[string]any{})
			t.Errorf("websocket from %s was opened (connect answer %q %v), want it refused", origin, msg, cerr)
			w.C.Close()
		} else if resp != nil && resp.StatusCode == http.StatusSwitchingProtocols {
			t.Errorf("websocket from %s upgraded, then failed: %v", origin, err)
		}
	}
	if got := stored(t, d); got != before {
		t.Errorf("foreign origins stored %d events", got-before)
	}

	// Control: a loopback origin is served, so the refusals above are the
	// origin policy and not a broken route.
	own := "http://127.0.0.1:" + fmt.Sprint(d.Port)
	for _, origin := range []string{own, "http://localhost:3000", "http://[::1]:8080"} {
		req, _ := http.NewRequest("GET", d.URL+"/health", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Errorf("GET /health from %s: %d, ACAO %q", origin, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
		w, _, err := mpmdtest.DialWS(t, d, "", http.Header{"Origin": {origin}})
		if err != nil {
			t.Fatalf("websocket from %s: %v", origin, err)
		}
		if msg, err := w.Connect("/hook", map[string]any{}); err != nil || msg != "" {
			t.Errorf("websocket from %s: connect %q %v", origin, msg, err)
		}
		w.C.Close()
	}
}

// A Socket.IO packet over 1 MiB closes that connection without storing
// anything or disturbing other clients; a packet just under the limit is
// accepted (so the refusal is the limit, not the payload). An HTTP body over
// 1 MiB gets 413, with or without a Content-Length.
func TestSecurityOversizedPacketsAndBodies(t *testing.T) {
	d := mpmdtest.Start(t)
	bystander := mpmdtest.MustWS(t, d)
	if msg, err := bystander.Connect("/hook", map[string]any{}); err != nil || msg != "" {
		t.Fatalf("bystander connect: %q %v", msg, err)
	}
	before := stored(t, d)
	goroutines := metrics(t, d)["go_goroutines"]

	// Under the limit: stored.
	w := mpmdtest.MustWS(t, d)
	if msg, err := w.Connect("/hook", map[string]any{"producer": true}); err != nil || msg != "" {
		t.Fatalf("producer connect: %q %v", msg, err)
	}
	ack, err := w.EmitAck("/hook", 1, "big_ok", map[string]any{"event_id": "fault-big-ok", "pad": strings.Repeat("a", 900<<10)})
	if err != nil || ack["seq"] == nil {
		t.Fatalf("a 900 KiB event: ack %v %v, want it stored", ack, err)
	}
	if msg, err := bystander.Read(5 * time.Second); err != nil || !strings.Contains(msg, "big_ok") {
		t.Fatalf("bystander did not get the 900 KiB event: %.80q %v", msg, err)
	}

	// Over the limit, over websocket: the connection is closed.
	huge := strings.Repeat("b", (1<<20)+1024)
	pkt := `42/hook,2["too_big",{"event_id":"fault-too-big","pad":"` + huge + `"}]`
	if err := w.Send(pkt); err != nil {
		t.Logf("write of the oversized packet failed at once: %v", err)
	}
	if msg, err := w.Read(10 * time.Second); err == nil {
		t.Errorf("connection still open after a %d-byte packet; got %.80q", len(pkt), msg)
	}

	// Over the limit, over polling: refused.
	resp, err := http.Get(d.URL + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var open struct {
		SID string `json:"sid"`
	}
	if i := bytes.IndexByte(b, '{'); i < 0 || json.Unmarshal(b[i:], &open) != nil || open.SID == "" {
		t.Fatalf("polling handshake: %s", b)
	}
	purl := d.URL + "/socket.io/?EIO=4&transport=polling&sid=" + open.SID
	if resp, err := http.Post(purl, "text/plain", strings.NewReader("40/hook,{\"producer\":true}")); err == nil {
		resp.Body.Close()
	}
	resp, err = http.Post(purl, "text/plain", strings.NewReader(`42/hook,3["too_big",{"event_id":"fault-too-big-polling","pad":"`+huge+`"}]`))
	if err != nil {
		t.Logf("oversized polling POST: %v", err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Errorf("oversized polling POST: %d %s, want it refused", resp.StatusCode, b)
		}
	}

	// HTTP /emit: 413 with Content-Length and chunked.
	body := `{"namespace":"hook","event":"too_big","data":{"event_id":"fault-too-big-http","pad":"` + huge + `"}}`
	for _, chunked := range []bool{false, true} {
		var r io.Reader = strings.NewReader(body)
		if chunked {
			r = io.MultiReader(strings.NewReader(body)) // no length known: sent chunked
		}
		req, _ := http.NewRequest("POST", d.URL+"/emit", r)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(b, []byte(`"error"`)) {
			t.Errorf("POST /emit with %d bytes (chunked %v): %d %.200s, want 413 with an error", len(body), chunked, resp.StatusCode, b)
		}
	}

	// Nothing of the oversized ones was stored; the daemon and the bystander are fine.
	if got := stored(t, d); got != before+1 {
		t.Errorf("stored events went from %d to %d, want only the 900 KiB one", before, got)
	}
	for _, id := range []string{"fault-too-big", "fault-too-big-polling", "fault-too-big-http"} {
		if evs := d.Events(t, "q="+id); len(evs) != 0 {
			t.Errorf("oversized event %s was stored", id)
		}
	}
	if h := d.Health(t); h["status"] != "healthy" {
		t.Errorf("health after oversized packets: %v", h)
	}
	d.Emit(t, "hook", "after_big", map[string]any{})
	if msg, err := bystander.Read(5 * time.Second); err != nil || !strings.Contains(msg, "after_big") {
		t.Errorf("bystander after the oversized packets: %.80q %v", msg, err)
	}
	eventually(t, 10*time.Second, "goroutines to settle after the closed connections", func() bool {
		return metrics(t, d)["go_goroutines"] <= goroutines+5
	})
}

// Only the eight namespaces and "/" exist (and /admin, which --no-admin
// turns off): connecting to any other name is refused with "Invalid
// namespace", every time (so none was created on the way), and refused
// connects leave no client behind.
func TestSecurityNamespaceNamesValidated(t *testing.T) {
	d := mpmdtest.Start(t, mpmdtest.WithArgs("--no-admin"))
	base := metrics(t, d)
	bad := []string{"/admin", "/nope", "/system/../x", "/system/", "/System", "/hook,x", "/../hook", "//hook", "/hook/sub", "/log\u0000", "/" + strings.Repeat("n", 300)}
	for round := 0; round < 2; round++ {
		for _, ns := range bad {
			w := mpmdtest.MustWS(t, d)
			msg, err := w.Connect(ns, map[string]any{})
			if err != nil {
				// A name the parser cannot even read closes the connection:
				// refused too.
				t.Logf("%q: connection closed (%v)", ns, err)
			} else if !strings.Contains(msg, "Invalid namespace") {
				t.Errorf("round %d: connect %q answered %q, want Invalid namespace", round, ns, msg)
			}
			w.C.Close()
		}
	}
	for _, ns := range []string{"admin", "nope", "/system/../x", "system/", ""} {
		body, _ := json.Marshal(map[string]any{"namespace": ns, "event": "x", "data": map[string]any{}})
		if code, b := d.Do(t, "POST", "/emit", body); code != http.StatusBadRequest {
			t.Errorf("/emit to namespace %q: %d %s, want 400", ns, code, b)
		}
		if code, b := d.Do(t, "GET", "/api/events?namespace="+ns, nil); ns != "" && code != http.StatusBadRequest {
			t.Errorf("/api/events?namespace=%q: %d %s, want 400", ns, code, b)
		}
	}
	eventually(t, 5*time.Second, "no clients left from refused connects", func() bool {
		return metrics(t, d)["mpmd_clients"] == base["mpmd_clients"]
	})
	if got := metrics(t, d)["mpmd_stored_events"]; got != base["mpmd_stored_events"] {
		t.Errorf("refused namespaces stored events: %v → %v", base["mpmd_stored_events"], got)
	}
}

// Event names are validated on Socket.IO emits as on /emit: spaces,
// non-ASCII, 65+ characters, empty or non-string names get an {"error": …}
// ack; Socket.IO's reserved names (connect, disconnect, …) are refused by the
// Socket.IO parser itself, which closes that connection. Either way nothing
// is stored and the daemon stays healthy; 64 characters is fine.
func TestSecurityEventNamesValidatedOverSocketIO(t *testing.T) {
	d := mpmdtest.Start(t)
	producer := func() *mpmdtest.WS {
		w := mpmdtest.MustWS(t, d)
		if msg, err := w.Connect("/hook", map[string]any{"producer": true}); err != nil || msg != "" {
			t.Fatalf("connect: %q %v", msg, err)
		}
		return w
	}
	before := stored(t, d)
	bad := []any{"connect", "disconnect", "connect_error", "disconnecting", "newListener", "removeListener",
		"a b", "tab\tname", "ünïcode", "x/y", "x\u0000y", "<script>", strings.Repeat("n", 65), strings.Repeat("n", 4096), "", 42, nil, true}
	errorAcks, closed := 0, 0
	w := producer()
	for i, name := range bad {
		ack, err := w.EmitAck("/hook", 100+i, name, map[string]any{"event_id": fmt.Sprintf("fault-badname-%d", i)})
		if err != nil {
			closed++
			t.Logf("name %q: the connection was closed (%v)", name, err)
			w.C.Close()
			w = producer()
			continue
		}
		if e, _ := ack["error"].(string); e == "" || ack["seq"] != nil {
			t.Errorf("emit with name %q: ack %v, want an error", name, ack)
		}
		errorAcks++
	}
	if errorAcks < 8 {
		t.Errorf("only %d of %d bad names got an error ack", errorAcks, len(bad))
	}
	// Data that is not one object is refused too.
	for i, args := range [][]any{{"ok_name", "str"}, {"ok_name", []any{1}}, {"ok_name", map[string]any{}, map[string]any{}}} {
		ack, err := w.EmitAck("/hook", 200+i, args...)
		if err != nil {
			t.Fatal(err)
		}
		if e, _ := ack["error"].(string); e == "" {
			t.Errorf("emit %v: ack %v, want an error", args, ack)
		}
	}
	if got := stored(t, d); got != before {
		t.Errorf("refused names stored %d events", got-before)
	}
	if h := d.Health(t); h["status"] != "healthy" {
		t.Errorf("health: %v", h)
	}
	ok := strings.Repeat("n", 64)
	ack, err := w.EmitAck("/hook", 300, ok, map[string]any{})
	if err != nil || ack["seq"] == nil {
		t.Errorf("a 64-character name: %v %v, want it stored", ack, err)
	}
	if msg, err := w.Connect("/system", map[string]any{"producer": true}); err != nil || msg != "" {
		t.Fatal(msg, err)
	}
	ack, err = w.EmitAck("/system", 301, "get_status x", map[string]any{})
	if err != nil || ack["error"] == nil {
		t.Errorf("bad name on /system: %v %v", ack, err)
	}
}

// The dashboard's static routes serve only the embedded assets: no path
// traversal, encoded or not, reaches a file on disk. mpmd runs with this
// package's directory as its working directory, so ../../go.mod is the
// repository's go.mod — what a naive file server would hand out.
func TestSecurityStaticPathTraversal(t *testing.T) {
	d := mpmdtest.Start(t)
	paths := []string{
		"/../../etc/passwd",
		"/%2e%2e/%2e%2e/etc/passwd",
		"/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
		"/..%2f..%2f..%2f..%2fetc%2fpasswd",
		"/..%2fgo.mod",
		"/..%2f..%2fgo.mod",
		"/../../go.mod",
		"/assets/../../../go.mod",
		"/%2e%2e%5c%2e%2e%5cgo.mod",
		"/..\\..\\go.mod",
		"//etc/passwd",
		"/./../../../../../etc/passwd",
		"/index.html/../../../go.mod",
		"/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
		"/static/..%252f..%252fgo.mod",
		"/etc/passwd",
		"/go.mod",
		"/fault_test.go",
		"/helpers_test.go",
	}
	secrets := [][]byte{[]byte("root:x:0:0"), []byte("module github.com/mpm-dev/mpm"), []byte("package fault_test")}
	for _, p := range paths {
		for _, follow := range []bool{false, true} {
			status, body := rawGet(t, d, p, follow)
			for _, s := range secrets {
				if bytes.Contains(body, s) {
					t.Errorf("GET %s (follow redirects %v): %d and the body holds %q", p, follow, status, s)
				}
			}
			if status >= 500 {
				t.Errorf("GET %s: %d", p, status)
			}
		}
	}
	if h := d.Health(t); h["status"] != "healthy" {
		t.Errorf("health after traversal attempts: %v", h)
	}
}

// rawGet sends a request line with path exactly as given (no client-side
// cleaning or escaping) and returns the status and body; with follow, it
// follows up to five redirects the same way.
func rawGet(tb testing.TB, d *mpmdtest.Daemon, path string, follow bool) (int, []byte) {
	tb.Helper()
	for hop := 0; hop < 5; hop++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", d.Port), 5*time.Second)
		if err != nil {
			tb.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n", path, d.Port)
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			c.Close()
			tb.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		c.Close()
		loc := resp.Header.Get("Location")
		if !follow || resp.StatusCode < 300 || resp.StatusCode >= 400 || loc == "" {
			return resp.StatusCode, body
		}
		if strings.HasPrefix(loc, "http") {
			if i := strings.Index(loc[8:], "/"); i >= 0 {
				loc = loc[8+i:]
			}
		}
		path = loc
	}
	return 0, nil
}
