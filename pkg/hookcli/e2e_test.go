package hookcli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// hookRun is one finished mpm-hook process.
type hookRun struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// runHook runs the built mpm-hook with env and stdin (nil: a closed stdin).
func runHook(tb testing.TB, env []string, stdin []byte, args ...string) hookRun {
	tb.Helper()
	bin := mpmdtest.HookBin(tb)
	var cmd *exec.Cmd
	if stdin == nil {
		// exec's nil Stdin is /dev/null; close fd 0 for real.
		cmd = exec.Command("/bin/sh", append([]string{"-c", `exec "$0" "$@" <&-`, bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
		cmd.Stdin = bytes.NewReader(stdin)
	}
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := hookRun{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("run mpm-hook: %v", err)
	}
	return r
}

// checkSilent asserts the relay's promise: exit 0, no output, fast.
func checkSilent(tb testing.TB, what string, r hookRun) {
	tb.Helper()
	if r.code != 0 || r.stdout != "" || r.stderr != "" {
		tb.Errorf("%s: exit %d, stdout %q, stderr %q; want 0 and nothing", what, r.code, r.stdout, r.stderr)
	}
	// The relay's own deadline is 700 ms (pkg/relay); this measures from
	// the test's side, process spawn included, on a runner that may be
	// loaded by the rest of the suite under -race.
	if r.took > 2*time.Second {
		tb.Errorf("%s: took %s, over the one-second promise", what, r.took)
	}
}

// settle makes sure nothing is left in the spool while mpmd is up: a hook
// too slow to connect on a loaded machine spools its event, and the promise
// is that the next hook that reaches mpmd delivers it first, in order. So
// while the spool holds events, settle runs one more hook (a Stop of session
// "flush") and fails the test if a few do not empty it.
func settle(tb testing.TB, d *mpmdtest.Daemon) {
	tb.Helper()
	for try := 0; spoolLen(tb, d.Root) > 0; try++ {
		if try == 5 {
			tb.Fatalf("spool still holds %d events after %d more hooks", spoolLen(tb, d.Root), try)
		}
		checkSilent(tb, "flush", runHook(tb, d.Env, []byte(`{"hook_event_name":"Stop","session_id":"flush"}`)))
	}
}

// waitEvents polls /api/events until it returns at least n events.
func waitEvents(tb testing.TB, d *mpmdtest.Daemon, query string, n int) []map[string]any {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := d.Events(tb, query)
		if len(evs) >= n || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func spoolLen(tb testing.TB, root string) int {
	tb.Helper()
	return mpmdtest.SpoolLen(tb, filepath.Join(root, "state", "mpm", "spool"))
}

func hookPayload(session string, i int) []byte {
	b, _ := json.Marshal(map[string]any{
		"session_id": session, "transcript_path": "/t/" + session + ".jsonl", "cwd": "/w",
		"hook_event_name": "PreToolUse", "tool_name": "Bash",
		"tool_input": map[string]any{"command": fmt.Sprintf("echo %d", i)}, "tool_use_id": fmt.Sprintf("toolu_%04d", i),
	})
	return b
}

func commandOf(ev map[string]any) string {
	data, _ := ev["data"].(map[string]any)
	ti, _ := data["tool_input"].(map[string]any)
	s, _ := ti["command"].(string)
	return s
}

func TestE2EEveryHookEvent(t *testing.T) {
	d := mpmdtest.Start(t)
	files, _ := filepath.Glob("testdata/hooks/*.json")
	if len(files) < 13 {
		t.Fatalf("found %d hook payloads", len(files))
	}
	sort.Strings(files)
	var want []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var in map[string]any
		json.Unmarshal(b, &in)
		want = append(want, in)
		checkSilent(t, filepath.Base(f), runHook(t, d.Env, b))
	}
	settle(t, d)
	got := waitEvents(t, d, "namespace=hook&session_id=abc123-e2e", len(want))
	if len(got) != len(want) {
		t.Fatalf("got %d /hook events, want %d", len(got), len(want))
	}
	for i, in := range want {
		ev := got[i]
		name := in["hook_event_name"].(string)
		if ev["event"] != event.HookEventName(name) {
			t.Errorf("event %d: %v, want %s (from %s)", i, ev["event"], event.HookEventName(name), name)
		}
		data := ev["data"].(map[string]any)
		for k, v := range in {
			g, _ := json.Marshal(data[k])
			w, _ := json.Marshal(v)
			if string(g) != string(w) {
				t.Errorf("%s: field %s = %s, want %s", name, k, g, w)
			}
		}
		if id, _ := ev["event_id"].(string); len(id) != 32 {
			t.Errorf("%s: event_id %q", name, id)
		}
	}
	if got[0]["event"] != "session_start" || got[1]["event"] != "user_prompt" || got[2]["event"] != "pre_tool" || got[3]["event"] != "post_tool" {
		t.Errorf("first events = %v %v %v %v", got[0]["event"], got[1]["event"], got[2]["event"], got[3]["event"])
	}
	// mpmd derives the other namespaces from them.
	for _, q := range []string{"namespace=session&event=start", "namespace=session&event=end", "namespace=agent&event=task_completed", "namespace=memory&event=loaded"} {
		if evs := waitEvents(t, d, q+"&session_id=abc123-e2e", 1); len(evs) == 0 {
			t.Errorf("no derived event for %s", q)
		}
	}
}

func TestE2EBadInput(t *testing.T) {
	d := mpmdtest.Start(t)
	big := strings.Repeat("0123456789abcdef", 20<<20/16)
	bigInput, _ := json.Marshal(map[string]any{"session_id": "big", "hook_event_name": "PostToolUse", "tool_name": "Read",
		"tool_use_id": "toolu_big", "tool_response": map[string]any{"stdout": big, "exitCode": 0}})
	for _, tt := range []struct {
		name  string
		input []byte
		event string
	}{
		{"malformed JSON", []byte(`{"hook_event_name": "PreToolUse", "tool_name": `), "hook_error"},
		{"empty stdin", []byte{}, "hook_error"},
		{"closed stdin", nil, "hook_error"},
		{"not UTF-8", []byte("{\"hook_event_name\":\"Stop\",\"session_id\":\"x\",\"m\":\"\xc3\x28\"}"), "hook_error"},
		{"no hook_event_name", []byte(`{"session_id":"x"}`), "hook_error"},
		{"20 MB tool_response", bigInput, "post_tool"},
	} {
		before := len(d.Events(t, "namespace=hook"))
		checkSilent(t, tt.name, runHook(t, d.Env, tt.input))
		settle(t, d)
		evs := waitEvents(t, d, "namespace=hook", before+1)
		if len(evs) < before+1 {
			t.Errorf("%s: %d new events, want 1", tt.name, len(evs)-before)
			continue
		}
		ev := evs[before]
		data := ev["data"].(map[string]any)
		if ev["event"] != tt.event {
			t.Errorf("%s: event %v (%v), want %s", tt.name, ev["event"], data["error"], tt.event)
			continue
		}
		if tt.event == "hook_error" {
			if msg, _ := data["error"].(string); msg == "" {
				t.Errorf("%s: hook_error without error: %v", tt.name, data)
			}
			if _, ok := data["input_bytes"]; !ok {
				t.Errorf("%s: hook_error without input_bytes", tt.name)
			}
		} else {
			out, _ := data["tool_response"].(string)
			if m, ok := data["tool_response"].(map[string]any); ok {
				out, _ = m["stdout"].(string)
			}
			if !strings.Contains(out, "…[truncated ") || len(out) > 600<<10 {
				t.Errorf("%s: stdout is %d bytes, marker present: %v", tt.name, len(out), strings.Contains(out, "[truncated"))
			}
			// tool_response.stdout, or the whole tool_response when
			// stdin outlasted the read deadline on a busy machine.
			if tr, _ := data["truncated"].([]any); len(tr) != 1 || !strings.HasPrefix(tr[0].(string), "tool_response") {
				t.Errorf("%s: truncated = %v", tt.name, data["truncated"])
			}
		}
	}
	if n := spoolLen(t, d.Root); n != 0 {
		t.Errorf("%d events spooled while mpmd was up", n)
	}
}

func TestE2ESpoolWhileDownThenDeliverOnceInOrder(t *testing.T) {
	d := mpmdtest.Start(t)
	d.Stop(t)
	const n = 8
	env := append(d.Env, "CLAUDE_MPM_HOOK_DEBUG=1")
	for i := range n {
		checkSilent(t, "hook with mpmd down", runHook(t, env, hookPayload("down", i)))
	}
	// Each hook knew at once that nothing listens, rather than waiting
	// for a connect timeout (wall-clock time says little on a busy
	// machine; the benchmark measures it).
	log, _ := os.ReadFile(filepath.Join(d.Root, "state", "mpm", "logs", "mpm-hook.log"))
	got := 0
	for _, line := range strings.Split(string(log), "\n") {
		if strings.Contains(line, `msg="not delivered, spooling"`) && strings.Contains(line, "nothing listens") {
			got++
		}
	}
	if got != n {
		t.Errorf("%d of %d hooks saw a refused connection; debug log:\n%s", got, n, log)
	}
	if got := spoolLen(t, d.Root); got != n {
		t.Fatalf("spool holds %d events, want %d", got, n)
	}
	d = d.Restart(t) // mpmd drains the spool at start-up
	evs := waitEvents(t, d, "namespace=hook&session_id=down", n)
	if len(evs) != n {
		t.Fatalf("got %d events after restart, want %d", len(evs), n)
	}
	for i, ev := range evs {
		if got, want := commandOf(ev), fmt.Sprintf("echo %d", i); got != want {
			t.Errorf("event %d: %s, want %s (order)", i, got, want)
		}
	}
	// Exactly once: nothing else arrives later.
	checkSilent(t, "hook after restart", runHook(t, d.Env, hookPayload("down", n)))
	if evs := waitEvents(t, d, "namespace=hook&session_id=down", n+1); len(evs) != n+1 {
		t.Errorf("got %d events, want %d (no duplicates)", len(evs), n+1)
	}
	if got := spoolLen(t, d.Root); got != 0 {
		t.Errorf("spool still holds %d events", got)
	}
}

func TestE2EHookDrainsSpool(t *testing.T) {
	d := mpmdtest.Start(t, mpmdtest.WithArgs("--no-spool-drain"))
	d.Stop(t)
	for i := range 5 {
		checkSilent(t, "hook with mpmd down", runHook(t, d.Env, hookPayload("drain", i)))
	}
	d = d.Restart(t) // with --no-spool-drain: only a hook can deliver them
	if got := spoolLen(t, d.Root); got != 5 {
		t.Fatalf("spool holds %d after a restart without drain, want 5", got)
	}
	checkSilent(t, "hook with mpmd up", runHook(t, d.Env, hookPayload("drain", 5)))
	settle(t, d)
	evs := waitEvents(t, d, "namespace=hook&session_id=drain", 6)
	if len(evs) != 6 {
		t.Fatalf("got %d events, want 6", len(evs))
	}
	// The spooled events go first, in order, then the live one.
	got := []string{}
	for _, ev := range evs {
		got = append(got, commandOf(ev))
	}
	want := []string{"echo 0", "echo 1", "echo 2", "echo 3", "echo 4", "echo 5"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("arrival order %v, want %v", got, want)
	}
	if n := spoolLen(t, d.Root); n != 0 {
		t.Errorf("spool still holds %d", n)
	}
}

func TestE2EKilledMidStream(t *testing.T) {
	d := mpmdtest.Start(t)
	const n = 20
	for i := range n {
		if i == n/2 {
			settle(t, d) // what the first half spooled under load
			d.Kill(t)
		}
		checkSilent(t, "hook", runHook(t, d.Env, hookPayload("kill", i)))
	}
	if got := spoolLen(t, d.Root); got != n/2 {
		t.Errorf("spool holds %d, want %d", got, n/2)
	}
	d = d.Restart(t)
	evs := waitEvents(t, d, "namespace=hook&session_id=kill", n)
	if len(evs) != n {
		t.Fatalf("got %d events, want %d", len(evs), n)
	}
	seen := map[string]bool{}
	for i, ev := range evs {
		c := commandOf(ev)
		if seen[c] {
			t.Errorf("%s delivered twice", c)
		}
		seen[c] = true
		if want := fmt.Sprintf("echo %d", i); c != want {
			t.Errorf("event %d: %s, want %s", i, c, want)
		}
	}
}

func TestE2EFiftyHooksAtOnce(t *testing.T) {
	d := mpmdtest.Start(t)
	// A hook that never arrives must say why: every relay run's own
	// account (delivered, spooled, the error) goes to its debug log.
	d.Env = append(d.Env, "CLAUDE_MPM_HOOK_DEBUG=1")
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(d.Root, "state", "mpm", "logs", "mpm-hook.log"))
			var done []string
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, "relay done") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
					done = append(done, l)
				}
			}
			t.Logf("mpm-hook's debug log (%d relay runs):\n%s", len(done), strings.Join(done, "\n"))
		}
	}()
	const n = 50
	var wg sync.WaitGroup
	runs := make([]hookRun, n)
	for i := range n {
		wg.Go(func() { runs[i] = runHook(t, d.Env, hookPayload(fmt.Sprintf("par%02d", i), i)) })
	}
	wg.Wait()
	for i, r := range runs {
		if r.code != 0 || r.stdout != "" || r.stderr != "" {
			t.Errorf("hook %d: exit %d, stdout %q, stderr %q", i, r.code, r.stdout, r.stderr)
		}
	}
	// Some may have spooled under the load (two shared cores); one more
	// hook drains them.
	checkSilent(t, "drain hook", runHook(t, d.Env, hookPayload("par-last", n)))
	seen := map[string]int{}
	all := func() bool {
		clear(seen)
		for _, ev := range d.Events(t, "namespace=hook&q=par&limit=1000") {
			seen[commandOf(ev)]++
		}
		for i := range n {
			if seen[fmt.Sprintf("echo %d", i)] == 0 {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if spoolLen(t, d.Root) > 0 {
			runHook(t, d.Env, hookPayload("par-extra", n+1))
			continue
		}
		if all() {
			break
		}
	}
	all()
	for i := range n {
		if c := seen[fmt.Sprintf("echo %d", i)]; c != 1 {
			t.Errorf("hook %d arrived %d times", i, c)
		}
	}
}

func TestE2EWrapperScript(t *testing.T) {
	wrapper, err := filepath.Abs("../../hooks/mpm-hook.sh")
	if err != nil {
		t.Fatal(err)
	}
	// Copied away from the checkout, so ../bin/mpm-hook is not found.
	dir := t.TempDir()
	w := filepath.Join(dir, "hooks", "mpm-hook.sh")
	os.MkdirAll(filepath.Dir(w), 0o755)
	b, _ := os.ReadFile(wrapper)
	os.WriteFile(w, b, 0o755)
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + dir}

	cmd := exec.Command(w)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(`{"hook_event_name":"Stop"}`)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("wrapper without a binary: %v, output %q; want exit 0 and nothing", err, out)
	}

	d := mpmdtest.Start(t)
	cmd = exec.Command(w)
	cmd.Env = append(d.Env, "MPM_HOOK_BIN="+mpmdtest.HookBin(t))
	cmd.Stdin = bytes.NewReader(hookPayload("wrapper", 1))
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("wrapper with MPM_HOOK_BIN: %v, output %q", err, out)
	}
	settle(t, d)
	if evs := waitEvents(t, d, "namespace=hook&session_id=wrapper", 1); len(evs) != 1 {
		t.Errorf("event through the wrapper: got %d, want 1", len(evs))
	}
}

