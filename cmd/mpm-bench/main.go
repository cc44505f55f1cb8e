// Command mpm-bench is mpm's load tool: fan-out, ingest and growth figures for
// mpmd beside the reference Node socket.io server; see pkg/bench.
package main

import (
	"os"

	"github.com/mpm-dev/mpm/pkg/bench"
)

func main() { os.Exit(bench.Main(os.Args[1:], os.Stdout, os.Stderr)) }
