// Command mpmd is the mpm event daemon; see pkg/mpmdcli.
//
// It also holds mpm-hook's command line (pkg/hookcli: install, uninstall,
// doctor, emit, tail, --help, --version). The mpm-hook program is only the
// relay Claude Code starts on every hook event, linked without a command
// line library so that it starts fast; for any other command it replaces
// itself with this program, with "mpm-hook" as the name it is run by.
package main

import (
	"os"
	"path/filepath"

	"github.com/mpm-dev/mpm/pkg/hookcli"
	"github.com/mpm-dev/mpm/pkg/mpmdcli"
)

func main() {
	if filepath.Base(os.Args[0]) == hookcli.Name {
		os.Exit(hookcli.Main(os.Args[1:], hookcli.Env{
			Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, RealProcess: true,
		}))
	}
	os.Exit(mpmdcli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
