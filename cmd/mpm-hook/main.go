// Command mpm-hook is the Claude Code hook relay of mpm; see pkg/hookcli.
package main

import (
	"os"
	"runtime/debug"

	"github.com/mpm-dev/mpm/pkg/hookcli"
)

func main() {
	if len(os.Args) == 1 {
		// The relay lives for milliseconds: collecting garbage would
		// only cost it time. The limit bounds a huge hook input.
		debug.SetGCPercent(-1)
		debug.SetMemoryLimit(512 << 20)
	}
	os.Exit(hookcli.Main(os.Args[1:], hookcli.Env{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, RealProcess: true,
	}))
}
