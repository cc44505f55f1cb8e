// Command mpm-hook is the Claude Code hook relay of mpm; see pkg/hookcli.
package main

import (
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/mpm-dev/mpm/pkg/hookcli"
)

func main() {
	if len(os.Args) == 1 {
		// The relay lives for milliseconds: collecting garbage would
		// only cost it time. The limit bounds a huge hook input.
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(512 << 20)
	}
	// The Socket.IO client library traps these signals in an init
	// function; give them back their default meaning so Claude Code (and
	// a user's ^C) can always end mpm-hook.
	signal.Reset(os.Interrupt, syscall.SIGTERM, syscall.SIGQUIT)
	os.Exit(hookcli.Main(os.Args[1:], hookcli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, RealProcess: true,
	}))
}
