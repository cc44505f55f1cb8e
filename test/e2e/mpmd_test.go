// Package e2e_test runs the real, built mpmd and talks to it with the Go
// Socket.IO v3 client and plain HTTP.
package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

func TestHealth(t *testing.T) {
	d := mpmdtest.Start(t)
	h := d.Health(t)
	for k, want := range map[string]any{"status": "healthy", "server": "claude-mpm-socketio", "port": float64(d.Port), "pid": float64(d.PID)} {
		if got := h[k]; got != want {
			t.Errorf("health[%s] = %v, want %v", k, got, want)
		}
	}
	for _, k := range []string{"timestamp", "version", "uptime_seconds", "clients", "stored_events"} {
		if _, ok := h[k]; !ok {
			t.Errorf("health has no %s: %v", k, h)
		}
	}
}

// Every namespace, over websocket and polling, receives exactly the events
// emitted to it.
func TestEmitReachesExactlyItsNamespace(t *testing.T) {
	for _, polling := range []bool{false, true} {
		t.Run(map[bool]string{false: "websocket", true: "polling"}[polling], func(t *testing.T) {
			d := mpmdtest.Start(t)
			subs := map[string]*sub{}
			for _, ns := range event.Namespaces {
				subs[ns], _ = dial(t, d, ns, dialOpts{polling: polling})
			}
			ids := map[string]string{}
			for _, ns := range event.Namespaces {
				_, id := d.Emit(t, strings.TrimPrefix(ns, "/"), "probe", map[string]any{"target": ns})
				ids[ns] = id
			}
			for _, ns := range event.Namespaces {
				evs := subs[ns].waitFor(ns+" probe", 5*time.Second, func(r []received) bool { return len(named(r, "probe")) > 0 })
				// Let the other namespaces' probes arrive (or not) before counting.
				_, last := d.Emit(t, ns, "fence", map[string]any{})
				subs[ns].waitFor("fence", 5*time.Second, func(r []received) bool {
					for _, e := range r {
						if e.Name == "fence" && e.Data["event_id"] == last {
							return true
						}
					}
					return false
				})
				// Distinct by event_id: the Go client library now and then
				// hands one frame to its listeners twice (a raw websocket
				// reader sees every event exactly once: see the closing note
				// of issue 2); what this test is about is that no other
				// namespace's probe arrives.
				evs = distinct(subs[ns].named("probe"))
				if len(evs) != 1 {
					t.Fatalf("%s received %d probes, want exactly its own: %v", ns, len(evs), evs)
				}
				got := evs[0].Data
				if got["target"] != ns || got["event_id"] != ids[ns] {
					t.Errorf("%s received %v, want target %s id %s", ns, got, ns, ids[ns])
				}
				if _, ok := got["timestamp"].(string); !ok {
					t.Errorf("%s event has no timestamp: %v", ns, got)
				}
				seqOf(t, got)
			}
		})
	}
}

func distinct(evs []received) []received {
	seen := map[any]bool{}
	var out []received
	for _, e := range evs {
		if !seen[e.Data["event_id"]] {
			seen[e.Data["event_id"]] = true
			out = append(out, e)
		}
	}
	return out
}

