package fault_test

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// mpm-hook's promise to Claude Code holds when everything is broken at once:
// mpmd is down, the hook cannot write its spool (its own file-size limit is
// 0: the disk is full for it too), and its stdin is a pipe nobody closes.
// It still exits 0 with nothing on stdout, well under its deadline. (The
// event is lost then — there is nowhere to keep it — and the hook says so in
// its debug log.)
func TestHookHarmlessWhenNothingWorks(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	d := mpmdtest.Start(t)
	d.Kill(t)
	env := append(append([]string(nil), d.Env...), "CLAUDE_MPM_HOOK_DEBUG=1")
	for _, c := range []struct {
		name       string
		stdinOpen  bool
		input      string
		fileLimitZ bool
	}{
		{"spool not writable", false, hookInput("nothing-works-1"), true},
		{"stdin never closed", true, hookInput("nothing-works-2"), false},
		{"both", true, hookInput("nothing-works-3"), true},
		{"garbage, both", true, strings.Repeat("\x00\xff{", 100000), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{mpmdtest.HookBin(t)}
			if c.fileLimitZ {
				args = append([]string{prlimit, "--fsize=0", "--"}, args...)
			}
			cmd := exec.Command(args[0], args[1:]...)
			cmd.Env = env
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			w := mustPipe(t, cmd)
			start := time.Now()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write([]byte(c.input))
			if !c.stdinOpen {
				w.Close()
			} else {
				defer w.Close()
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("mpm-hook: %v (stderr %q)", err, stderr.String())
				}
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatal("mpm-hook still running after 5 s")
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("mpm-hook took %s", el)
			}
			if stdout.Len() != 0 {
				t.Errorf("mpm-hook wrote to stdout: %q", stdout.String())
			}
		})
	}
	// Only the run whose spool was writable kept its event.
	if n := mpmdtest.SpoolLen(t, filepath.Join(d.Root, "state", "mpm", "spool")); n != 1 {
		t.Errorf("%d spooled records, want 1 (from the run that could write)", n)
	}
}

func mustPipe(tb testing.TB, cmd *exec.Cmd) interface {
	Write([]byte) (int, error)
	Close() error
} {
	tb.Helper()
	w, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	return w
}
