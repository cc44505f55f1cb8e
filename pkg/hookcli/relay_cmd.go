package hookcli

import (
	"github.com/mpm-dev/mpm/pkg/relay"
)

// RelayCmd is the hook relay. The mpm-hook program runs the relay itself,
// without this command line (relay.ParseArgs); RelayCmd is what `mpm-hook
// relay --help` describes and what tests run through Main.
type RelayCmd struct {
	AutoStart bool `name:"auto-start" help:"Start mpmd in the background when none is running (also {\"auto_start\": true} in $XDG_CONFIG_HOME/mpm/hook.json)."`
}

// Run relays stdin to mpmd. It never fails.
func (r *RelayCmd) Run(cli *CLI, env *Env) error {
	runRelay(env, cli.Port, cli.Token, r.AutoStart)
	return nil
}

func runRelay(env *Env, port int, token string, autoStart bool) {
	relay.RunProcess(relay.Process{
		Stdin: env.Stdin, Dirs: env.Dirs, Now: env.Now,
		Port: port, Token: token, AutoStart: autoStart,
		RealProcess: env.RealProcess,
	})
}
