// Package fault_test holds mpm's fault and abuse tests (issue 5): kill -9
// during a flood, a full or failing disk under the store, connection and
// event churn without leaks, and the security edges (tokens, origins, sizes,
// names, paths). Every test runs the real, built mpmd and mpm-hook on
// loopback through pkg/mpmdtest; docs/RELIABILITY.md says what each proves.
package fault_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// rawWS is a bare Engine.IO v4 websocket: the test writes and reads the
// Socket.IO packets itself, so it can send what no well-behaved client would.
type rawWS struct {
	tb testing.TB
	c  *websocket.Conn
	wm sync.Mutex // one writer at a time: read answers pings
}

func wsURL(d *mpmdtest.Daemon, query string) string {
	u := strings.Replace(d.URL, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
	if query != "" {
		u += "&" + query
	}
	return u
}

// dialWS opens the websocket and reads the Engine.IO open packet. It returns
// the handshake's HTTP response and error instead of failing when the server
// refuses the upgrade.
func dialWS(tb testing.TB, d *mpmdtest.Daemon, query string, hdr http.Header) (*rawWS, *http.Response, error) {
	tb.Helper()
	dialer := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, resp, err := dialer.Dial(wsURL(d, query), hdr)
	if err != nil {
		return nil, resp, err
	}
	w := &rawWS{tb: tb, c: c}
	tb.Cleanup(func() { c.Close() })
	msg, err := w.read(5 * time.Second)
	if err != nil {
		return nil, resp, fmt.Errorf("no open packet: %w", err)
	}
	if !strings.HasPrefix(msg, "0{") {
		return nil, resp, fmt.Errorf("first packet %q is not an Engine.IO open packet", msg)
	}
	return w, resp, nil
}

// mustWS is dialWS that fails the test on error.
func mustWS(tb testing.TB, d *mpmdtest.Daemon) *rawWS {
	tb.Helper()
	w, _, err := dialWS(tb, d, "", nil)
	if err != nil {
		tb.Fatalf("websocket: %v", err)
	}
	return w
}

// read returns the next text message, answering Engine.IO pings on the way.
func (w *rawWS) read(timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		_ = w.c.SetReadDeadline(deadline)
		_, b, err := w.c.ReadMessage()
		if err != nil {
			return "", err
		}
		if string(b) == "2" {
			_ = w.send("3")
			continue
		}
		return string(b), nil
	}
}

func (w *rawWS) send(msg string) error {
	w.wm.Lock()
	defer w.wm.Unlock()
	_ = w.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return w.c.WriteMessage(websocket.TextMessage, []byte(msg))
}

// nsPrefix is how a Socket.IO packet names its namespace ("" for "/").
func nsPrefix(ns string) string {
	if ns == "/" {
		return ""
	}
	return ns + ","
}

// connect sends a Socket.IO CONNECT for ns with auth and returns the answer:
// "" when connected, else the connect_error message.
func (w *rawWS) connect(ns string, auth map[string]any) (string, error) {
	w.tb.Helper()
	a, _ := json.Marshal(auth)
	if err := w.send("40" + nsPrefix(ns) + string(a)); err != nil {
		return "", err
	}
	for {
		msg, err := w.read(5 * time.Second)
		if err != nil {
			return "", err
		}
		p := nsPrefix(ns)
		switch {
		case strings.HasPrefix(msg, "40"+p):
			return "", nil
		case strings.HasPrefix(msg, "44"+p):
			var e struct {
				Message string `json:"message"`
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(msg, "44"+p)), &e); err != nil || e.Message == "" {
				return msg, nil
			}
			return e.Message, nil
		}
		// anything else (events for another namespace) is not the answer
	}
}

// emitAck emits name with data as a Socket.IO EVENT with ack id and returns
// the raw ack argument.
func (w *rawWS) emitAck(ns string, id int, args ...any) (map[string]any, error) {
	w.tb.Helper()
	b, _ := json.Marshal(args)
	if err := w.send("42" + nsPrefix(ns) + strconv.Itoa(id) + string(b)); err != nil {
		return nil, err
	}
	want := "43" + nsPrefix(ns) + strconv.Itoa(id)
	for {
		msg, err := w.read(5 * time.Second)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(msg, want+"[") {
			continue
		}
		var out []map[string]any
		if err := json.Unmarshal([]byte(strings.TrimPrefix(msg, want)), &out); err != nil || len(out) == 0 {
			return nil, fmt.Errorf("ack %q: %v", msg, err)
		}
		return out[0], nil
	}
}

// metrics reads /metrics into a map of name → value.
func metrics(tb testing.TB, d *mpmdtest.Daemon) map[string]float64 {
	tb.Helper()
	code, b := d.Do(tb, http.MethodGet, "/metrics", nil)
	if code != http.StatusOK {
		tb.Fatalf("GET /metrics: %d %s", code, b)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if f, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = f
		}
	}
	return out
}

// stored is /health's stored_events.
func stored(tb testing.TB, d *mpmdtest.Daemon) int64 {
	tb.Helper()
	return int64(d.Health(tb)["stored_events"].(float64))
}

// export reads every stored event through /api/events?format=jsonl.
func export(tb testing.TB, d *mpmdtest.Daemon, query string) []map[string]any {
	tb.Helper()
	q := "format=jsonl"
	if query != "" {
		q += "&" + query
	}
	code, b := d.Do(tb, http.MethodGet, "/api/events?"+q, nil)
	if code != http.StatusOK {
		tb.Fatalf("export: %d %s", code, b)
	}
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for dec.More() {
		var e map[string]any
		if err := dec.Decode(&e); err != nil {
			tb.Fatalf("export line: %v", err)
		}
		out = append(out, e)
	}
	return out
}

// eventually polls cond every 20ms until it holds or timeout passes.
func eventually(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runHook runs the real mpm-hook with input on stdin and env, and checks the
// relay's promise to Claude Code: exit 0, nothing on stdout, well under a
// second.
func runHook(tb testing.TB, env []string, input string) {
	tb.Helper()
	cmd := exec.Command(mpmdtest.HookBin(tb))
	cmd.Env = env
	cmd.Stdin = strings.NewReader(input)
	var out bytes.Buffer
	cmd.Stdout = &out
	start := time.Now()
	if err := cmd.Run(); err != nil {
		tb.Errorf("mpm-hook: %v", err)
	}
	if out.Len() != 0 {
		tb.Errorf("mpm-hook wrote to stdout: %q", out.String())
	}
	if el := time.Since(start); el > 3*time.Second {
		tb.Errorf("mpm-hook took %s", el)
	}
}

// hookInput is a UserPromptSubmit hook input carrying marker as its prompt
// and session.
func hookInput(marker string) string { return hookInputIn("fault-"+marker, marker) }

// hookInputIn is hookInput in the given session.
func hookInputIn(session, marker string) string {
	b, _ := json.Marshal(map[string]any{
		"hook_event_name": "UserPromptSubmit", "session_id": session,
		"transcript_path": "/tmp/t.jsonl", "cwd": "/tmp", "prompt": marker,
	})
	return string(b)
}
