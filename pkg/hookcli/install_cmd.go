package hookcli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/settings"
)

// InstallCmd registers mpm-hook in a Claude Code settings file.
type InstallCmd struct {
	Scope   string   `help:"Settings file: user (~/.claude/settings.json), project (.claude/settings.json) or local (.claude/settings.local.json)." enum:"user,project,local" default:"user"`
	Events  []string `help:"Hook events to register, comma-separated: event names, 'default' (the ${default_count} recommended events, the default; docs/HOOKS.md lists them) or 'all' (those and ${optin_events}). ${never_events} are never registered." placeholder:"EVENT"`
	Async   bool     `help:"Let Claude Code run the hook without waiting for it."`
	Command string   `help:"Command to register (default: mpm-hook when it is on PATH, else this binary's absolute path)."`
	Timeout int      `help:"Seconds after which Claude Code kills the hook." default:"5"`

	OtelFlags `embed:""` // --otel: Claude Code's OpenTelemetry env instead of the hooks (otel.go)
}

// Run merges the entries into the settings file.
func (c *InstallCmd) Run(cli *CLI, env *Env) error {
	path, err := settings.Path(settings.Scope(c.Scope), env.Home, env.Cwd)
	if err != nil {
		return err
	}
	if c.Otel {
		return c.OtelFlags.install(cli, env, path)
	}
	events, err := hookEvents(c.Events)
	if err != nil {
		return err
	}
	if err := settings.CheckEvents(events); err != nil {
		return fmt.Errorf("%w; leave it out of --events", err)
	}
	command := c.Command
	if command == "" {
		command = defaultCommand()
	}
	f, err := loadSettings(path)
	if err != nil {
		return err
	}
	installed := f.Installed()
	changed, err := f.Install(events, settings.Entry{Command: command, Timeout: c.Timeout, Async: c.Async})
	if err != nil {
		return err
	}
	for _, ev := range settings.NeverEvents {
		if len(installed[ev]) > 0 {
			e, _ := settings.LookupEvent(ev)
			fmt.Fprintf(env.Stdout, "Removed mpm-hook's %s entry: %s.\n", ev, e.Why)
		}
	}
	if !changed {
		fmt.Fprintf(env.Stdout, "mpm-hook is already installed for %d hook events in %s; nothing changed.\n", len(events), path)
		return nil
	}
	backup, err := f.Save(env.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Installed %q for %d hook events in %s.\n", command, len(events), path)
	if backup != "" {
		fmt.Fprintf(env.Stdout, "The previous file is saved as %s.\n", backup)
	}
	fmt.Fprintln(env.Stdout, "Start mpmd (`mpmd start`) and open the dashboard it prints; new Claude Code sessions report to it.")
	return nil
}

// loadSettings loads a settings file, turning a syntax error into advice.
func loadSettings(path string) (*settings.File, error) {
	f, err := settings.Load(path)
	var se *settings.SyntaxError
	if errors.As(err, &se) {
		return nil, fmt.Errorf("%s is not valid JSON (line %d, column %d: %s); fix it and run the command again, it was left untouched", se.Path, se.Line, se.Col, se.Msg)
	}
	return f, err
}

// hookEvents checks and expands --events (settings.ExpandEvents); without
// any it is the recommended set.
func hookEvents(in []string) ([]string, error) {
	if len(in) == 0 {
		return settings.DefaultEvents, nil
	}
	var words []string
	for _, e := range in {
		for _, p := range strings.Split(e, ",") {
			if p = strings.TrimSpace(p); p != "" {
				words = append(words, p)
			}
		}
	}
	out := settings.ExpandEvents(words)
	for _, p := range out {
		if err := event.ValidateName(p); err != nil || strings.ContainsAny(p, "_-.:") || p[0] < 'A' || p[0] > 'Z' {
			return nil, fmt.Errorf("%q is not a Claude Code hook event name (they look like PreToolUse, SessionStart), nor default or all", p)
		}
	}
	return out, nil
}

// defaultCommand is "mpm-hook" when that resolves to this binary on PATH,
// else this binary's absolute path. Run as mpmd (which mpm-hook hands its
// subcommands to), "this binary" is the mpm-hook next to it: the relay that
// hook entries run.
func defaultCommand() string {
	exe, err := os.Executable()
	if err != nil {
		return "mpm-hook"
	}
	exe, _ = filepath.EvalSymlinks(exe)
	if filepath.Base(exe) == CLIProgram {
		exe = filepath.Join(filepath.Dir(exe), "mpm-hook")
	}
	if p, err := exec.LookPath("mpm-hook"); err == nil {
		if rp, _ := filepath.EvalSymlinks(p); rp == exe {
			return "mpm-hook"
		}
	}
	return exe
}
