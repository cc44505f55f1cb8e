package hookcli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/hookcli"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
	"github.com/mpm-dev/mpm/pkg/paths"
	"github.com/mpm-dev/mpm/pkg/settings"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer = mpmdtest.SyncBuffer

// cliEnv is an Env whose dirs, HOME and working directory live under root.
func cliEnv(root string, stdout, stderr *syncBuffer) hookcli.Env {
	return hookcli.Env{
		Stdin:  strings.NewReader(""),
		Stdout: stdout, Stderr: stderr,
		Dirs: paths.Dirs{
			Config:  filepath.Join(root, "config", "mpm"),
			State:   filepath.Join(root, "state", "mpm"),
			Runtime: filepath.Join(root, "run", "mpm"),
		},
		Home: filepath.Join(root, "home"),
		Cwd:  filepath.Join(root, "project"),
		Now:  func() time.Time { return time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC) },
	}
}

func run(tb testing.TB, root string, args ...string) (string, string, int) {
	tb.Helper()
	var out, errb syncBuffer
	code := hookcli.Main(args, cliEnv(root, &out, &errb))
	return out.String(), errb.String(), code
}

func TestInstallUninstallCommands(t *testing.T) {
	root := t.TempDir()
	user := filepath.Join(root, "home", ".claude", "settings.json")
	orig, err := os.ReadFile("../settings/testdata/user-settings.json")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(user), 0o755)
	os.WriteFile(user, orig, 0o644)

	out, errs, code := run(t, root, "install", "--command", "/opt/mpm/bin/mpm-hook")
	if code != 0 || !strings.Contains(out, "Installed") || !strings.Contains(out, ".bak.") {
		t.Fatalf("install: %d %q %q", code, out, errs)
	}
	out, _, code = run(t, root, "install", "--command", "/opt/mpm/bin/mpm-hook")
	if code != 0 || !strings.Contains(out, "nothing changed") {
		t.Errorf("second install: %d %q", code, out)
	}
	f, err := settings.Load(user)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(f.Installed()); got != len(settings.DefaultEvents) {
		t.Errorf("installed for %d events, want %d", got, len(settings.DefaultEvents))
	}

	// Project scope, only two events, async.
	out, _, code = run(t, root, "install", "--scope", "project", "--events", "PreToolUse,Stop", "--async", "--command", "mpm-hook")
	proj := filepath.Join(root, "project", ".claude", "settings.json")
	b, _ := os.ReadFile(proj)
	if code != 0 || !strings.Contains(string(b), `"async": true`) || strings.Contains(string(b), "SessionStart") {
		t.Errorf("project install: %d %q\n%s", code, out, b)
	}
	if _, _, code := run(t, root, "install", "--events", "pre_tool"); code == 0 {
		t.Errorf("install accepted a bad event name")
	}

	out, _, code = run(t, root, "uninstall")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("Removed %d ", len(settings.DefaultEvents))) {
		t.Errorf("uninstall: %d %q", code, out)
	}
	var a, w map[string]any
	after, _ := os.ReadFile(user)
	json.Unmarshal(after, &a)
	json.Unmarshal(orig, &w)
	ab, _ := json.Marshal(a)
	wb, _ := json.Marshal(w)
	if string(ab) != string(wb) {
		t.Errorf("install+uninstall changed the user's settings:\n%s", after)
	}
	out, _, _ = run(t, root, "uninstall")
	if !strings.Contains(out, "not installed") {
		t.Errorf("second uninstall: %q", out)
	}
}