func named(evs []received, name string) []received {
	var out []received
	for _, e := range evs {
		if e.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func TestSystemStatusOnConnectAndGetStatus(t *testing.T) {
	d := mpmdtest.Start(t)
	s, _ := dial(t, d, "/system", dialOpts{})
	st := s.waitNamed("status", 1)[0].Data
	for _, k := range []string{"session_id", "claude_status", "server_info", "event_id", "seq"} {
		if _, ok := st[k]; !ok {
			t.Errorf("status has no %s: %v", k, st)
		}
	}
	if len(s.named("server_info")) != 1 {
		t.Errorf("no server_info on connect: %v", names(s.events()))
	}
	ack := s.emitAck("get_status", map[string]any{})
	if ack["server_info"] == nil {
		t.Errorf("get_status ack = %v, want a status", ack)
	}
	evs := s.waitNamed("status", 2)
	if a, b := seqOf(t, evs[0].Data), seqOf(t, evs[1].Data); b <= a {
		t.Errorf("status seqs %d then %d, want increasing", a, b)
	}
}

func TestHeartbeat(t *testing.T) {
	d := mpmdtest.Start(t, mpmdtest.WithArgs("--heartbeat", "200ms"))
	s, _ := dial(t, d, "/system", dialOpts{})
	evs := s.waitNamed("heartbeat", 2)
	if evs[0].Data["server"] != "claude-mpm-socketio" {
		t.Errorf("heartbeat = %v", evs[0].Data)
	}
}

func TestTokenRequired(t *testing.T) {
	d := mpmdtest.Start(t, mpmdtest.WithToken("s3cret"))
	// What the refused clients and requests may leave is mpmd's own /log
	// records (a loaded run logged one); any other stored event is a leak.
	stored := func() (n int) {
		for _, ev := range d.Events(t, "") {
			if ev["namespace"] != "/log" {
				n++
			}
		}
		return n
	}
	before := stored()
	for _, ns := range event.Namespaces {
		_, msg := dial(t, d, ns, dialOpts{auth: map[string]any{"token": ""}, expectErr: true})
		if !strings.Contains(msg, "authentication required") {
			t.Errorf("%s without token: connect_error %q, want it to say authentication is required", ns, msg)
		}
		_, msg = dial(t, d, ns, dialOpts{auth: map[string]any{"token": "wrong"}, expectErr: true})
		if !strings.Contains(msg, "invalid authentication token") {
			t.Errorf("%s with a wrong token: connect_error %q", ns, msg)
		}
		dial(t, d, ns, dialOpts{}) // the right token
	}
	// Every HTTP route with every malformed Authorization is test/fault's
	// TestSecurityTokenEverywhere; here, /emit with a wrong token.
	req, _ := http.NewRequest("POST", d.URL+"/emit", strings.NewReader(`{"namespace":"system","event":"x","data":{}}`))
	req.Header.Set("Authorization", "Bearer wrong")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("/emit with a wrong token: %v %v, want 401", resp, err)
	} else {
		resp.Body.Close()
	}
	if got := stored(); got != before {
		t.Errorf("refused requests stored events: %v stored, was %v: %v", got, before, d.Events(t, ""))
	}
	d.Emit(t, "system", "ok", map[string]any{}) // with the token
}

func TestEmitBadInput(t *testing.T) {
	d := mpmdtest.Start(t)
	before := d.Health(t)["last_seq"]
	big := `{"namespace":"system","event":"x","data":{"s":"` + strings.Repeat("a", 1<<20) + `"}}`
	cases := []struct {
		name, body string
		code       int
		says       string
	}{
		{"empty body", "", 400, "empty"},
		{"not JSON", "namespace=system", 400, "not valid JSON"},
		{"JSON array", `[1,2]`, 400, "JSON object"},
		{"trailing data", `{"namespace":"system","event":"x","data":{}} {}`, 400, "after the JSON"},
		{"no namespace", `{"event":"x","data":{}}`, 400, "namespace"},
		{"unknown namespace", `{"namespace":"nope","event":"x","data":{}}`, 400, "unknown namespace"},
		{"no event", `{"namespace":"system","data":{}}`, 400, "event"},
		{"empty event", `{"namespace":"system","event":"","data":{}}`, 400, "empty"},
		{"event not a string", `{"namespace":"system","event":42,"data":{}}`, 400, "must be a string"},
		{"reserved event", `{"namespace":"system","event":"connect","data":{}}`, 400, "reserved"},
		{"bad characters", `{"namespace":"system","event":"a b","data":{}}`, 400, "letters, digits"},
		{"data an array", `{"namespace":"system","event":"x","data":[1]}`, 400, "an array"},
		{"data a string", `{"namespace":"system","event":"x","data":"hi"}`, 400, "a string"},
		{"data null", `{"namespace":"system","event":"x","data":null}`, 400, "null"},
		{"too large", big, 413, "larger than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, b := d.Do(t, "POST", "/emit", []byte(c.body))
			var body map[string]string
			if err := json.Unmarshal(b, &body); err != nil {
				t.Fatalf("answer is not JSON: %s", b)
			}
			if code != c.code || !strings.Contains(body["error"], c.says) {
				t.Errorf("got %d %q, want %d with an error saying %q", code, body["error"], c.code, c.says)
			}
		})
	}
	if h := d.Health(t); h["last_seq"] != before {
		t.Errorf("bad input was stored: last_seq %v, was %v", h["last_seq"], before)
	}
	// The guide's curl, as written (no Content-Type, form-encoded by curl).
	if _, err := exec.LookPath("curl"); err == nil {
		out, err := exec.Command("curl", "-s", "-X", "POST", d.URL+"/emit", "-d", `{"namespace":"system","event":"test","data":{}}`).Output()
		if err != nil || !strings.Contains(string(out), `"seq":`) {
			t.Errorf("the guide's curl got %s (%v)", out, err)
		}
	}
}

