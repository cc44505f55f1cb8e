package settings_test

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mpm-dev/mpm/pkg/settings"
)

// claudeCode2_1_332 are the hook events the Claude Code 2.1.332 binary
// knows, in its order (strings of the binary; /work/notes/design-9.md).
var claudeCode2_1_332 = strings.Fields(`PreToolUse PostToolUse PostToolUseFailure PostToolBatch
	Notification UserPromptSubmit UserPromptExpansion SessionStart SessionEnd Stop StopFailure
	SubagentStart SubagentStop PreCompact PostCompact PreModelSwitch PostModelSwitch
	PermissionRequest PermissionDenied Setup TeammateIdle TaskCreated TaskCompleted Elicitation
	ElicitationResult ConfigChange WorktreeCreate WorktreeRemove InstructionsLoaded CwdChanged
	FileChanged DirectoryAdded MessageDisplay PreSkillShellCommand`)

func TestHookEventsTable(t *testing.T) {
	var names []string
	for _, e := range settings.HookEvents {
		names = append(names, e.Name)
		if (e.Registration == settings.Recommended) != (e.Why == "") {
			t.Errorf("%s: registration %d with reason %q; only excluded events carry one", e.Name, e.Registration, e.Why)
		}
	}
	if !reflect.DeepEqual(names, claudeCode2_1_332) {
		t.Errorf("HookEvents = %v\nwant the 34 events of Claude Code 2.1.332: %v", names, claudeCode2_1_332)
	}
	if want := []string{"WorktreeCreate", "WorktreeRemove"}; !reflect.DeepEqual(settings.NeverEvents, want) {
		t.Errorf("NeverEvents = %v, want %v", settings.NeverEvents, want)
	}
	if want := []string{"MessageDisplay"}; !reflect.DeepEqual(settings.OptInEvents, want) {
		t.Errorf("OptInEvents = %v, want %v", settings.OptInEvents, want)
	}
	if len(settings.DefaultEvents) != 31 {
		t.Errorf("%d recommended events, want 31: %v", len(settings.DefaultEvents), settings.DefaultEvents)
	}
	// Tool-name matchers are "*", every other event takes none (FileChanged's
	// matcher would start a file watcher).
	star := []string{"PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest", "PermissionDenied", "PreSkillShellCommand"}
	for _, e := range settings.HookEvents {
		if want := map[bool]string{true: "*"}[slices.Contains(star, e.Name)]; e.Matcher != want {
			t.Errorf("%s: matcher %q, want %q", e.Name, e.Matcher, want)
		}
	}
}

