package settings_test

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/settings"
)

var t0 = time.Date(2026, 11, 25, 22, 40, 0, 0, time.UTC)

func copyTestdata(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(tb.TempDir(), ".claude", "settings.json")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o640); err != nil {
		tb.Fatal(err)
	}
	return p
}

func load(tb testing.TB, path string) *settings.File {
	tb.Helper()
	f, err := settings.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func generic(tb testing.TB, b []byte) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatalf("not JSON: %v\n%s", err, b)
	}
	return m
}

func TestInstallUninstallRoundTrip(t *testing.T) {
	p := copyTestdata(t, "user-settings.json")
	orig, _ := os.ReadFile(p)
	entry := settings.Entry{Command: "mpm-hook", Timeout: settings.DefaultTimeout}

	f := load(t, p)
	changed, err := f.Install(settings.DefaultEvents, entry)
	if err != nil || !changed {
		t.Fatalf("Install = %v, %v; want changed", changed, err)
	}
	backup, err := f.Save(t0)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(backup); string(b) != string(orig) {
		t.Errorf("backup %s does not hold the original file", backup)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640 kept", fi.Mode().Perm())
	}
	installed, _ := os.ReadFile(p)

	// Every event has exactly one entry, tool events match every tool.
	got := load(t, p).Installed()
	for _, ev := range settings.DefaultEvents {
		if len(got[ev]) != 1 || got[ev][0] != "mpm-hook" {
			t.Errorf("event %s: entries %v, want [mpm-hook]", ev, got[ev])
		}
	}
	m := generic(t, installed)
	pre := m["hooks"].(map[string]any)["PreToolUse"].([]any)
	if len(pre) != 2 {
		t.Fatalf("PreToolUse has %d groups, want the user's and ours", len(pre))
	}
	ours := pre[1].(map[string]any)
	if ours["matcher"] != "*" || ours["hooks"].([]any)[0].(map[string]any)["timeout"] != 5.0 {
		t.Errorf("our PreToolUse group = %v", ours)
	}
	if _, ok := m["hooks"].(map[string]any)["Stop"].([]any)[0].(map[string]any)["matcher"]; ok {
		t.Errorf("Stop got a matcher; only tool events take one")
	}
	// The user's keys keep their order and values; "<done> &" stays unescaped.
	s := string(installed)
	for _, want := range []string{`"$schema"`, `"model"`, `"permissions"`, `"env"`, `"hooks"`, `"statusLine"`, `"includeCoAuthoredBy"`, `"cleanupPeriodDays"`} {
		i := strings.Index(s, want)
		if i < 0 {
			t.Fatalf("key %s lost", want)
		}
		s = s[i:]
	}
	if !strings.Contains(string(installed), "echo <done> & true") {
		t.Errorf("command with <, &, > was escaped")
	}
	if !strings.Contains(string(installed), `"BASH_DEFAULT_TIMEOUT_MS": 120000`) {
		t.Errorf("number not kept as written")
	}

	// Twice = once.
	f = load(t, p)
	if changed, err := f.Install(settings.DefaultEvents, entry); err != nil || changed {
		t.Fatalf("second Install = %v, %v; want unchanged", changed, err)
	}

	// Uninstall gives back the user's file, semantically.
	f = load(t, p)
	n, err := f.Uninstall(nil)
	if err != nil || n != len(settings.DefaultEvents) {
		t.Fatalf("Uninstall = %d, %v; want %d", n, err, len(settings.DefaultEvents))
	}
	if _, err := f.Save(t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(p)
	if !reflect.DeepEqual(generic(t, after), generic(t, orig)) {
		t.Errorf("uninstall did not restore the file:\n%s", after)
	}
	if got := load(t, p).Installed(); len(got) != 0 {
		t.Errorf("still installed: %v", got)
	}
}

func TestInstallCollapsesDuplicates(t *testing.T) {
	p := copyTestdata(t, "duplicates.json")
	f := load(t, p)
	if _, err := f.Install([]string{"Stop"}, settings.Entry{Command: "/opt/bin/mpm-hook", Async: true}); err != nil {
		t.Fatal(err)
	}
	got := f.Installed()
	if !reflect.DeepEqual(got["Stop"], []string{"/opt/bin/mpm-hook"}) {
		t.Errorf("Stop entries = %v, want one", got["Stop"])
	}
	m := generic(t, settings.Marshal(f.Root))
	groups := m["hooks"].(map[string]any)["Stop"].([]any)
	if len(groups) != 1 {
		t.Fatalf("groups = %v, want the first (the second only held a duplicate)", groups)
	}
	hs := groups[0].(map[string]any)["hooks"].([]any)
	if len(hs) != 2 || hs[1].(map[string]any)["command"] != "say done" {
		t.Errorf("user's hook lost: %v", hs)
	}
	if hs[0].(map[string]any)["async"] != true {
		t.Errorf("async not set: %v", hs[0])
	}
}

func TestLoadMalformed(t *testing.T) {
	p := copyTestdata(t, "malformed.json")
	before, _ := os.ReadFile(p)
	_, err := settings.Load(p)
	var se *settings.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("Load = %v, want SyntaxError", err)
	}
	if se.Line != 6 {
		t.Errorf("error at line %d (%v), want 6", se.Line, err)
	}
	after, _ := os.ReadFile(p)
	if string(after) != string(before) {
		t.Errorf("malformed file was changed")
	}
}

