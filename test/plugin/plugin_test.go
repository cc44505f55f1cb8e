// Package plugin_test checks that the repository is a Claude Code plugin the
// real CLI accepts (`claude plugin validate`), that a session started with
// `--plugin-dir <repo>` and no installed hooks delivers its hook events to a
// real mpmd, and how the plugin's wrapper finds mpm-hook.
//
// The Claude Code binary comes from $MPM_CLAUDE_BIN, else from the pinned
// install under test/claudecode; without one the Claude tests fail with a
// hint, unless MPM_SKIP_CLAUDE=1.
package plugin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
	"github.com/mpm-dev/mpm/pkg/settings"
)

// wrapperCommand is what hooks/hooks.json runs for every event.
const wrapperCommand = `"${CLAUDE_PLUGIN_ROOT}/hooks/mpm-hook.sh"`

// claudeBin finds the Claude Code binary, or fails (skips with MPM_SKIP_CLAUDE=1).
func claudeBin(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv("MPM_CLAUDE_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			tb.Fatalf("MPM_CLAUDE_BIN=%s: %v", p, err)
		}
		return p
	}
	p := filepath.Join(mpmdtest.RepoRoot(tb), "test", "claudecode", "node_modules", "@anthropic-ai", "claude-code-linux-x64", "claude")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if os.Getenv("MPM_SKIP_CLAUDE") == "1" {
		tb.Skip("no Claude Code binary and MPM_SKIP_CLAUDE=1")
	}
	tb.Fatalf("no Claude Code binary: set MPM_CLAUDE_BIN to one (npm package @anthropic-ai/claude-code 2.1.332, e.g. node_modules/.bin/claude of an `npm install` in a temp dir), or install it under test/claudecode (the pinned install `make test` is to provide); MPM_SKIP_CLAUDE=1 skips these tests")
	return ""
}

// claudeEnv is mpmd's environment (HOME and XDG dirs under root) without
// anything of a Claude Code session the test may run in, pointed at api.
func claudeEnv(root, api string, extra ...string) []string {
	var env []string
	for _, kv := range mpmdtest.Env(root) {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "CLAUDE") || strings.HasPrefix(k, "ANTHROPIC_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, append([]string{
		"ANTHROPIC_BASE_URL=" + api, "ANTHROPIC_API_KEY=test-key", "IS_SANDBOX=1",
		"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
	}, extra...)...)
}

func TestValidate(t *testing.T) {
	claude := claudeBin(t)
	repo := mpmdtest.RepoRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, claude, "plugin", "validate", "--strict", "--json", repo)
	cmd.Env = claudeEnv(t.TempDir(), "http://127.0.0.1:1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("claude plugin validate --strict %s: %v\n%s", repo, err, out)
	}
	var report struct {
		Success  bool
		Manifest struct{ Errors, Warnings []any }
		Provides struct {
			Hooks []struct{ Event, Matcher, Type, Command string }
		}
	}
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("validate --json printed no JSON: %v\n%s", err, out)
	}
	if !report.Success || len(report.Manifest.Errors)+len(report.Manifest.Warnings) > 0 {
		t.Errorf("validate: success %v, errors %v, warnings %v", report.Success, report.Manifest.Errors, report.Manifest.Warnings)
	}
	// The plugin provides exactly the recommended events, with install's matchers.
	var got, want []string
	for _, h := range report.Provides.Hooks {
		got = append(got, h.Event+" "+h.Matcher)
		if h.Type != "command" || h.Command != wrapperCommand {
			t.Errorf("%s hook: %s %q, want command %s", h.Event, h.Type, h.Command, wrapperCommand)
		}
	}
	for _, ev := range settings.DefaultEvents {
		e, _ := settings.LookupEvent(ev)
		want = append(want, strings.TrimSpace(ev+" "+e.Matcher))
	}
	for i := range got {
		got[i] = strings.TrimSpace(got[i])
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the plugin provides hooks\n%v\nwant\n%v", got, want)
	}
}

// TestPluginDeliversEvents: a `claude -p` session with --plugin-dir <repo>
// and no hooks in any settings file reaches mpmd with its hook events.
func TestPluginDeliversEvents(t *testing.T) {
	claude := claudeBin(t)
	repo := mpmdtest.RepoRoot(t)
	d := mpmdtest.Start(t)
	api := messagesAPI(t, "echo plugin-ok")
	proj := t.TempDir()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, claude, "-p", "run the test command", "--dangerously-skip-permissions", "--plugin-dir", repo)
	cmd.Dir = proj
	// The wrapper runs $MPM_HOOK_BIN first: the mpm-hook under test, which
	// `make test` builds into the repository's bin/ anyway.
	cmd.Env = claudeEnv(d.Root, api, "MPM_HOOK_BIN="+mpmdtest.HookBin(t))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("claude -p: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "The plugin's hooks ran.") {
		t.Errorf("claude printed %q, want the stand-in's closing text", stdout.String())
	}
	if b, err := os.ReadFile(filepath.Join(d.Root, "home", ".claude", "settings.json")); err == nil && strings.Contains(string(b), "mpm-hook") {
		t.Fatalf("a settings file registers mpm-hook; the test is about the plugin alone:\n%s", b)
	}

	want := []string{"session_start", "user_prompt", "pre_tool", "post_tool", "post_tool_batch", "stop", "session_end"}
	var evs []map[string]any
	deadline := time.Now().Add(15 * time.Second)
	for {
		evs = d.Events(t, "namespace=hook&limit=1000")
		if len(missing(evs, want)) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if m := missing(evs, want); len(m) > 0 {
		t.Fatalf("mpmd lacks %v; it has %d /hook events: %v", m, len(evs), names(evs))
	}
	session := ""
	for _, e := range evs {
		sid, _ := e["session_id"].(string)
		if session == "" {
			session = sid
		}
		if sid == "" || sid != session {
			t.Errorf("%s has session_id %q, want every event of the one session (%q)", e["event"], sid, session)
		}
		if data, _ := e["data"].(map[string]any); e["event"] == "post_tool" {
			resp, _ := json.Marshal(data["tool_response"])
			if data["tool_name"] != "Bash" || !strings.Contains(string(resp), "plugin-ok") {
				t.Errorf("post_tool = %v %s, want the Bash call printing plugin-ok", data["tool_name"], resp)
			}
		}
	}
}

func names(evs []map[string]any) []string {
	var out []string
	for _, e := range evs {
		s, _ := e["event"].(string)
		out = append(out, s)
	}
	return out
}

func missing(evs []map[string]any, want []string) []string {
	have := map[string]bool{}
	for _, n := range names(evs) {
		have[n] = true
	}
	var out []string
	for _, w := range want {
		if !have[w] {
			out = append(out, w)
		}
	}
	return out
}