// TestE2EAutoStart: with {"auto_start": true} in hook.json and no mpmd, a
// hook spools its event and starts mpmd, which delivers it from the spool.
func TestE2EAutoStart(t *testing.T) {
	d := mpmdtest.Start(t)
	d.Stop(t)
	cfg := filepath.Join(d.Root, "config", "mpm", "hook.json")
	os.MkdirAll(filepath.Dir(cfg), 0o700)
	if err := os.WriteFile(cfg, []byte(`{"auto_start": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	checkSilent(t, "auto-starting hook", runHook(t, d.Env, hookPayload("auto", 0)))

	// The started mpmd writes the discovery file; stop it by that pid.
	var pid int
	deadline := time.Now().Add(15 * time.Second)
	for pid == 0 && time.Now().Before(deadline) {
		var info struct{ PID int }
		if b, err := os.ReadFile(d.Discovery()); err == nil && json.Unmarshal(b, &info) == nil && info.PID != d.PID {
			pid = info.PID
		} else {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if pid == 0 {
		t.Fatal("no mpmd was started")
	}
	t.Cleanup(func() {
		p, err := os.FindProcess(pid)
		if err != nil {
			return
		}
		p.Signal(syscall.SIGTERM)
		for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if p.Signal(syscall.Signal(0)) != nil {
				return
			}
		}
		p.Kill()
	})
	var evs []map[string]any
	for time.Now().Before(deadline) && len(evs) == 0 {
		if code, b := httpGet(d.URL + "/api/events?namespace=hook&session_id=auto"); code == 200 {
			var r struct{ Events []map[string]any }
			json.Unmarshal(b, &r)
			evs = r.Events
		}
		if len(evs) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(evs) != 1 || commandOf(evs[0]) != "echo 0" {
		t.Fatalf("events from the auto-started mpmd: %v", evs)
	}
	if n := spoolLen(t, d.Root); n != 0 {
		t.Errorf("spool holds %d after auto-start", n)
	}
}

func httpGet(url string) (int, []byte) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
