// Command mpm-hook is the Claude Code hook relay of mpm (pkg/relay): with no
// arguments, or only the relay's flags, it reads one hook event on stdin and
// hands it to mpmd. Claude Code starts it on every hook event and waits for
// it, so it links as little as it can: no command line library, no settings
// code, only the standard library and the relay's packages (a test in
// test/style keeps it so). Every other command (install, uninstall, doctor,
// emit, tail), --help and --version are pkg/hookcli's, which mpmd holds:
// mpm-hook replaces itself with the mpmd next to it (else on PATH), run by
// the name "mpm-hook", so `mpm-hook install` and the rest work as
// documented in docs/HOOKS.md. mpm stays two programs.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"

	"github.com/mpm-dev/mpm/pkg/relay"
)

// cliProgram is pkg/hookcli.CLIProgram (not imported: that would link kong):
// mpmd, which is mpm-hook's command line when run by the name "mpm-hook".
const cliProgram = "mpmd"

func main() {
	args := os.Args[1:]
	p, ok, _ := relay.ParseArgs(args) // a bad relay flag must not stop the hook
	if !ok {
		os.Exit(runCLI(args))
	}
	if len(args) == 0 && relay.IsTerminal(os.Stdin) {
		// Claude Code always pipes the hook input; a terminal means a
		// person typed `mpm-hook`, who needs a hint, not an event.
		fmt.Fprintln(os.Stderr, relay.TerminalHint)
		os.Exit(0)
	}
	// The relay lives for milliseconds: collecting garbage would only cost
	// it time. The limit bounds a huge hook input.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(512 << 20)
	p.Stdin, p.RealProcess = os.Stdin, true
	relay.RunProcess(p)
	os.Exit(0)
}

// runCLI runs mpmd as mpm-hook's command line with args in this process's place and returns an
// exit code only when it could not.
func runCLI(args []string) int {
	bin := findCLI()
	if bin == "" {
		exe, _ := os.Executable()
		fmt.Fprintf(os.Stderr, "mpm-hook: %s, which runs every command but the relay (install, uninstall, doctor, emit, tail, --help, --version), is neither next to %s nor on PATH: `make build` puts both in bin/\n", cliProgram, exe)
		return 2
	}
	code, err := execCLI(bin, append([]string{"mpm-hook"}, args...))
	if err != nil {
		fmt.Fprintf(os.Stderr, "mpm-hook: run %s: %v\n", bin, err)
		return 2
	}
	return code
}

// findCLI returns the mpmd next to this executable (symlinks
// resolved), else the one on PATH, else "".
func findCLI() string {
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		p := filepath.Join(filepath.Dir(exe), cliProgram)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return lookPath(cliProgram)
}