func TestGetMethodOnEmit(t *testing.T) {
	d := mpmdtest.Start(t)
	code, b := d.Do(t, "GET", "/emit", nil)
	if code != http.StatusMethodNotAllowed || !strings.Contains(string(b), "POST") {
		t.Errorf("GET /emit: %d %s", code, b)
	}
}

func TestProducerAckAndDuplicates(t *testing.T) {
	d := mpmdtest.Start(t)
	consumer, _ := dial(t, d, "/hook", dialOpts{})
	producer, _ := dial(t, d, "/hook", dialOpts{auth: map[string]any{"producer": true}})
	data := map[string]any{"event_id": "retry-me-1", "hook_event_name": "UserPromptSubmit", "session_id": "s1", "prompt": "hello"}
	a1 := producer.emitAck("user_prompt", data)
	a2 := producer.emitAck("user_prompt", data)
	if a1["event_id"] != "retry-me-1" || a1["duplicate"] != false || a1["seq"] == nil {
		t.Fatalf("first ack = %v", a1)
	}
	if a2["duplicate"] != true || a2["seq"] != a1["seq"] {
		t.Fatalf("second ack = %v, want duplicate of %v", a2, a1)
	}
	if bad := producer.emitAck("user_prompt", "not an object"); !strings.Contains(fmt.Sprint(bad["error"]), "JSON object") {
		t.Errorf("ack for a string argument = %v", bad)
	}
	// a fence, then exactly one delivery of the retried event
	producer.emitAck("fence", map[string]any{})
	consumer.waitNamed("fence", 1)
	if n := len(consumer.named("user_prompt")); n != 1 {
		t.Errorf("consumer got the retried event %d times", n)
	}
	if n := len(producer.named("user_prompt")); n != 0 {
		t.Errorf("producer received %d broadcasts, want none", n)
	}
	if evs := d.Events(t, "event=user_prompt"); len(evs) != 1 {
		t.Errorf("stored %d copies", len(evs))
	}
	// derived: /session status_changed running
	if evs := d.Events(t, "namespace=session&event=status_changed"); len(evs) != 1 || evs[0]["data"].(map[string]any)["status"] != "running" {
		t.Errorf("derived session status: %v", evs)
	}
}

// A client that connects with since_seq while events keep arriving gets
// every event after since_seq exactly once, in order.
func TestReplayThenLiveNoGapNoDuplicate(t *testing.T) {
	d := mpmdtest.Start(t)
	for i := 0; i < 1200; i++ { // more than one replay chunk
		d.Emit(t, "agent", "before", map[string]any{"i": i})
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			d.Emit(t, "agent", "during", map[string]any{"i": i})
		}
	}()
	const since = 100
	s, _ := dial(t, d, "/agent", dialOpts{auth: map[string]any{"since_seq": since}})
	s.waitFor("live events after the replay", 10*time.Second, func(evs []received) bool { return len(evs) > 1200 })
	close(stop)
	wg.Wait()
	_, last := d.Emit(t, "agent", "last", map[string]any{})
	s.waitFor("the last event", 5*time.Second, func(evs []received) bool {
		return len(evs) > 0 && evs[len(evs)-1].Data["event_id"] == last
	})
	stored := d.Events(t, fmt.Sprintf("namespace=agent&since_seq=%d&limit=10000", since))
	got := s.events()
	if len(got) != len(stored) {
		t.Fatalf("received %d events, stored %d after seq %d", len(got), len(stored), since)
	}
	for i := range got {
		if seqOf(t, got[i].Data) != int64(stored[i]["seq"].(float64)) {
			t.Fatalf("event %d: seq %d, want %v", i, seqOf(t, got[i].Data), stored[i]["seq"])
		}
	}
}

