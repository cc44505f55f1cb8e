package relay

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// Run under `sh -c`, the reported pid is the shell's parent (this test), not
// the shell; run directly, it is the parent.
func TestClaudePID(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if got := claudePID(); got != os.Getppid() {
		// the test binary's parent is go test (not a shell) or a shell
		if parentOf(os.Getppid()) != got {
			t.Errorf("claudePID() = %d, want the parent %d or, under a shell, its parent", got, os.Getppid())
		}
	}
	if os.Getenv("MPM_CLAUDEPID_CHILD") == "1" {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// `sh -c 'cmd; true'` keeps sh alive as the parent (no exec optimisation).
	cmd := exec.Command("sh", "-c", exe+" -test.run '^TestClaudePIDChild$' -test.v; true")
	cmd.Env = append(os.Environ(), "MPM_CLAUDEPID_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "claude_pid=" + strconv.Itoa(os.Getpid())
	if !strings.Contains(string(out), want) {
		t.Errorf("under sh -c: want %s in\n%s", want, out)
	}
}

func TestClaudePIDChild(t *testing.T) {
	if os.Getenv("MPM_CLAUDEPID_CHILD") != "1" {
		t.Skip("run by TestClaudePID")
	}
	t.Logf("claude_pid=%d", claudePID())
}