func TestInstallMalformedSettings(t *testing.T) {
	root := t.TempDir()
	local := filepath.Join(root, "project", ".claude", "settings.local.json")
	os.MkdirAll(filepath.Dir(local), 0o755)
	bad := []byte("{\n  \"permissions\": {\n    \"allow\": [\"Bash(ls)\",]\n  }\n}\n")
	os.WriteFile(local, bad, 0o644)
	_, errs, code := run(t, root, "install", "--scope", "local")
	if code == 0 || !strings.Contains(errs, "line 3, column") {
		t.Errorf("install on a malformed file: exit %d, stderr %q", code, errs)
	}
	if b, _ := os.ReadFile(local); !bytes.Equal(b, bad) {
		t.Errorf("malformed file was changed")
	}
	if m, _ := filepath.Glob(local + ".bak.*"); len(m) != 0 {
		t.Errorf("backup written for an untouched file: %v", m)
	}
}

func TestDoctorReport(t *testing.T) {
	d := mpmdtest.Start(t, mpmdtest.WithToken("tok3n"))
	root := d.Root
	port := strconv.Itoa(d.Port)
	// Installed in user and project scope: a duplicate.
	for _, sc := range []string{"user", "project"} {
		if _, errs, code := run(t, root, "install", "--scope", sc, "--command", mpmdtest.HookBin(t)); code != 0 {
			t.Fatalf("install %s: %s", sc, errs)
		}
	}
	out, _, code := run(t, root, "--port", port, "--token", "tok3n", "doctor")
	for _, want := range []string{
		"✓ mpmd is running at " + d.URL,
		"✓ mpmd accepts the token.",
		"✓ user settings (" + filepath.Join(root, "home", ".claude", "settings.json") + "): mpm-hook is installed for " + strconv.Itoa(len(settings.DefaultEvents)) + " hook events.",
		"✓ project settings",
		"· local settings",
		"✗ mpm-hook is registered in more than one scope for ",
		"✓ No events are waiting in the spool",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor report lacks %q:\n%s", want, out)
		}
	}
	if code != 1 {
		t.Errorf("doctor exit %d with a duplicate, want 1", code)
	}

	out, _, _ = run(t, root, "--port", port, "--token", "wrong", "doctor")
	if !strings.Contains(out, "✗ mpmd refused the token") {
		t.Errorf("doctor with a wrong token:\n%s", out)
	}

	run(t, root, "uninstall", "--scope", "project")
	d.Stop(t)
	for i := range 3 {
		runHook(t, d.Env, hookPayload("doc", i))
	}
	out, _, code = run(t, root, "--port", port, "doctor", "--timeout", "500ms")
	for _, want := range []string{"✗ mpmd is not reachable", "· 3 events are waiting in the spool"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor with mpmd down lacks %q:\n%s", want, out)
		}
	}
	if code != 1 || strings.Contains(out, "more than one scope") {
		t.Errorf("doctor exit %d (want 1), or a duplicate reported after uninstall:\n%s", code, out)
	}
}

func TestEmitAndTail(t *testing.T) {
	d := mpmdtest.Start(t)
	root, port := d.Root, strconv.Itoa(d.Port)
	seq0, _ := d.Emit(t, "memory", "loaded", map[string]any{"file_path": "/w/CLAUDE.md", "session_id": "tail"})

	var tailOut, tailErr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- hookcli.Main([]string{"--port", port, "tail", "--json", "--namespace", "memory,log",
			"--since-seq", strconv.FormatInt(seq0-1, 10), "--count", "3"}, cliEnv(root, &tailOut, &tailErr))
	}()
	// The replayed event shows the tail is connected.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(tailOut.String(), "CLAUDE.md") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	out, errs, code := run(t, root, "--port", port, "emit", "memory", "updated", "--data", `{"file_path":"/w/CLAUDE.md","session_id":"tail"}`)
	if code != 0 || !strings.Contains(out, "/memory updated: seq ") {
		t.Fatalf("emit: %d %q %q", code, out, errs)
	}
	if _, errs, code := run(t, root, "--port", port, "emit", "/log", "warning", "--data", `{"message":"disk almost full"}`); code != 0 {
		t.Fatalf("emit /log: %s", errs)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("tail exit %d: %s", code, tailErr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("tail did not see 3 events:\n%s", tailOut.String())
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(tailOut.String()), "\n") {
		var ev struct {
			Namespace, Event string
			Data             map[string]any
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("tail line %q: %v", line, err)
		}
		got = append(got, ev.Namespace+" "+ev.Event)
	}
	want := "/memory loaded,/memory updated,/log warning"
	if strings.Join(got, ",") != want {
		t.Errorf("tail printed %v, want %s", got, want)
	}

	for _, args := range [][]string{
		{"emit", "nowhere", "x"},
		{"emit", "memory", "connect"},
		{"emit", "memory", "x", "--data", "[1]"},
	} {
		if _, errs, code := run(t, root, append([]string{"--port", port}, args...)...); code == 0 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q; want an error", args, code, errs)
		}
	}
}