func TestSessionFilter(t *testing.T) {
	d := mpmdtest.Start(t)
	only, _ := dial(t, d, "/hook", dialOpts{auth: map[string]any{"session_id": "A"}})
	all, _ := dial(t, d, "/hook", dialOpts{})
	d.Emit(t, "hook", "user_prompt", map[string]any{"session_id": "B", "hook_event_name": "UserPromptSubmit"})
	d.Emit(t, "hook", "user_prompt", map[string]any{"session_id": "A", "hook_event_name": "UserPromptSubmit"})
	all.waitNamed("user_prompt", 2)
	evs := only.waitNamed("user_prompt", 1)
	d.Emit(t, "hook", "fence", map[string]any{"session_id": "A"})
	only.waitNamed("fence", 1)
	if len(only.named("user_prompt")) != 1 || evs[0].Data["session_id"] != "A" {
		t.Errorf("session-filtered client got %v", only.events())
	}
	// replay honours the filter too
	r, _ := dial(t, d, "/hook", dialOpts{auth: map[string]any{"session_id": "B", "since_seq": 0}})
	got := r.waitNamed("user_prompt", 1)
	if got[0].Data["session_id"] != "B" {
		t.Errorf("replay for session B got %v", got)
	}
}

func TestBadSinceSeq(t *testing.T) {
	d := mpmdtest.Start(t)
	for _, bad := range []string{`"yesterday"`, `-5`, `1.5`, `true`} {
		msg, err := mpmdtest.MustWS(t, d).Connect("/hook", map[string]any{"since_seq": json.RawMessage(bad)})
		if err != nil || !strings.Contains(msg, "invalid since_seq") {
			t.Errorf("since_seq %s: got %q (%v), want a connect_error about since_seq", bad, msg, err)
		}
	}
}

func TestGetHistory(t *testing.T) {
	d := mpmdtest.Start(t)
	for i := 0; i < 5; i++ {
		d.Emit(t, "todo", "updated", map[string]any{"i": i, "session_id": "S"})
	}
	s, _ := dial(t, d, "/system", dialOpts{})
	ack := s.emitAck("get_history", map[string]any{"namespace": "todo", "since_seq": 2, "limit": 2})
	evs, _ := ack["events"].([]any)
	if len(evs) != 2 || evs[0].(map[string]any)["seq"] != float64(3) {
		t.Errorf("get_history = %v", ack)
	}
	bad := s.emitAck("get_history", map[string]any{"namespace": "nope"})
	if !strings.Contains(fmt.Sprint(bad["error"]), "unknown namespace") {
		t.Errorf("get_history with a bad namespace = %v", bad)
	}
}

func TestAPIEventsFilters(t *testing.T) {
	d := mpmdtest.Start(t)
	d.Emit(t, "hook", "user_prompt", map[string]any{"session_id": "A", "prompt": "find the needle", "hook_event_name": "UserPromptSubmit"})
	d.Emit(t, "log", "message", map[string]any{"message": "hello"})
	d.Emit(t, "hook", "pre_tool", map[string]any{"session_id": "B", "tool_name": "Bash", "hook_event_name": "PreToolUse"})
	check := func(q string, want int) {
		t.Helper()
		if got := len(d.Events(t, q)); got != want {
			t.Errorf("%s: %d events, want %d", q, got, want)
		}
	}
	check("namespace=hook", 2)
	check("namespace=/hook&session_id=A", 1)
	check("q=needle", 1)
	check("event=pre_tool", 1)
	first := d.Events(t, "namespace=hook")[0]["seq"].(float64)
	check(fmt.Sprintf("since_seq=%d&until_seq=%d", int(first)-1, int(first)), 1)
	check("limit=1", 1)
	check("since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z&namespace=log&event=message&q=hello", 1)
	check("until=2000-01-01T00:00:00Z", 0)
	desc := d.Events(t, "order=desc&limit=1&namespace=hook")
	if len(desc) != 1 || desc[0]["event"] != "pre_tool" {
		t.Errorf("newest hook event = %v", desc)
	}
	for _, q := range []string{"since_seq=-1", "limit=abc", "since=yesterday", "namespace=nope", "format=xml", "limit=100000", "order=up"} {
		code, b := d.Do(t, "GET", "/api/events?"+q, nil)
		if code != 400 || !strings.Contains(string(b), "error") {
			t.Errorf("%s: %d %s, want 400", q, code, b)
		}
	}
	code, b := d.Do(t, "GET", "/api/events?format=jsonl&namespace=hook", nil)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if code != 200 || len(lines) != 2 {
		t.Fatalf("jsonl export: %d %q", code, b)
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["namespace"] != "/hook" {
			t.Errorf("jsonl line %q (%v)", l, err)
		}
	}
}

