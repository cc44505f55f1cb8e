// Command mpm-hook-cli is mpm-hook's command line: install, uninstall,
// doctor, emit, tail, relay, --help and --version (pkg/hookcli, on kong).
// Users type `mpm-hook …`: the mpm-hook program is only the relay that
// Claude Code starts on every hook event, linked without kong so that it
// starts fast, and it replaces itself (exec) with this program, found next to
// it, for every other command. Run directly it does the same as mpm-hook.
package main

import (
	"os"
	"runtime/debug"

	"github.com/mpm-dev/mpm/pkg/hookcli"
)

func main() {
	if len(os.Args) == 1 {
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(512 << 20)
	}
	os.Exit(hookcli.Main(os.Args[1:], hookcli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, RealProcess: true,
	}))
}