func TestLine(t *testing.T) {
	got := hookcli.Line("/hook", "pre_tool", map[string]any{
		"seq": 42.0, "timestamp": "2026-11-25T22:30:00.123Z", "session_id": "abcdef123456",
		"tool_name": "Bash", "tool_input": map[string]any{"command": "ls -la\n/tmp"},
	})
	for _, want := range []string{"    42 /hook pre_tool [abcdef12]", "tool_name=Bash", `command="ls -la /tmp"`} {
		if !strings.Contains(got, want) {
			t.Errorf("Line = %q, lacks %q", got, want)
		}
	}
}

// TestRelayCommandIsSilent runs the relay in-process through Main, with no
// mpmd, with and without flags (including one this version does not know).
func TestRelayCommandIsSilent(t *testing.T) {
	t.Setenv("SOCKETIO_PORT", "1") // nothing listens there: never a real mpmd
	root := t.TempDir()
	for _, args := range [][]string{nil, {"relay"}, {"--port", "1"}, {"--auto-start-typo"}, {"relay", "--no-such-flag"}} {
		var out, errb syncBuffer
		env := cliEnv(root, &out, &errb)
		env.Stdin = strings.NewReader(`{"hook_event_name":"Stop","session_id":"silent"}`)
		if code := hookcli.Main(args, env); code != 0 || out.String() != "" || errb.String() != "" {
			t.Errorf("Main(%q) = %d, stdout %q, stderr %q; want 0 and nothing", args, code, out.String(), errb.String())
		}
	}
	if n := spoolLen(t, root); n != 5 {
		t.Errorf("%d events spooled, want 5", n)
	}
}

// TestTailSurvivesRestart: tail reconnects after mpmd restarts and replays
// from the last seq it printed: nothing missed, nothing twice.
func TestTailSurvivesRestart(t *testing.T) {
	d := mpmdtest.Start(t)
	root, port := d.Root, strconv.Itoa(d.Port)
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- hookcli.Main([]string{"--port", port, "tail", "--json", "-n", "memory", "--since-seq", "0", "--count", "3"}, cliEnv(root, &out, &errb))
	}()
	d.Emit(t, "memory", "created", map[string]any{"n": 1})
	waitFor(t, &out, `"n":1`)
	// Killed, not stopped: the test is about tail, and a SIGTERM'd mpmd
	// with a subscriber connected has once timed out finishing its
	// shutdown on this loaded machine (reported to mpmd's owner).
	d.Kill(t)
	d = d.Restart(t)
	d.Emit(t, "memory", "created", map[string]any{"n": 2})
	d.Emit(t, "memory", "created", map[string]any{"n": 3})
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("tail exit %d: %s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("tail did not print 3 events:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for i, line := range lines {
		if want := `"n":` + strconv.Itoa(i+1); !strings.Contains(line, want) {
			t.Errorf("line %d = %s, want %s", i, line, want)
		}
	}
	if !strings.Contains(errb.String(), "reconnecting") {
		t.Errorf("tail did not say it lost the connection: %q", errb.String())
	}
}

func waitFor(tb testing.TB, b *syncBuffer, s string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.String(), s) {
		if time.Now().After(deadline) {
			tb.Fatalf("waited 10s for %q in:\n%s", s, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
