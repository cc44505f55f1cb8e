// Package hookcli is mpm-hook's command line: the relay (the default command,
// what Claude Code runs on every hook), install, uninstall, doctor, emit and
// tail. cmd/mpm-hook only calls Main, so tests run every command with their
// own streams, directories and clock.
package hookcli

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kong"
	"github.com/mpm-dev/mpm/pkg/clirun"
	"github.com/mpm-dev/mpm/pkg/paths"
	"github.com/mpm-dev/mpm/pkg/relay"
	"github.com/mpm-dev/mpm/pkg/settings"
	"github.com/mpm-dev/mpm/pkg/version"
	"github.com/mpm-dev/mpm/pkg/wire"
)

// CLIProgram is the program that holds this command line: mpmd, run by the
// name Name (cmd/mpmd). The mpm-hook program itself is only the relay
// (pkg/relay, stdlib only, so that the hook Claude Code runs on every event
// starts fast); it hands every other command, --help and --version to the
// mpmd next to it.
const CLIProgram = "mpmd"

// Name is the command line's name, and the name CLIProgram is run by to be it.
const Name = "mpm-hook"

// CLI is mpm-hook's root command.
type CLI struct {
	Version kong.VersionFlag `help:"Print the version and exit."`
	Port    int              `help:"mpmd's port, used when no discovery file names a running mpmd." env:"SOCKETIO_PORT" default:"8765"`
	Token   string           `help:"Token mpmd requires." env:"CLAUDE_MPM_SOCKETIO_TOKEN"`

	Relay     RelayCmd     `cmd:"" default:"withargs" help:"Read one Claude Code hook event on stdin and send it to mpmd (the default; what a hook entry runs)."`
	Install   InstallCmd   `cmd:"" help:"Register mpm-hook for Claude Code's hook events in a settings file."`
	Uninstall UninstallCmd `cmd:"" help:"Remove mpm-hook's entries from a settings file, leaving every other hook."`
	Doctor    DoctorCmd    `cmd:"" help:"Check mpmd, the token, the installed hooks and the spool, and say what is wrong."`
	Emit      EmitCmd      `cmd:"" help:"Emit one event to mpmd, e.g. from a script: mpm-hook emit memory updated --data '{…}'."`
	Tail      TailCmd      `cmd:"" help:"Print mpmd's events as they happen (after an optional replay)."`
}

// Env is what the commands use of the outside world.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Dirs           paths.Dirs
	Home, Cwd      string
	Now            func() time.Time
	// RealProcess is set by cmd/mpm-hook: the relay then points the
	// process's own stdout and stderr away from Claude Code and arms a
	// hard exit deadline. Tests leave it false.
	RealProcess bool
}

func (e *Env) fill() {
	if e.Stdin == nil {
		e.Stdin = os.Stdin
	}
	if e.Stdout == nil {
		e.Stdout = io.Discard
	}
	if e.Stderr == nil {
		e.Stderr = io.Discard
	}
	if e.Dirs == (paths.Dirs{}) {
		e.Dirs = paths.Resolve()
	}
	if e.Home == "" {
		e.Home, _ = os.UserHomeDir()
	}
	if e.Cwd == "" {
		e.Cwd, _ = os.Getwd()
	}
	if e.Now == nil {
		e.Now = time.Now
	}
}

// clientOptions is how every command finds mpmd.
func (c *CLI) clientOptions(env *Env) wire.Options {
	return wire.Options{Port: c.Port, Token: c.Token, DiscoveryFile: env.Dirs.Discovery()}
}

// ExitError makes a command end with a given exit code after printing its message.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode is the process exit code the error asks for.
func (e *ExitError) ExitCode() int { return e.Code }

// Main runs mpm-hook with args (without the program name) and returns the
// exit code. With no arguments it is the relay, and it skips building the
// command line parser: that is every hook call, and start-up time is most of
// its cost.
func Main(args []string, env Env) int {
	env.fill()
	if len(args) == 0 {
		if isTerminal(env.Stdin) {
			// Claude Code always pipes the hook input; a terminal means
			// a person typed `mpm-hook`, who needs a hint, not a
			// hook_error event.
			fmt.Fprintln(env.Stderr, relay.TerminalHint)
			return 0
		}
		runRelay(&env, 0, os.Getenv("CLAUDE_MPM_SOCKETIO_TOKEN"), false)
		return 0
	}
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("mpm-hook"),
		kong.Description("mpm-hook relays Claude Code hook events to mpmd, installs itself as a hook, and emits and tails events."),
		kong.Vars{"version": version.Version,
			"default_count": strconv.Itoa(len(settings.DefaultEvents)),
			"optin_events":  strings.Join(settings.OptInEvents, ","),
			"never_events":  strings.Join(settings.NeverEvents, " and ")},
		kong.Writers(env.Stdout, env.Stderr),
		kong.UsageOnError(),
		clirun.Exit(),
		kong.Bind(&env),
	)
	if err != nil {
		fmt.Fprintln(env.Stderr, "mpm-hook:", err)
		return 2
	}
	// A hook entry with a flag this version does not know must still never
	// disturb Claude Code: relay anyway.
	relayAnyway := func(error) bool {
		if !relayArgs(args) {
			return false
		}
		runRelay(&env, 0, os.Getenv("CLAUDE_MPM_SOCKETIO_TOKEN"), false)
		return true
	}
	return clirun.Run("mpm-hook", parser, args, env.Stderr, relayAnyway, &cli)
}

// relayArgs reports whether args name no subcommand: flags only, as a
// settings entry for the relay would have them.
func relayArgs(args []string) bool {
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			return a == "relay"
		}
		if a == "-h" || a == "--help" || a == "--version" {
			return false
		}
	}
	return true
}
