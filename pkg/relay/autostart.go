package relay

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// autoStartQuiet is how long after one auto-start no other hook tries: mpmd
// needs a moment to write its discovery file, and fifty hooks at once must
// not start fifty daemons.
const autoStartQuiet = 10 * time.Second

// autoStart runs `mpmd start` detached from this process, without waiting for
// it. mpmd drains the spool (where this event already is) when it comes up.
func autoStart(cfg Config) error {
	if err := os.MkdirAll(cfg.Dirs.Runtime, 0o700); err != nil {
		return err
	}
	marker := filepath.Join(cfg.Dirs.Runtime, "autostart.lock")
	if fi, err := os.Stat(marker); err == nil && time.Since(fi.ModTime()) < autoStartQuiet {
		return errors.New("another hook started mpmd moments ago")
	}
	// O_EXCL decides the race between hooks that all found the marker
	// missing or stale.
	_ = os.Remove(marker + ".old")
	_ = os.Rename(marker, marker+".old")
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("another hook is starting mpmd: %w", err)
	}
	fmt.Fprintf(f, "%d\n", os.Getpid())
	f.Close()

	bin := cfg.MpmdPath
	if bin == "" {
		bin = FindMpmd()
	}
	if bin == "" {
		return errors.New("mpmd is neither next to mpm-hook nor on PATH")
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer devnull.Close()
	cmd := exec.Command(bin, "start")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	cfg.Log.Debug("auto-started mpmd", "bin", bin, "pid", cmd.Process.Pid)
	return cmd.Process.Release()
}

// FindMpmd returns the mpmd binary next to this executable, else the one on
// PATH, else "".
func FindMpmd() string {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "mpmd")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath("mpmd"); err == nil {
		return p
	}
	return ""
}
