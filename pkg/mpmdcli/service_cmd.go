package mpmdcli

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/adrg/xdg"
)

// ServiceCmd installs mpmd as a background service of the user: a systemd
// user unit on Linux, a launchd agent on macOS.
type ServiceCmd struct {
	Install   ServiceInstallCmd   `cmd:"" help:"Write the service (systemd user unit or launchd agent) running 'mpmd run', and start it when the service manager is reachable."`
	Uninstall ServiceUninstallCmd `cmd:"" help:"Stop the service and remove what install wrote."`
	Status    ServiceStatusCmd    `cmd:"" help:"Say whether the service is installed, current and running."`
}

// serviceTarget says which service manager, and where its file goes.
type serviceTarget struct {
	Manager string `help:"systemd or launchd (default: this system's)." enum:"systemd,launchd,auto" default:"auto"`
	Dir     string `help:"Where the unit or agent file goes (default: $XDG_CONFIG_HOME/systemd/user, or ~/Library/LaunchAgents)." placeholder:"DIR"`
}

const (
	systemdUnitName = "mpmd.service"
	launchdLabel    = "dev.mpm.mpmd"
)

func (t serviceTarget) manager() string {
	if t.Manager != "" && t.Manager != "auto" {
		return t.Manager
	}
	if runtime.GOOS == "darwin" {
		return "launchd"
	}
	return "systemd"
}

// file is the unit's or agent's path.
func (t serviceTarget) file() string {
	dir := t.Dir
	if t.manager() == "launchd" {
		if dir == "" {
			dir = filepath.Join(xdg.Home, "Library", "LaunchAgents")
		}
		return filepath.Join(dir, launchdLabel+".plist")
	}
	if dir == "" {
		dir = filepath.Join(xdg.ConfigHome, "systemd", "user")
	}
	return filepath.Join(dir, systemdUnitName)
}

// ServiceInstallCmd writes and starts the service.
type ServiceInstallCmd struct {
	serviceTarget
	Port  int      `help:"Port mpmd listens on." env:"SOCKETIO_PORT" default:"8765"`
	Host  string   `help:"Address mpmd listens on." default:"127.0.0.1"`
	Token string   `help:"The token mpmd requires (kept in a file only you can read, not in the unit)." env:"CLAUDE_MPM_SOCKETIO_TOKEN"`
	Args  []string `arg:"" optional:"" help:"More 'mpmd run' flags, after --, e.g. -- --retention-age 168h."`
	Exe   string   `help:"The mpmd binary the service runs (default: this one)." hidden:""`
}

// serviceSpec is what the unit or agent runs.
type serviceSpec struct {
	Exe     string
	Args    []string
	Env     []string // NAME=value: the XDG directories the installing shell set, so the service uses the same store and spool
	EnvFile string   // systemd: the file holding the token
	Token   string
	LogFile string // launchd: where stdout and stderr go
}

