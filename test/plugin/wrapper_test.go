package plugin_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// TestWrapperFindsBinary runs a copy of hooks/mpm-hook.sh laid out as in a
// checkout (hooks/ beside bin/) with fake binaries that record who ran: the
// checkout's bin/mpm-hook wins over PATH, $MPM_HOOK_BIN over both, and with
// none the wrapper reads its input and exits 0 printing nothing.
func TestWrapperFindsBinary(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(mpmdtest.RepoRoot(t), "hooks", "mpm-hook.sh"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plugin, pathDir, home, log := filepath.Join(dir, "plugin"), filepath.Join(dir, "path"), filepath.Join(dir, "home"), filepath.Join(dir, "ran.log")
	for _, d := range []string{filepath.Join(plugin, "hooks"), filepath.Join(plugin, "bin"), pathDir, home} {
		os.MkdirAll(d, 0o755)
	}
	wrapper := filepath.Join(plugin, "hooks", "mpm-hook.sh")
	os.WriteFile(wrapper, src, 0o755)
	fake := func(path, name string) {
		t.Helper()
		script := "#!/bin/sh\nprintf '%s %s ' " + name + " \"$*\" >> " + log + "\ncat >> " + log + "\necho >> " + log + "\n"
		if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	fake(filepath.Join(plugin, "bin", "mpm-hook"), "checkout")
	fake(filepath.Join(pathDir, "mpm-hook"), "path")
	fake(filepath.Join(dir, "explicit"), "explicit")

	run := func(extra ...string) (string, string) {
		t.Helper()
		os.Remove(log)
		cmd := exec.Command(wrapper, "--flag")
		cmd.Env = append([]string{"PATH=" + pathDir + ":/usr/bin:/bin", "HOME=" + home}, extra...)
		cmd.Stdin = strings.NewReader(`{"hook_event_name":"Stop"}`)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("wrapper: %v (%s)", err, out.String())
		}
		ran, _ := os.ReadFile(log)
		return strings.TrimSpace(string(ran)), out.String()
	}
	if ran, _ := run(); ran != `checkout --flag {"hook_event_name":"Stop"}` {
		t.Errorf("with bin/ and PATH: ran %q, want the checkout's binary with the args and the input", ran)
	}
	if ran, _ := run("MPM_HOOK_BIN=" + filepath.Join(dir, "explicit")); !strings.HasPrefix(ran, "explicit ") {
		t.Errorf("with MPM_HOOK_BIN: ran %q", ran)
	}
	os.Remove(filepath.Join(plugin, "bin", "mpm-hook"))
	if ran, _ := run(); !strings.HasPrefix(ran, "path ") {
		t.Errorf("without bin/: ran %q, want the one on PATH", ran)
	}
	os.Remove(filepath.Join(pathDir, "mpm-hook"))
	if ran, out := run(); ran != "" || out != "" {
		t.Errorf("without any binary: ran %q, printed %q; want nothing", ran, out)
	}
}
