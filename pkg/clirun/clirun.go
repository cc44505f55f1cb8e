// Package clirun runs a kong command line to an exit code, for the thin
// mains of mpmd and mpm-hook: kong's own exits (--help, --version, usage
// errors) become return values instead of os.Exit, so commands run in tests
// with their own output streams, and a command's error is printed as
// "name: error" with its exit code.
package clirun

import (
	"errors"
	"fmt"
	"io"

	"github.com/alecthomas/kong"
)

type exit int

// Exit is the kong option that turns kong's exits into Run's return value.
func Exit() kong.Option { return kong.Exit(func(code int) { panic(exit(code)) }) }

// Run parses args with parser (built with Exit) and runs the chosen command
// with binds. onParseError, when not nil, may take a parse error over and
// report that it did (the exit code is then 0). A command's error is printed
// to stderr after "name: "; its exit code is the error's ExitCode() when it
// has one, else 1.
func Run(name string, parser *kong.Kong, args []string, stderr io.Writer, onParseError func(error) bool, binds ...any) (code int) {
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(exit)
			if !ok {
				panic(r)
			}
			code = int(c)
		}
	}()
	ctx, err := parser.Parse(args)
	if err != nil {
		if onParseError != nil && onParseError(err) {
			return 0
		}
		parser.FatalIfErrorf(err) // exits through Exit
		return 1
	}
	if err := ctx.Run(binds...); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		var withCode interface{ ExitCode() int }
		if errors.As(err, &withCode) {
			return withCode.ExitCode()
		}
		return 1
	}
	return 0
}
