package relay

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mpm-dev/mpm/pkg/paths"
	"github.com/mpm-dev/mpm/pkg/wire"
)

// HardDeadline ends the process whatever it is doing (after spooling an
// event not yet acked); the relay's own deadlines end it long before.
const HardDeadline = 900 * time.Millisecond

// HookConfig is $XDG_CONFIG_HOME/mpm/hook.json.
type HookConfig struct {
	AutoStart bool `json:"auto_start"`
}

// LoadHookConfig reads hook.json in dir; a missing or broken file is the
// zero HookConfig.
func LoadHookConfig(dir string) HookConfig {
	var c HookConfig
	if b, err := os.ReadFile(filepath.Join(dir, "hook.json")); err == nil {
		_ = json.Unmarshal(b, &c)
	}
	return c
}

// Process is one relay run of the mpm-hook process: what `mpm-hook` (no
// arguments, or only the relay's flags) does when Claude Code runs it.
type Process struct {
	Stdin io.Reader
	// Dirs defaults to paths.ResolveAtStart: the environment as the
	// process started with it.
	Dirs paths.Dirs
	Now  func() time.Time
	// Port and Token are --port and --token; zero values mean
	// SOCKETIO_PORT (then wire.DefaultPort) and CLAUDE_MPM_SOCKETIO_TOKEN.
	Port  int
	Token string
	// AutoStart is --auto-start; hook.json can also turn it on.
	AutoStart bool
	// RealProcess points the process's own stdout and stderr away from
	// Claude Code and arms HardDeadline (os.Exit). Tests leave it false.
	RealProcess bool
}

// RunProcess relays stdin to mpmd. It never fails and never panics.
func RunProcess(p Process) Outcome {
	defer func() { _ = recover() }()
	if p.Dirs == (paths.Dirs{}) {
		p.Dirs = paths.ResolveAtStart()
	}
	if p.Token == "" {
		p.Token = os.Getenv("CLAUDE_MPM_SOCKETIO_TOKEN")
	}
	log, logFile := DebugLogger(p.Dirs)
	var hard time.Duration
	if p.RealProcess {
		silenceStdio(logFile)
		hard = HardDeadline
	}
	if logFile != nil {
		defer logFile.Close()
	}
	autoStart := p.AutoStart || LoadHookConfig(p.Dirs.Config).AutoStart
	out := Run(Config{
		Stdin:     p.Stdin,
		Client:    wire.Options{Port: p.Port, Token: p.Token, DiscoveryFile: p.Dirs.Discovery()},
		AutoStart: autoStart,
		Dirs:      p.Dirs,
		Log:       log,
		Now:       p.Now,
		// The event is spooled before the process ends, however late.
		HardDeadline: hard,
		Exit:         func() { os.Exit(0) },
	})
	log.Info("relay done", "event", out.Event, "event_id", out.EventID, "delivered", out.Delivered,
		"seq", out.Seq, "spooled", out.Spooled, "drained", out.Drained, "err", out.Err)
	return out
}

// silenceStdio points file descriptors 1 and 2 at the debug log (or
// /dev/null): Claude Code reads a hook's stdout, and nothing a library might
// print (a DEBUG variable, a panic in one of its goroutines) may reach it.
func silenceStdio(logFile *os.File) {
	target := logFile
	if target == nil {
		f, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		target = f
	}
	_ = dup2(int(target.Fd()), 1)
	_ = dup2(int(target.Fd()), 2)
}

// IsTerminal reports whether r is a terminal: a character device other than
// /dev/null (which Claude Code may hand a hook as stdin).
func IsTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}

// TerminalHint is what `mpm-hook` prints instead of relaying when its stdin
// is a terminal: a person typed it.
const TerminalHint = "mpm-hook relays one Claude Code hook event from stdin to mpmd; it is what a hook entry runs.\nTry `mpm-hook install`, `mpm-hook doctor`, `mpm-hook tail` or `mpm-hook --help`."

// ParseArgs reads mpm-hook's arguments (without the program name) the way
// the relay takes them, with the standard library only: mpm-hook's full
// command line (kong, in pkg/hookcli) is a separate program, so that the
// relay, which Claude Code starts on every hook event, does not pay for its
// start-up. It reports ok when args ask for the relay: no subcommand, or
// "relay", and flags only — --port N, --token T, --auto-start (also as
// --flag=value) are taken, any other flag is ignored so that a hook entry
// with a flag this version does not know still relays. -h, --help and
// --version anywhere, or any other subcommand, are the command line's: ok is
// false.
func ParseArgs(args []string) (p Process, ok bool, err error) {
	sub := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-h" || a == "--help" || a == "--version" {
			return p, false, nil
		}
		if !strings.HasPrefix(a, "-") {
			if sub || a != "relay" {
				if sub {
					continue // kong would refuse it; the relay ignores it
				}
				return p, false, nil
			}
			sub = true
			continue
		}
		if a == "--" {
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "port", "token":
			if !hasVal {
				if i+1 >= len(args) {
					err = fmt.Errorf("--%s needs a value", name)
					continue
				}
				i++
				val = args[i]
			}
			if name == "token" {
				p.Token = val
				continue
			}
			n, perr := strconv.Atoi(val)
			if perr != nil || n <= 0 || n > 65535 {
				err = fmt.Errorf("--port %q is not a port number", val)
				continue
			}
			p.Port = n
		case "auto-start":
			if !hasVal {
				p.AutoStart = true
				continue
			}
			b, perr := strconv.ParseBool(val)
			if perr != nil {
				err = fmt.Errorf("--auto-start=%q is not true or false", val)
				continue
			}
			p.AutoStart = b
		}
	}
	return p, true, err
}
