package mpmdcli_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// serviceEnv points the XDG directories at a temp dir and returns it.
func serviceEnv(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	t.Setenv("HOME", root)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(root, "config"))
	t.Setenv("XDG_STATE_HOME", filepath.Join(root, "state"))
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(root, "run"))
	if err := os.MkdirAll(filepath.Join(root, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	return root
}

func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: `make test-deps` installs it (Debian package %s)", name, pkg)
	}
	return p
}

// The systemd user unit passes systemd-analyze --user verify with nothing
// on stderr; installing twice changes nothing; the token is in a file only
// the user can read, not in the unit; uninstall removes both.
func TestServiceSystemd(t *testing.T) {
	analyze := tool(t, "systemd-analyze", "systemd")
	root := serviceEnv(t)
	exe, _ := os.Executable()
	dir := filepath.Join(root, "config", "systemd", "user")
	code, out, errOut := run("service", "install", "--manager", "systemd", "--exe", exe, "--token", "s3cret", "--port", "9123", "--", "--retention-age", "168h")
	if code != 0 || !strings.Contains(out, "wrote "+filepath.Join(dir, "mpmd.service")) {
		t.Fatalf("install: %d %s %s", code, out, errOut)
	}
	unit, err := os.ReadFile(filepath.Join(dir, "mpmd.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ExecStart=" + exe + " run --port 9123 --host 127.0.0.1 --retention-age 168h", "Restart=on-failure",
		"WantedBy=default.target", "Environment=XDG_STATE_HOME=" + filepath.Join(root, "state")} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %q:\n%s", want, unit)
		}
	}
	if strings.Contains(string(unit), "s3cret") {
		t.Errorf("the token is in the unit:\n%s", unit)
	}
	envFile := filepath.Join(root, "config", "mpm", "mpmd.env")
	if st, err := os.Stat(envFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v %v", st, err)
	}
	cmd := exec.Command(analyze, "--user", "verify", filepath.Join(dir, "mpmd.service"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("systemd-analyze --user verify: %v\n%s", err, stderr.String())
	}
	code, out, _ = run("service", "install", "--manager", "systemd", "--exe", exe, "--token", "s3cret", "--port", "9123", "--", "--retention-age", "168h")
	if code != 0 || !strings.Contains(out, "already up to date") {
		t.Errorf("second install: %d %s", code, out)
	}
	if code, out, _ = run("service", "status", "--manager", "systemd"); code != 0 || !strings.Contains(out, "installed:") {
		t.Errorf("status: %d %s", code, out)
	}
	if code, out, _ = run("service", "uninstall", "--manager", "systemd"); code != 0 || !strings.Contains(out, "removed") {
		t.Errorf("uninstall: %d %s", code, out)
	}
	for _, p := range []string{filepath.Join(dir, "mpmd.service"), envFile} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s is still there after uninstall", p)
		}
	}
	if code, _, _ = run("service", "status", "--manager", "systemd"); code != 3 {
		t.Errorf("status after uninstall: exit %d, want 3", code)
	}
	if code, _, errOut = run("service", "install", "--manager", "systemd", "--exe", exe, "--", "--token", "x"); code == 0 || !strings.Contains(errOut, "not after --") {
		t.Errorf("a token after --: %d %s", code, errOut)
	}
}

// The launchd agent is a property list Python's plistlib reads, running
// mpmd at login and again when it fails, with its output in a log file.
func TestServiceLaunchd(t *testing.T) {
	py := tool(t, "python3", "python3")
	root := serviceEnv(t)
	dir := filepath.Join(root, "LaunchAgents")
	exe := "/Applications/My Tools/mpmd & co"
	if code, out, errOut := run("service", "install", "--manager", "launchd", "--dir", dir, "--exe", exe, "--token", "t<o>k"); code != 0 {
		t.Fatalf("install: %d %s %s", code, out, errOut)
	}
	path := filepath.Join(dir, "dev.mpm.mpmd.plist")
	script := `import json, plistlib, sys
with open(sys.argv[1], 'rb') as f:
    print(json.dumps(plistlib.load(f)))`
	out, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("plistlib: %v\n%s", err, out)
	}
	var pl struct {
		Label                string
		ProgramArguments     []string
		RunAtLoad            bool
		KeepAlive            map[string]bool
		StandardErrorPath    string
		EnvironmentVariables map[string]string
	}
	if err := json.Unmarshal(out, &pl); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if pl.Label != "dev.mpm.mpmd" || len(pl.ProgramArguments) < 2 || pl.ProgramArguments[0] != exe || pl.ProgramArguments[1] != "run" ||
		!pl.RunAtLoad || pl.KeepAlive["SuccessfulExit"] || !strings.HasSuffix(pl.StandardErrorPath, "Library/Logs/mpm/mpmd.log") ||
		pl.EnvironmentVariables["CLAUDE_MPM_SOCKETIO_TOKEN"] != "t<o>k" {
		t.Errorf("plist = %+v", pl)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("the plist holds the token but is %v", st.Mode())
	}
	if code, out, _ := run("service", "uninstall", "--manager", "launchd", "--dir", dir); code != 0 || !strings.Contains(out, "removed") {
		t.Errorf("uninstall: %d %s", code, out)
	}
}
