package hookcli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/mpm-dev/mpm/pkg/relay"
	"github.com/mpm-dev/mpm/pkg/wire"
)

// RelayCmd is the hook relay.
type RelayCmd struct {
	AutoStart bool `name:"auto-start" help:"Start mpmd in the background when none is running (also {\"auto_start\": true} in $XDG_CONFIG_HOME/mpm/hook.json)."`
}

// Run relays stdin to mpmd. It never fails.
func (r *RelayCmd) Run(cli *CLI, env *Env) error {
	runRelay(env, cli.Port, cli.Token, r.AutoStart)
	return nil
}

// HardDeadline ends the process whatever it is doing (after spooling an
// event not yet acked); the relay's own deadlines end it long before.
const HardDeadline = 900 * time.Millisecond

// HookConfig is $XDG_CONFIG_HOME/mpm/hook.json.
type HookConfig struct {
	AutoStart bool `json:"auto_start"`
}

func loadHookConfig(dir string) HookConfig {
	var c HookConfig
	if b, err := os.ReadFile(filepath.Join(dir, "hook.json")); err == nil {
		_ = json.Unmarshal(b, &c)
	}
	return c
}

func runRelay(env *Env, port int, token string, autoStart bool) {
	defer func() { _ = recover() }()
	log, logFile := relay.DebugLogger(env.Dirs)
	var hard time.Duration
	if env.RealProcess {
		silenceStdio(logFile)
		hard = HardDeadline
	}
	if logFile != nil {
		defer logFile.Close()
	}
	if !autoStart {
		autoStart = loadHookConfig(env.Dirs.Config).AutoStart
	}
	out := relay.Run(relay.Config{
		Stdin:     env.Stdin,
		Client:    wire.Options{Port: port, Token: token, DiscoveryFile: env.Dirs.Discovery()},
		AutoStart: autoStart,
		Dirs:      env.Dirs,
		Log:       log,
		Now:       env.Now,
		// The event is spooled before the process ends, however late.
		HardDeadline: hard,
		Exit:         func() { os.Exit(0) },
	})
	log.Info("relay done", "event", out.Event, "event_id", out.EventID, "delivered", out.Delivered,
		"seq", out.Seq, "spooled", out.Spooled, "drained", out.Drained, "err", out.Err)
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
