package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// hookEnv is an environment with every mpm directory under root and no
// mpm-hook on PATH.
func hookEnv(root string) []string {
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + filepath.Join(root, "home"),
		"XDG_CONFIG_HOME=" + filepath.Join(root, "config"), "XDG_STATE_HOME=" + filepath.Join(root, "state"),
		"XDG_RUNTIME_DIR=" + filepath.Join(root, "run"), "SOCKETIO_PORT=1"}
	for _, d := range []string{"home", "config", "state", "run"} {
		os.MkdirAll(filepath.Join(root, d), 0o700)
	}
	return env
}

func runHook(t *testing.T, bin string, env []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s %q: %v", bin, args, err)
	}
	return out.String(), errb.String(), code
}

// TestCommandsGoToTheCLI: mpm-hook is only the relay, and every documented
// command still works through it, run by the mpmd next to it.
func TestCommandsGoToTheCLI(t *testing.T) {
	hook := mpmdtest.HookBin(t)
	root := t.TempDir()
	env := hookEnv(root)

	if out, errs, code := runHook(t, hook, env, "", "--version"); code != 0 || strings.TrimSpace(out) == "" {
		t.Errorf("mpm-hook --version: exit %d, %q, %q", code, out, errs)
	}
	out, _, code := runHook(t, hook, env, "", "--help")
	if code != 0 || !strings.Contains(out, "mpm-hook") || !strings.Contains(out, "install") || !strings.Contains(out, "tail") {
		t.Errorf("mpm-hook --help: exit %d:\n%s", code, out)
	}
	if out, _, code := runHook(t, hook, env, "", "relay", "--help"); code != 0 || !strings.Contains(out, "--auto-start") {
		t.Errorf("mpm-hook relay --help: exit %d:\n%s", code, out)
	}
	// install registers the relay, mpm-hook, not mpmd.
	if out, errs, code := runHook(t, hook, env, "", "install", "--events", "Stop"); code != 0 {
		t.Fatalf("mpm-hook install: exit %d: %s %s", code, out, errs)
	}
	b, err := os.ReadFile(filepath.Join(root, "home", ".claude", "settings.json"))
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(hook)
	if !strings.Contains(string(b), `"command": "`+real+`"`) {
		t.Errorf("install wrote another command than %s:\n%s", real, b)
	}
	if _, errs, code := runHook(t, hook, env, "", "--unknown-flag", "value"); code == 0 || !strings.Contains(errs, "unknown-flag") {
		t.Errorf("mpm-hook --unknown-flag value: exit %d, %q (want the command line's usage error)", code, errs)
	}
}

// TestRelayWithoutTheCLI: a lone mpm-hook still relays (that is what hooks
// run), and its other commands say what is missing.
func TestRelayWithoutTheCLI(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile(mpmdtest.HookBin(t))
	if err != nil {
		t.Fatal(err)
	}
	hook := filepath.Join(dir, "mpm-hook")
	if err := os.WriteFile(hook, b, 0o755); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	env := hookEnv(root)
	input := `{"session_id":"s1","hook_event_name":"Stop","cwd":"/tmp"}`
	for _, args := range [][]string{nil, {"--auto-start=false", "--future-flag"}, {"relay", "--port", "1"}} {
		out, errs, code := runHook(t, hook, env, input, args...)
		if code != 0 || out != "" || errs != "" {
			t.Errorf("mpm-hook %q (mpmd down): exit %d, stdout %q, stderr %q; want 0 and nothing", args, code, out, errs)
		}
	}
	log, err := os.ReadFile(filepath.Join(root, "state", "mpm", "spool", "spool.log"))
	if n := bytes.Count(log, []byte("\n")); err != nil || n != 3 {
		t.Errorf("spool.log holds %d records (%v), want 3", n, err)
	}
	_, errs, code := runHook(t, hook, env, "", "doctor")
	if code != 2 || !strings.Contains(errs, "mpmd") || !strings.Contains(errs, "make build") {
		t.Errorf("lone mpm-hook doctor: exit %d, %q; want 2 and a message naming mpmd", code, errs)
	}
}