func TestHistoryAndReplayAcrossRestart(t *testing.T) {
	d := mpmdtest.Start(t)
	var lastSeq int64
	for i := 0; i < 3; i++ {
		lastSeq, _ = d.Emit(t, "memory", "updated", map[string]any{"i": i})
	}
	d = d.Restart(t)
	if got := len(d.Events(t, "namespace=memory")); got != 3 {
		t.Fatalf("after restart: %d stored memory events, want 3", got)
	}
	s, _ := dial(t, d, "/memory", dialOpts{auth: map[string]any{"since_seq": lastSeq - 1}})
	seq, _ := d.Emit(t, "memory", "updated", map[string]any{"i": 3})
	if seq <= lastSeq {
		t.Errorf("seq after restart %d, want > %d", seq, lastSeq)
	}
	evs := s.waitNamed("updated", 2)
	if seqOf(t, evs[0].Data) != lastSeq || seqOf(t, evs[1].Data) != seq {
		t.Errorf("replay after restart: %v", evs)
	}
}

func TestSIGTERMRemovesDiscoveryFile(t *testing.T) {
	d := mpmdtest.Start(t)
	s, _ := dial(t, d, "/system", dialOpts{})
	if _, err := os.Stat(d.Discovery()); err != nil {
		t.Fatalf("no discovery file while running: %v", err)
	}
	start := time.Now()
	d.Stop(t)
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("stopping took %s", el)
	}
	if _, err := os.Stat(d.Discovery()); !os.IsNotExist(err) {
		t.Errorf("discovery file still there after SIGTERM: %v", err)
	}
	_ = s
}

func TestRefusesNonLoopbackWithoutToken(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command(mpmdtest.MpmdBin(t), "run", "--host", "0.0.0.0", "--port", "0")
	cmd.Env = mpmdtest.Env(root)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("mpmd listened on 0.0.0.0 without a token:\n%s", out)
	}
	if !strings.Contains(string(out), "without a token") || !strings.Contains(string(out), "--insecure") {
		t.Errorf("the refusal does not say how to fix it:\n%s", out)
	}
}

func TestCORS(t *testing.T) {
	d := mpmdtest.Start(t, mpmdtest.WithArgs("--cors-origin", "https://dash.example"))
	before := d.Health(t)["last_seq"]
	for _, c := range []struct {
		origin string
		code   int
	}{
		{"http://localhost:3000", 200},
		{"http://127.0.0.1:9", 200},
		{"https://dash.example", 200},
		{"https://evil.example", 403},
	} {
		for _, path := range []string{"/health", "/api/events"} {
			req, _ := http.NewRequest("GET", d.URL+path, nil)
			req.Header.Set("Origin", c.origin)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.code {
				t.Errorf("%s from %s: %d, want %d", path, c.origin, resp.StatusCode, c.code)
			}
			if c.code == 200 && resp.Header.Get("Access-Control-Allow-Origin") != c.origin {
				t.Errorf("%s from %s: no Access-Control-Allow-Origin", path, c.origin)
			}
		}
	}
	req, _ := http.NewRequest("POST", d.URL+"/emit", strings.NewReader(`{"namespace":"system","event":"x","data":{}}`))
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || d.Health(t)["last_seq"] != before {
		t.Errorf("foreign-origin /emit: %d", resp.StatusCode)
	}
}

