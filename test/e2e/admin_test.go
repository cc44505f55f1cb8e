package e2e

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/admin"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
	"golang.org/x/crypto/bcrypt"
)

// adminEvent reads w until the /admin event name arrives, returning its
// arguments.
func adminEvent(t *testing.T, w *mpmdtest.WS, name string) []any {
	t.Helper()
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		msg, err := w.Read(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for %s: %v", name, err)
		}
		body, ok := strings.CutPrefix(msg, "42/admin,")
		if !ok {
			continue
		}
		var args []any
		if err := json.Unmarshal([]byte(body), &args); err != nil {
			t.Fatalf("bad /admin packet %q: %v", msg, err)
		}
		if len(args) > 0 && args[0] == name {
			return args[1:]
		}
	}
	t.Fatalf("no %s within 8 s", name)
	return nil
}

func adminConnect(t *testing.T, d *mpmdtest.Daemon, auth map[string]any) (*mpmdtest.WS, string) {
	t.Helper()
	w := mpmdtest.MustWS(t, d)
	msg, err := w.Connect("/admin", auth)
	if err != nil {
		t.Fatalf("connect /admin: %v", err)
	}
	return w, msg
}

func TestAdminAuthWithCredentialsAndToken(t *testing.T) {
	hash, err := admin.HashPassword("s3cret", bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	d := mpmdtest.Start(t, mpmdtest.WithToken("tok"), mpmdtest.WithArgs("--admin-user", "admin", "--admin-password-hash", hash))
	for _, tc := range []struct {
		name string
		auth map[string]any
		ok   bool
	}{
		{"credentials", map[string]any{"username": "admin", "password": "s3cret"}, true},
		{"token as password", map[string]any{"username": "", "password": "tok"}, true},
		{"none", map[string]any{}, false},
		{"wrong password", map[string]any{"username": "admin", "password": "s3cre"}, false},
		{"number as user", map[string]any{"username": 1, "password": "s3cret"}, false},
		{"array as password", map[string]any{"username": "admin", "password": []string{"s3cret"}}, false},
		{"huge password", map[string]any{"username": "admin", "password": strings.Repeat("p", 512<<10)}, false},
		{"mpmd's token field alone is not the namespace token", map[string]any{"token": "nope"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, msg := adminConnect(t, d, tc.auth)
			if !tc.ok {
				if msg != "invalid credentials" {
					t.Fatalf("answer %q, want invalid credentials", msg)
				}
				return
			}
			if msg != "" {
				t.Fatalf("refused: %q", msg)
			}
			sess := adminEvent(t, w, "session")
			if id, _ := sess[0].(string); len(id) != 32 {
				t.Fatalf("session %v", sess)
			}
			// The session id alone logs in again (a reloaded Admin UI).
			w2, msg := adminConnect(t, d, map[string]any{"sessionId": sess[0]})
			if msg != "" {
				t.Fatalf("session id refused: %q", msg)
			}
			if cfg := adminEvent(t, w2, "config"); !strings.Contains(mustJSON(cfg), "MDISCONNECT") {
				t.Errorf("config %v", cfg)
			}
		})
	}
	// A consumer that sent the token in its query and as a header: the
	// Admin UI sees its handshake without the token.
	hdr := http.Header{"Authorization": {"Bearer tok"}, "X-Probe": {"visible"}}
	c, _, err := mpmdtest.DialWS(t, d, "token=tok", hdr)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := c.Connect("/hook", map[string]any{"token": "tok"}); m != "" {
		t.Fatal(m)
	}
	aw, msg := adminConnect(t, d, map[string]any{"username": "admin", "password": "s3cret"})
	if msg != "" {
		t.Fatal(msg)
	}
	all := mustJSON(adminEvent(t, aw, "all_sockets"))
	if !strings.Contains(all, `"x-probe":"visible"`) || !strings.Contains(all, `"authorization":"[redacted]"`) || !strings.Contains(all, `"token":"[redacted]"`) {
		t.Errorf("all_sockets: %s", all)
	}
	for _, leak := range []string{`tok"`, "token=tok", "Bearer tok", "s3cret"} {
		if strings.Contains(all, leak) {
			t.Errorf("all_sockets shows %q: %s", leak, all)
		}
	}
	// The event namespaces still want the token itself.
	w := mpmdtest.MustWS(t, d)
	if msg, _ := w.Connect("/hook", map[string]any{"username": "admin", "password": "s3cret"}); !strings.Contains(msg, "token") {
		t.Errorf("/hook with admin credentials: %q, want a token refusal", msg)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// With neither credentials nor token, loopback connects without any; the
// Admin UI's traffic is never stored nor broadcast to the event namespaces;
// its emit reaches a namespace's sockets without being stored; and its
// disconnect of one socket (by id) leaves the others.
func TestAdminActionsNotStored(t *testing.T) {
	d := mpmdtest.Start(t)
	w, msg := adminConnect(t, d, map[string]any{})
	if msg != "" {
		t.Fatalf("loopback without credentials refused: %q", msg)
	}
	stats := adminEvent(t, w, "server_stats")
	for _, ns := range []string{"/", "/system", "/session", "/claude", "/agent", "/hook", "/todo", "/memory", "/log", "/admin"} {
		if !strings.Contains(mustJSON(stats), `"name":"`+ns+`"`) {
			t.Errorf("server_stats lacks %s: %v", ns, stats)
		}
	}
	before := len(d.Events(t, "limit=10000"))

	a := mpmdtest.MustWS(t, d)
	id := connectSID(t, a, "/log")
	b := mpmdtest.MustWS(t, d)
	if m, _ := b.Connect("/log", map[string]any{}); m != "" {
		t.Fatal(m)
	}
	for seen := 0; seen < 2; {
		if c := adminEvent(t, w, "socket_connected"); c[0].(map[string]any)["nsp"] == "/log" {
			seen++
		}
	}
	// The Admin UI's own events go nowhere.
	_ = w.Send(`42/admin,["message",{"level":"INFO","message":"from admin"}]`)
	// emit to /log: both sockets get it, nothing is stored.
	_ = w.Send(`42/admin,["emit","/log",null,"admin_note",{"text":"hi"}]`)
	for _, c := range []*mpmdtest.WS{a, b} {
		got := false
		for !got {
			m, err := c.Read(5 * time.Second)
			if err != nil {
				t.Fatalf("emit did not arrive: %v", err)
			}
			got = strings.HasPrefix(m, `42/log,["admin_note",{"text":"hi"}]`)
		}
	}
	// Hostile actions: nothing happens, the namespace list stays.
	for _, m := range []string{
		`42/admin,["emit","/nope",null,"x"]`, `42/admin,["join","/log",{"a":1}]`, `42/admin,["_disconnect","/log","yes"]`,
		`42/admin,["_disconnect","/unknown",true]`, `42/admin,["emit"]`, `42/admin,[7]`,
	} {
		_ = w.Send(m)
	}
	// Disconnect the first /log socket by id: it is told, the second is not.
	_ = w.Send(`42/admin,["_disconnect","/log",false,"` + id + `"]`)
	gone := adminEvent(t, w, "socket_disconnected")
	if gone[0] != "/log" || gone[1] != id {
		t.Errorf("socket_disconnected %v, want /log %s", gone, id)
	}
	for {
		m, err := a.Read(5 * time.Second)
		if err != nil {
			t.Fatalf("the disconnected socket heard nothing: %v", err)
		}
		if m == "41/log," || m == "41/log" {
			break
		}
	}
	d.Emit(t, "log", "message", map[string]any{"level": "INFO", "message": "after"})
	for {
		m, err := b.Read(5 * time.Second)
		if err != nil {
			t.Fatalf("the other /log socket was disconnected too: %v", err)
		}
		if strings.Contains(m, `"after"`) {
			break
		}
	}
	if after := len(d.Events(t, "limit=10000")); after != before+1 {
		t.Errorf("stored events %d → %d, want only the one /emit", before, after)
	}
	if code, _ := d.Do(t, "GET", "/api/events?namespace=admin", nil); code != 400 {
		t.Errorf("/api/events?namespace=admin: %d, want 400", code)
	}
}

func TestAdminReadonly(t *testing.T) {
	d := mpmdtest.Start(t, mpmdtest.WithArgs("--admin-readonly"))
	w, msg := adminConnect(t, d, nil)
	if msg != "" {
		t.Fatal(msg)
	}
	cfg := mustJSON(adminEvent(t, w, "config"))
	if strings.Contains(cfg, "DISCONNECT") || strings.Contains(cfg, "EMIT") || !strings.Contains(cfg, "ALL_EVENTS") {
		t.Errorf("readonly config %s", cfg)
	}
	c := mpmdtest.MustWS(t, d)
	if m, _ := c.Connect("/log", map[string]any{}); m != "" {
		t.Fatal(m)
	}
	_ = w.Send(`42/admin,["_disconnect","/log",true]`)
	_ = w.Send(`42/admin,["emit","/log",null,"admin_note"]`)
	d.Emit(t, "log", "message", map[string]any{"level": "INFO", "message": "still here"})
	for {
		m, err := c.Read(5 * time.Second)
		if err != nil {
			t.Fatalf("readonly: the /log socket lost its connection: %v", err)
		}
		if strings.Contains(m, "admin_note") || strings.HasPrefix(m, "41/log") {
			t.Fatalf("readonly mode acted: %q", m)
		}
		if strings.Contains(m, "still here") {
			break
		}
	}
}

func TestAdminFlagsValidated(t *testing.T) {
	for _, args := range [][]string{
		{"--admin-user", "admin"},
		{"--admin-user", "admin", "--admin-password-hash", "plain"},
		{"--no-admin", "--admin-readonly"},
	} {
		out, code := runMpmd(t, append([]string{"run", "--port", "0", "--db", ":memory:"}, args...)...)
		if code == 0 || !strings.Contains(out, "admin") {
			t.Errorf("mpmd run %v: exit %d, %q; want a refusal naming the admin flag", args, code, out)
		}
	}
}

func runMpmd(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(mpmdtest.MpmdBin(t), args...)
	cmd.Env = mpmdtest.Env(t.TempDir())
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

// connectSID connects w to ns and returns the socket's id (the CONNECT
// answer's sid).
func connectSID(t *testing.T, w *mpmdtest.WS, ns string) string {
	t.Helper()
	if err := w.Send("40" + ns + ",{}"); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := w.Read(5 * time.Second)
		if err != nil {
			t.Fatalf("connect %s: %v", ns, err)
		}
		if body, ok := strings.CutPrefix(m, "40"+ns+","); ok {
			var c struct {
				SID string `json:"sid"`
			}
			if err := json.Unmarshal([]byte(body), &c); err != nil || c.SID == "" {
				t.Fatalf("CONNECT answer %q", m)
			}
			return c.SID
		}
	}
}
