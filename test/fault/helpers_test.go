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
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

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

// stored counts the stored events that clients sent.
func stored(tb testing.TB, d *mpmdtest.Daemon) int64 {
	tb.Helper()
	// mpmd's own log lines are stored too (namespace /log), whenever mpmd
	// logs: its start-up lines can land after a test's first count on a
	// loaded machine. What the tests count is what clients sent.
	var n int64
	for _, ev := range export(tb, d, "") {
		if ev["namespace"] != "/log" {
			n++
		}
	}
	return n
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