func TestStartStopStatus(t *testing.T) {
	root := t.TempDir()
	env := mpmdtest.Env(root)
	run := func(args ...string) (string, int) {
		cmd := exec.Command(mpmdtest.MpmdBin(t), args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	if out, code := run("status"); code != 3 || !strings.Contains(out, "not running") {
		t.Fatalf("status before start: %d %s", code, out)
	}
	out, code := run("start", "--port", "0", "--db", ":memory:")
	if code != 0 || !strings.Contains(out, "dashboard at http://127.0.0.1:") {
		t.Fatalf("start: %d %s", code, out)
	}
	t.Cleanup(func() { run("stop") })
	if out, code := run("start", "--port", "0"); code != 0 || !strings.Contains(out, "already running") {
		t.Errorf("second start: %d %s", code, out)
	}
	if out, code := run("status"); code != 0 || !strings.Contains(out, "healthy") {
		t.Errorf("status: %d %s", code, out)
	}
	if out, code := run("stop"); code != 0 || !strings.Contains(out, "stopped") {
		t.Errorf("stop: %d %s", code, out)
	}
	if out, code := run("status"); code != 3 {
		t.Errorf("status after stop: %d %s", code, out)
	}
}

func TestStaleDiscoveryFileIsReplaced(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(root+"/run/mpm", 0o700); err != nil {
		t.Fatal(err)
	}
	// pid 2^22+1 is above Linux's pid_max default, so no process has it
	stale := `{"pid": 4194305, "host": "127.0.0.1", "port": 1, "version": "old"}`
	if err := os.WriteFile(root+"/run/mpm/mpmd.json", []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	d := mpmdtest.Start(t, mpmdtest.WithRoot(root))
	b, _ := os.ReadFile(d.Discovery())
	if !strings.Contains(string(b), fmt.Sprintf(`"pid": %d`, d.PID)) {
		t.Errorf("discovery file not replaced: %s", b)
	}
}

// A loopback mpmd answers only to loopback host names (DNS rebinding).
func TestHostHeaderChecked(t *testing.T) {
	d := mpmdtest.Start(t)
	for host, want := range map[string]int{
		"":                   200,
		"localhost:8765":     200,
		"127.0.0.1":          200,
		"[::1]:8765":         200,
		"evil.example":       403,
		"evil.example:8765":  403,
		"127.0.0.1.nip.test": 403,
	} {
		req, _ := http.NewRequest("GET", d.URL+"/api/events", nil)
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
}

// A long-poll held open by a polling client must not hold up shutdown.
func TestSIGTERMWithPollingAndWebsocketClients(t *testing.T) {
	d := mpmdtest.Start(t)
	dial(t, d, "/hook", dialOpts{polling: true})
	dial(t, d, "/system", dialOpts{})
	dial(t, d, "/agent", dialOpts{auth: map[string]any{"since_seq": 0}})
	start := time.Now()
	d.Stop(t) // requires exit 0 within 5 s
	t.Logf("stopped in %s", time.Since(start))
}

func TestPprofFlag(t *testing.T) {
	d := mpmdtest.Start(t, mpmdtest.WithArgs("--pprof", "127.0.0.1:0"))
	if !strings.Contains(d.Output(), "/debug/pprof/") {
		t.Errorf("no pprof URL in the log:\n%s", d.Output())
	}
	root := t.TempDir()
	cmd := exec.Command(mpmdtest.MpmdBin(t), "run", "--port", "0", "--pprof", "0.0.0.0:0")
	cmd.Env = mpmdtest.Env(root)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "loopback") {
		t.Errorf("--pprof on a non-loopback address: %v\n%s", err, out)
	}
}

// A client that connects without since_seq gets every event emitted after
// it learned it was connected: the CONNECT reaches it before mpmd's handler
// has run, and nothing may fall into that window.
func TestLiveFromConnectNoWindow(t *testing.T) {
	d := mpmdtest.Start(t)
	for i := 0; i < 40; i++ {
		polling := i%2 == 1
		s, _ := dial(t, d, "/claude", dialOpts{polling: polling})
		_, id := d.Emit(t, "claude", "right_after_connect", map[string]any{"i": i})
		t.Logf("connect %d (polling %v): emitted %s", i, polling, id)
		got := s.waitNamed("right_after_connect", 1)
		if got[len(got)-1].Data["event_id"] != id {
			t.Fatalf("connect %d: got %v, want the event emitted right after connecting", i, got)
		}
		s.close()
	}
}

// mpmd's start-up records are in the store (/log) before it answers its
// first request, so a count read at once does not grow by itself later.
func TestStartupLogStoredBeforeServing(t *testing.T) {
	d := mpmdtest.Start(t)
	if n := d.Health(t)["stored_events"]; n == float64(0) {
		t.Fatalf("stored_events = %v right after start, want the start-up records", n)
	}
	found := false
	for _, ev := range d.Events(t, "namespace=log") {
		if data, _ := ev["data"].(map[string]any); data["message"] == "mpmd listening" {
			found = true
		}
	}
	if !found {
		t.Errorf("no \"mpmd listening\" record in /log: %v", d.Events(t, "namespace=log"))
	}
}