func TestExpandEvents(t *testing.T) {
	stopFirst := append([]string{"Stop"}, slices.DeleteFunc(slices.Clone(settings.DefaultEvents), func(s string) bool { return s == "Stop" })...)
	for _, tt := range []struct {
		in   []string
		want []string
	}{
		{[]string{"default"}, settings.DefaultEvents},
		{[]string{"all"}, append(slices.Clone(settings.DefaultEvents), "MessageDisplay")},
		{[]string{"Stop", "default", "Stop"}, stopFirst},
		{[]string{"MessageDisplay", "FutureEvent"}, []string{"MessageDisplay", "FutureEvent"}},
	} {
		got := settings.ExpandEvents(tt.in)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ExpandEvents(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if slices.Contains(got, "WorktreeCreate") || slices.Contains(got, "WorktreeRemove") {
			t.Errorf("ExpandEvents(%v) holds a Never event: %v", tt.in, got)
		}
	}
}

func TestInstallRefusesNeverEvents(t *testing.T) {
	p := copyTestdata(t, "user-settings.json")
	for _, ev := range []string{"WorktreeCreate", "WorktreeRemove"} {
		f := load(t, p)
		before := string(settings.Marshal(f.Root))
		changed, err := f.Install([]string{"Stop", ev}, settings.Entry{Command: "mpm-hook"})
		var re *settings.RefusedError
		if !errors.As(err, &re) || re.Event != ev || changed {
			t.Errorf("Install(%s) = %v, %v; want a RefusedError and no change", ev, changed, err)
		}
		if after := string(settings.Marshal(f.Root)); after != before {
			t.Errorf("a refused Install changed the file:\n%s", after)
		}
	}
	f := load(t, p)
	if _, err := f.Install(settings.ExpandEvents([]string{"all"}), settings.Entry{Command: "mpm-hook"}); err != nil {
		t.Fatal(err)
	}
	inst := f.Installed()
	for _, ev := range settings.NeverEvents {
		if len(inst[ev]) > 0 {
			t.Errorf("all registered %s", ev)
		}
	}
	if len(inst["MessageDisplay"]) != 1 {
		t.Errorf("all did not register MessageDisplay: %v", inst)
	}
}

// TestUpgradeOldInstall: a file as the 12-event install wrote it, with an
// mpm-hook entry on WorktreeCreate beside the user's own and a hand-made
// FileChanged entry with a matcher, becomes the recommended set with one
// entry per event; the user's hooks stay; a second install changes nothing;
// uninstall leaves exactly the user's file.
func TestUpgradeOldInstall(t *testing.T) {
	p := copyTestdata(t, "old-install.json")
	f := load(t, p)
	if n := len(f.Installed()); n != 14 {
		t.Fatalf("testdata holds mpm-hook for %d events, want 12 + WorktreeCreate + FileChanged", n)
	}
	entry := settings.Entry{Command: "/usr/local/bin/mpm-hook", Timeout: settings.DefaultTimeout}
	if changed, err := f.Install(settings.DefaultEvents, entry); err != nil || !changed {
		t.Fatalf("Install = %v, %v; want changed", changed, err)
	}
	if _, err := f.Save(t0); err != nil {
		t.Fatal(err)
	}
	f = load(t, p)
	inst := f.Installed()
	for _, ev := range settings.DefaultEvents {
		if !reflect.DeepEqual(inst[ev], []string{entry.Command}) {
			t.Errorf("%s: %v, want one entry", ev, inst[ev])
		}
	}
	if len(inst) != len(settings.DefaultEvents) {
		t.Errorf("installed for %d events, want %d: %v", len(inst), len(settings.DefaultEvents), inst)
	}
	m := generic(t, settings.Marshal(f.Root))["hooks"].(map[string]any)
	wc := m["WorktreeCreate"].([]any)
	if len(wc) != 1 || !strings.Contains(wc[0].(map[string]any)["hooks"].([]any)[0].(map[string]any)["command"].(string), "jj-worktree.sh") {
		t.Errorf("WorktreeCreate = %v, want only the user's hook", wc)
	}
	if fc := m["FileChanged"].([]any)[0].(map[string]any); fc["matcher"] != nil {
		t.Errorf("our FileChanged group kept matcher %v; a matcher makes Claude Code watch files", fc["matcher"])
	}
	pre := m["PreToolUse"].([]any)
	if len(pre) != 2 || pre[0].(map[string]any)["matcher"] != "Bash" || pre[1].(map[string]any)["matcher"] != "*" {
		t.Errorf("PreToolUse = %v, want the user's Bash group, then ours", pre)
	}

	if changed, err := load(t, p).Install(settings.DefaultEvents, entry); err != nil || changed {
		t.Errorf("second Install = %v, %v; want unchanged", changed, err)
	}

	f = load(t, p)
	if n, err := f.Uninstall(nil); err != nil || n != len(settings.DefaultEvents) {
		t.Fatalf("Uninstall = %d, %v; want %d", n, err, len(settings.DefaultEvents))
	}
	user, err := os.ReadFile("testdata/user-settings.json")
	if err != nil {
		t.Fatal(err)
	}
	want := generic(t, user)
	want["hooks"].(map[string]any)["WorktreeCreate"] = []any{map[string]any{"hooks": []any{map[string]any{"type": "command", "command": `"$CLAUDE_PROJECT_DIR"/.claude/hooks/jj-worktree.sh`}}}}
	if got := generic(t, settings.Marshal(f.Root)); !reflect.DeepEqual(got, want) {
		t.Errorf("after uninstall:\n%s\nwant the user's file", settings.Marshal(f.Root))
	}
}

// TestUninstallOldEvents: uninstall removes mpm-hook from every event, also
// ones this version would not register.
func TestUninstallOldEvents(t *testing.T) {
	f := load(t, copyTestdata(t, "old-install.json"))
	n, err := f.Uninstall(nil)
	if err != nil || n != 14 {
		t.Errorf("Uninstall = %d, %v; want 14", n, err)
	}
	if inst := f.Installed(); len(inst) != 0 {
		t.Errorf("left: %v", inst)
	}
}

func TestEnabledPlugin(t *testing.T) {
	p := t.TempDir() + "/settings.json"
	os.WriteFile(p, []byte(`{"enabledPlugins": {"mpm@local": true, "mpm@off": false, "mpmx@y": true, "other@local": true, "mpm@versions": ["1"]}}`), 0o644)
	if got := load(t, p).EnabledPlugin(); !reflect.DeepEqual(got, []string{"mpm@local"}) {
		t.Errorf("EnabledPlugin = %v, want [mpm@local]", got)
	}
}
