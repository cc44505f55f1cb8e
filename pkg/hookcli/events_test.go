package hookcli_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mpm-dev/mpm/pkg/settings"
)

// writeSettings puts the settings testdata file name at path.
func writeSettings(tb testing.TB, path, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("../settings/testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestInstallEventSets(t *testing.T) {
	root := t.TempDir()
	user := filepath.Join(root, "home", ".claude", "settings.json")
	orig := writeSettings(t, user, "user-settings.json")

	// Never events are refused, alone or in a list, and nothing is written.
	for _, events := range []string{"WorktreeCreate", "Stop,WorktreeRemove"} {
		out, errs, code := run(t, root, "install", "--events", events)
		if code == 0 || !strings.Contains(errs, "never registered for Worktree") || !strings.Contains(errs, "worktree") {
			t.Errorf("install --events %s: exit %d, stdout %q, stderr %q; want a refusal saying why", events, code, out, errs)
		}
	}
	if b, _ := os.ReadFile(user); string(b) != string(orig) {
		t.Errorf("a refused install changed the file")
	}

	// all = the recommended set and MessageDisplay; an unknown future event is accepted.
	out, errs, code := run(t, root, "install", "--events", "all,FutureEvent", "--command", "mpm-hook")
	if code != 0 {
		t.Fatalf("install --events all: %d %q %q", code, out, errs)
	}
	f, err := settings.Load(user)
	if err != nil {
		t.Fatal(err)
	}
	inst := f.Installed()
	if n := len(settings.DefaultEvents) + 2; len(inst) != n || len(inst["MessageDisplay"]) != 1 || len(inst["FutureEvent"]) != 1 {
		t.Errorf("installed for %d events, want %d with MessageDisplay and FutureEvent: %v", len(inst), n, inst)
	}
	if !strings.Contains(out, "for "+strconv.Itoa(len(settings.DefaultEvents)+2)+" hook events") {
		t.Errorf("install said %q", out)
	}

	// Uninstall may name a Never event (to clean up), and removes the rest.
	if _, errs, code := run(t, root, "uninstall", "--events", "WorktreeCreate"); code != 0 {
		t.Errorf("uninstall --events WorktreeCreate: exit %d, %q", code, errs)
	}
	if out, _, code := run(t, root, "uninstall"); code != 0 || !strings.Contains(out, "Removed "+strconv.Itoa(len(settings.DefaultEvents)+2)+" ") {
		t.Errorf("uninstall: %d %q", code, out)
	}
}

// TestInstallUpgradesOldInstall: the 12-event install of earlier versions
// (with an mpm-hook entry on WorktreeCreate) becomes the recommended set, says
// what it took out, and doctor reports the upgrade path before and a clean
// file after.
func TestInstallUpgradesOldInstall(t *testing.T) {
	root := t.TempDir()
	proj := filepath.Join(root, "project", ".claude", "settings.json")
	writeSettings(t, proj, "old-install.json")

	out, _, _ := run(t, root, "--port", "1", "doctor", "--timeout", "200ms")
	missing := len(settings.DefaultEvents) - 13 // the old 12 and FileChanged
	for _, want := range []string{
		"✓ project settings (" + proj + "): mpm-hook is installed for 14 hook events.",
		"· " + strconv.Itoa(missing) + " recommended events are not registered there: PostToolBatch, UserPromptExpansion, StopFailure,",
		"`mpm-hook install --scope project` adds them",
		"✗ project settings register mpm-hook for WorktreeCreate, but a WorktreeCreate hook replaces Claude Code's own worktree creation",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor on an old install lacks %q:\n%s", want, out)
		}
	}

	out, errs, code := run(t, root, "install", "--scope", "project", "--command", "/usr/local/bin/mpm-hook")
	if code != 0 || !strings.Contains(out, "Removed mpm-hook's WorktreeCreate entry: a WorktreeCreate hook replaces") {
		t.Fatalf("install over an old install: %d %q %q", code, out, errs)
	}
	f, err := settings.Load(proj)
	if err != nil {
		t.Fatal(err)
	}
	if inst := f.Installed(); len(inst) != len(settings.DefaultEvents) || len(inst["WorktreeCreate"]) != 0 {
		t.Errorf("after the upgrade: %v", inst)
	}
	if out, _, _ := run(t, root, "install", "--scope", "project", "--command", "/usr/local/bin/mpm-hook"); !strings.Contains(out, "nothing changed") {
		t.Errorf("second install: %q", out)
	}

	out, _, _ = run(t, root, "--port", "1", "doctor", "--timeout", "200ms")
	if strings.Contains(out, "recommended events are not registered") || strings.Contains(out, "WorktreeCreate") {
		t.Errorf("doctor after the upgrade still complains:\n%s", out)
	}
}

func TestDoctorPlugin(t *testing.T) {
	root := t.TempDir()
	user := filepath.Join(root, "home", ".claude", "settings.json")
	os.MkdirAll(filepath.Dir(user), 0o755)
	os.WriteFile(user, []byte(`{"enabledPlugins": {"mpm@mpm-dev": true}}`), 0o644)

	out, _, _ := run(t, root, "--port", "1", "doctor", "--timeout", "200ms")
	if !strings.Contains(out, "✓ user settings ("+user+") enable the mpm Claude Code plugin (mpm@mpm-dev)") ||
		strings.Contains(out, "not installed in any settings file") {
		t.Errorf("doctor with the plugin enabled:\n%s", out)
	}

	run(t, root, "install", "--scope", "project", "--command", "mpm-hook")
	out, _, _ = run(t, root, "--port", "1", "doctor", "--timeout", "200ms")
	if !strings.Contains(out, "✗ mpm-hook is registered in settings files and by the mpm plugin (enabled in user settings)") {
		t.Errorf("doctor with the plugin and a settings install:\n%s", out)
	}
}
