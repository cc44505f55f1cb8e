// Command mpmd is the mpm event daemon; see pkg/mpmdcli.
package main

import (
	"os"

	"github.com/mpm-dev/mpm/pkg/mpmdcli"
)

func main() { os.Exit(mpmdcli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