func TestLoadMissingAndEmpty(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, content string }{{"missing", ""}, {"empty", "  \n"}} {
		p := filepath.Join(dir, tt.name, "settings.json")
		if tt.name == "empty" {
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(tt.content), 0o644)
		}
		f := load(t, p)
		if _, err := f.Install([]string{"PreToolUse"}, settings.Entry{Command: "mpm-hook"}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Save(t0); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		want := "{\n  \"hooks\": {\n    \"PreToolUse\": [\n      {\n        \"matcher\": \"*\",\n        \"hooks\": [\n          {\n            \"type\": \"command\",\n            \"command\": \"mpm-hook\"\n          }\n        ]\n      }\n    ]\n  }\n}\n"
		if string(b) != want {
			t.Errorf("%s: wrote\n%s\nwant\n%s", tt.name, b, want)
		}
	}
}

func TestHooksNotAnObject(t *testing.T) {
	p := filepath.Join(t.TempDir(), "settings.json")
	os.WriteFile(p, []byte(`{"hooks": []}`), 0o644)
	f := load(t, p)
	if _, err := f.Install([]string{"Stop"}, settings.Entry{Command: "mpm-hook"}); err == nil {
		t.Error("Install into a hooks list succeeded")
	}
}

func TestIsOwn(t *testing.T) {
	for cmd, want := range map[string]bool{
		"mpm-hook":                                true,
		"/usr/local/bin/mpm-hook --auto-start":    true,
		`"$CLAUDE_PROJECT_DIR"/hooks/mpm-hook.sh`: true,
		"'/path with space/mpm-hook'":             true,
		"mpm-hooks":                               false,
		"echo mpm-hook":                           false,
		"python3 ~/.claude/hooks/mpm_hook.py":     false,
		"/opt/mpm-hook/bin/other":                 false,
	} {
		if got := settings.IsOwn(cmd); got != want {
			t.Errorf("IsOwn(%q) = %v, want %v", cmd, got, want)
		}
	}
}

func TestSaveThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "dotfiles", "settings.json")
	os.MkdirAll(filepath.Dir(real), 0o755)
	os.WriteFile(real, []byte(`{"model":"x"}`), 0o644)
	link := filepath.Join(dir, ".claude", "settings.json")
	os.MkdirAll(filepath.Dir(link), 0o755)
	if err := os.Symlink(real, link); err != nil {
		t.Skip(err)
	}
	f := load(t, link)
	f.Install([]string{"Stop"}, settings.Entry{Command: "mpm-hook"})
	if _, err := f.Save(t0); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("symlink replaced by a file")
	}
	if b, _ := os.ReadFile(real); !strings.Contains(string(b), "mpm-hook") {
		t.Errorf("target not updated: %s", b)
	}
}

// TestSnippetMatchesInstall keeps hooks/claude-settings.json what install
// writes into an empty file.
func TestSnippetMatchesInstall(t *testing.T) {
	want, err := os.ReadFile("../../hooks/claude-settings.json")
	if err != nil {
		t.Fatal(err)
	}
	f := load(t, filepath.Join(t.TempDir(), "settings.json"))
	if _, err := f.Install(settings.DefaultEvents, settings.Entry{Command: "mpm-hook", Timeout: settings.DefaultTimeout}); err != nil {
		t.Fatal(err)
	}
	if got := settings.Marshal(f.Root); string(got) != string(want) {
		t.Errorf("hooks/claude-settings.json is stale; regenerate it with `mpm-hook install --scope project --command mpm-hook` in an empty directory:\n%s", got)
	}
}

var update = flag.Bool("update", false, "rewrite hooks/claude-settings.json and hooks/hooks.json from what install writes")

// PluginCommand is what the plugin's hooks/hooks.json runs: the wrapper,
// which finds the binary or exits 0 without one.
const pluginCommand = `"${CLAUDE_PLUGIN_ROOT}/hooks/mpm-hook.sh"`

// TestPluginHooksMatchInstall keeps the plugin's hooks/hooks.json the same
// event set, matchers and timeout as `mpm-hook install`.
func TestPluginHooksMatchInstall(t *testing.T) {
	const path = "../../hooks/hooks.json"
	f := load(t, filepath.Join(t.TempDir(), "hooks.json"))
	f.Root.Set("description", "mpm: every Claude Code hook event that is safe to observe goes to mpmd through mpm-hook (the wrapper hooks/mpm-hook.sh finds the binary, or exits 0 without one).")
	if _, err := f.Install(settings.DefaultEvents, settings.Entry{Command: pluginCommand, Timeout: settings.DefaultTimeout}); err != nil {
		t.Fatal(err)
	}
	want := settings.Marshal(f.Root)
	if *update {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("hooks/hooks.json is stale; regenerate it with `go test ./pkg/settings -run TestPluginHooksMatchInstall -update`")
	}
	m := generic(t, got)["hooks"].(map[string]any)
	if len(m) != len(settings.DefaultEvents) {
		t.Errorf("hooks/hooks.json registers %d events, want %d", len(m), len(settings.DefaultEvents))
	}
	for _, ev := range settings.NeverEvents {
		if _, ok := m[ev]; ok {
			t.Errorf("hooks/hooks.json registers %s", ev)
		}
	}
}