func (c *ServiceInstallCmd) spec(env *Env) (serviceSpec, error) {
	exe := c.Exe
	if exe == "" {
		p, err := os.Executable()
		if err != nil {
			return serviceSpec{}, fmt.Errorf("cannot find the mpmd executable: %w", err)
		}
		exe = p
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	exe, _ = filepath.Abs(exe)
	args := []string{"run", "--port", strconv.Itoa(c.Port), "--host", c.Host}
	for _, a := range c.Args {
		if a == "--token" || strings.HasPrefix(a, "--token=") {
			return serviceSpec{}, errors.New("pass the token with --token or CLAUDE_MPM_SOCKETIO_TOKEN, not after --: a unit's command line is readable by every user")
		}
	}
	args = append(args, c.Args...)
	sp := serviceSpec{Exe: exe, Args: args, Token: c.Token}
	for _, k := range []string{"XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME"} {
		if v := os.Getenv(k); v != "" {
			sp.Env = append(sp.Env, k+"="+v)
		}
	}
	if c.manager() == "launchd" {
		sp.LogFile = filepath.Join(xdg.Home, "Library", "Logs", "mpm", "mpmd.log")
	} else if c.Token != "" {
		sp.EnvFile = filepath.Join(env.Dirs.Config, "mpmd.env")
	}
	return sp, nil
}

// Run writes the file (unchanged when it already says the same) and starts
// the service, or says how to when the manager cannot be reached.
func (c *ServiceInstallCmd) Run(env *Env) error {
	sp, err := c.spec(env)
	if err != nil {
		return err
	}
	var content []byte
	if c.manager() == "launchd" {
		content = launchdPlist(sp)
		if runtime.GOOS == "darwin" {
			if err := os.MkdirAll(filepath.Dir(sp.LogFile), 0o700); err != nil {
				return fmt.Errorf("create the log directory: %w", err)
			}
		}
	} else {
		content = []byte(systemdUnit(sp))
		if sp.EnvFile != "" {
			if err := writeIfChanged(sp.EnvFile, []byte("CLAUDE_MPM_SOCKETIO_TOKEN="+sp.Token+"\n"), 0o600); err != nil {
				return err
			}
		}
	}
	path := c.file()
	old, _ := os.ReadFile(path)
	changed := !bytes.Equal(old, content)
	if changed {
		if err := writeIfChanged(path, content, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "wrote %s\n", path)
	} else {
		fmt.Fprintf(env.Stdout, "%s is already up to date\n", path)
	}
	if c.manager() == "launchd" {
		return startLaunchd(env, path, changed)
	}
	return startSystemd(env, path, changed)
}

func writeIfChanged(path string, content []byte, perm os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, content, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// systemdUnit is the user unit running mpmd: restarted when it fails, its
// stderr in the journal (journalctl --user -u mpmd), its own log file
// under $XDG_STATE_HOME/mpm/logs as always.
func systemdUnit(sp serviceSpec) string {
	var b strings.Builder
	b.WriteString("# Written by `mpmd service install`; `mpmd service uninstall` removes it.\n")
	b.WriteString("[Unit]\n")
	b.WriteString("Description=mpmd: watch Claude Code sessions live (dashboard at http://127.0.0.1:8765/)\n")
	b.WriteString("After=network.target\n\n")
	b.WriteString("[Service]\n")
	b.WriteString("Type=simple\n")
	b.WriteString("ExecStart=" + systemdQuote(sp.Exe))
	for _, a := range sp.Args {
		b.WriteString(" " + systemdQuote(a))
	}
	b.WriteString("\n")
	for _, kv := range sp.Env {
		b.WriteString("Environment=" + systemdQuote(kv) + "\n")
	}
	if sp.EnvFile != "" {
		b.WriteString("EnvironmentFile=" + systemdQuote(sp.EnvFile) + "\n")
	}
	b.WriteString("Restart=on-failure\n")
	b.WriteString("RestartSec=2\n")
	b.WriteString("TimeoutStopSec=10\n\n")
	b.WriteString("[Install]\n")
	b.WriteString("WantedBy=default.target\n")
	return b.String()
}

// systemdQuote quotes one word of a unit's command line.
func systemdQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\"'\\;$%") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", "$$", "%", "%%")
	return `"` + r.Replace(s) + `"`
}

