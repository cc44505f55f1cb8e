package claudetest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeCLI writes an executable that answers --version with version.
func fakeCLI(t *testing.T, path, version string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("#!/bin/sh\necho '"+version+"'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestFindBin(t *testing.T) {
	t.Setenv("MPM_CLAUDE_BIN", "")
	root := t.TempDir()
	pkg := filepath.Join(root, PackageDir)
	os.MkdirAll(pkg, 0o755)
	os.WriteFile(filepath.Join(pkg, "package.json"), []byte(`{"dependencies":{"@anthropic-ai/claude-code":"2.1.332"}}`), 0o644)

	// Not installed: the error says what to run.
	if _, _, err := findBin(root); err == nil || !strings.Contains(err.Error(), "make deps-claude") || !strings.Contains(err.Error(), "MPM_SKIP_CLAUDE=1") {
		t.Errorf("missing CLI: %v", err)
	}

	// The .bin link is the fallback; a stale install is refused.
	dotBin := filepath.Join(pkg, "node_modules", ".bin", "claude")
	fakeCLI(t, dotBin, "2.1.100 (Claude Code)")
	if _, _, err := findBin(root); err == nil || !strings.Contains(err.Error(), "pins 2.1.332") || !strings.Contains(err.Error(), "make deps-claude") {
		t.Errorf("stale CLI: %v", err)
	}
	fakeCLI(t, dotBin, "2.1.332 (Claude Code)")
	if p, v, err := findBin(root); err != nil || p != dotBin || v != "2.1.332 (Claude Code)" {
		t.Errorf("fallback: %s %q %v", p, v, err)
	}

	// The platform package's native binary comes first.
	if pp := platformPackages(); len(pp) > 0 {
		native := filepath.Join(pkg, "node_modules", "@anthropic-ai", pp[0], "claude")
		fakeCLI(t, native, "2.1.332 (Claude Code)")
		if p, _, err := findBin(root); err != nil || p != native {
			t.Errorf("native: %s %v", p, err)
		}
	}

	// MPM_CLAUDE_BIN wins and may be any version; one that does not run is an error.
	other := filepath.Join(root, "other-claude")
	fakeCLI(t, other, "3.0.0 (Claude Code)")
	t.Setenv("MPM_CLAUDE_BIN", other)
	if p, v, err := findBin(root); err != nil || p != other || v != "3.0.0 (Claude Code)" {
		t.Errorf("MPM_CLAUDE_BIN: %s %q %v", p, v, err)
	}
	t.Setenv("MPM_CLAUDE_BIN", filepath.Join(root, "nothing-here"))
	if _, _, err := findBin(root); err == nil || !strings.Contains(err.Error(), "--version failed") {
		t.Errorf("MPM_CLAUDE_BIN missing: %v", err)
	}
}