// launchdPlist is the launch agent running mpmd at login, restarted when
// it exits with an error.
func launchdPlist(sp serviceSpec) []byte {
	var b bytes.Buffer
	esc := func(s string) string {
		var e bytes.Buffer
		_ = xml.EscapeText(&e, []byte(s))
		return e.String()
	}
	b.WriteString(xml.Header)
	b.WriteString(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">` + "\n")
	b.WriteString(`<plist version="1.0">` + "\n<dict>\n")
	b.WriteString("\t<key>Label</key>\n\t<string>" + launchdLabel + "</string>\n")
	b.WriteString("\t<key>ProgramArguments</key>\n\t<array>\n")
	for _, a := range append([]string{sp.Exe}, sp.Args...) {
		b.WriteString("\t\t<string>" + esc(a) + "</string>\n")
	}
	b.WriteString("\t</array>\n")
	vars := append([]string{}, sp.Env...)
	if sp.Token != "" {
		vars = append(vars, "CLAUDE_MPM_SOCKETIO_TOKEN="+sp.Token)
	}
	if len(vars) > 0 {
		b.WriteString("\t<key>EnvironmentVariables</key>\n\t<dict>\n")
		for _, kv := range vars {
			k, v, _ := strings.Cut(kv, "=")
			b.WriteString("\t\t<key>" + esc(k) + "</key>\n\t\t<string>" + esc(v) + "</string>\n")
		}
		b.WriteString("\t</dict>\n")
	}
	b.WriteString("\t<key>RunAtLoad</key>\n\t<true/>\n")
	b.WriteString("\t<key>KeepAlive</key>\n\t<dict>\n\t\t<key>SuccessfulExit</key>\n\t\t<false/>\n\t</dict>\n")
	b.WriteString("\t<key>ThrottleInterval</key>\n\t<integer>5</integer>\n")
	b.WriteString("\t<key>StandardOutPath</key>\n\t<string>" + esc(sp.LogFile) + "</string>\n")
	b.WriteString("\t<key>StandardErrorPath</key>\n\t<string>" + esc(sp.LogFile) + "</string>\n")
	b.WriteString("</dict>\n</plist>\n")
	return b.Bytes()
}

// runQuiet runs a service manager command, with a deadline.
func runQuiet(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// systemdReachable reports whether `systemctl --user` can talk to the
// user's service manager (it cannot in containers and CI).
func systemdReachable() bool {
	if _, err := exec.LookPath("systemctl"); err != nil {
		return false
	}
	_, err := runQuiet("systemctl", "--user", "show-environment")
	return err == nil
}

func startSystemd(env *Env, path string, changed bool) error {
	how := "systemctl --user daemon-reload && systemctl --user enable --now " + systemdUnitName
	if !systemdReachable() {
		fmt.Fprintf(env.Stdout, "systemctl --user cannot reach a user service manager here, so the unit is written but not started.\n"+
			"To start mpmd now and at every login, run in your login session:\n  %s\n", how)
		return nil
	}
	if _, err := runQuiet("systemctl", "--user", "daemon-reload"); err != nil {
		return fmt.Errorf("systemctl --user daemon-reload failed: %w", err)
	}
	verb := "enable"
	args := []string{"--user", verb, "--now", systemdUnitName}
	if out, err := runQuiet("systemctl", args...); err != nil {
		return fmt.Errorf("systemctl --user enable --now %s failed: %v: %s", systemdUnitName, err, out)
	}
	if changed {
		_, _ = runQuiet("systemctl", "--user", "restart", systemdUnitName)
	}
	fmt.Fprintf(env.Stdout, "mpmd runs as the systemd user service %s (logs: journalctl --user -u mpmd, and %s)\n", systemdUnitName, env.Dirs.Logs())
	return nil
}

func launchdDomain() string { return "gui/" + strconv.Itoa(os.Getuid()) }

func startLaunchd(env *Env, path string, changed bool) error {
	if _, err := exec.LookPath("launchctl"); err != nil {
		fmt.Fprintf(env.Stdout, "launchctl is not on this system, so the agent is written but not loaded.\n"+
			"On the Mac, run:\n  launchctl bootstrap %s %s\n", launchdDomain(), path)
		return nil
	}
	if changed {
		_, _ = runQuiet("launchctl", "bootout", launchdDomain(), path)
	}
	if out, err := runQuiet("launchctl", "bootstrap", launchdDomain(), path); err != nil && !strings.Contains(out, "already") {
		return fmt.Errorf("launchctl bootstrap failed: %v: %s", err, out)
	}
	fmt.Fprintf(env.Stdout, "mpmd runs as the launch agent %s\n", launchdLabel)
	return nil
}

// ServiceUninstallCmd stops the service and removes its files.
type ServiceUninstallCmd struct {
	serviceTarget
}

// Run stops and removes the service; nothing installed is not an error.
func (c *ServiceUninstallCmd) Run(env *Env) error {
	path := c.file()
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(env.Stdout, "no mpmd service is installed (%s does not exist)\n", path)
		return nil
	}
	if c.manager() == "launchd" {
		if _, err := exec.LookPath("launchctl"); err == nil {
			_, _ = runQuiet("launchctl", "bootout", launchdDomain(), path)
		}
	} else if systemdReachable() {
		_, _ = runQuiet("systemctl", "--user", "disable", "--now", systemdUnitName)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	if c.manager() == "systemd" {
		_ = os.Remove(filepath.Join(env.Dirs.Config, "mpmd.env"))
		if systemdReachable() {
			_, _ = runQuiet("systemctl", "--user", "daemon-reload")
		}
	}
	fmt.Fprintf(env.Stdout, "removed %s\n", path)
	return nil
}

// ServiceStatusCmd reports on the service.
type ServiceStatusCmd struct {
	serviceTarget
}

// Run says whether the service file exists and whether the manager runs it.
func (c *ServiceStatusCmd) Run(env *Env) error {
	path := c.file()
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(env.Stdout, "not installed (%s does not exist): `mpmd service install` installs it\n", path)
		return notRunning{"no mpmd service"}
	}
	fmt.Fprintf(env.Stdout, "installed: %s\n", path)
	switch {
	case c.manager() == "systemd" && systemdReachable():
		out, _ := runQuiet("systemctl", "--user", "is-active", systemdUnitName)
		fmt.Fprintf(env.Stdout, "systemd says: %s\n", out)
	case c.manager() == "launchd":
		if _, err := exec.LookPath("launchctl"); err == nil {
			if _, err := runQuiet("launchctl", "print", launchdDomain()+"/"+launchdLabel); err == nil {
				fmt.Fprintln(env.Stdout, "launchd has it loaded")
			} else {
				fmt.Fprintln(env.Stdout, "launchd does not have it loaded")
			}
		}
	default:
		fmt.Fprintln(env.Stdout, "the service manager cannot be reached from here")
	}
	return nil
}
