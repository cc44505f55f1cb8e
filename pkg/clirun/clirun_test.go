package clirun_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/alecthomas/kong"
	"github.com/mpm-dev/mpm/pkg/clirun"
)

type codeErr struct{}

func (codeErr) Error() string { return "not running" }
func (codeErr) ExitCode() int { return 3 }

type okCmd struct{}

func (okCmd) Run() error { return nil }

type failCmd struct{}

func (failCmd) Run() error { return errors.New("it broke") }

type codeCmd struct{}

func (codeCmd) Run() error { return codeErr{} }

type cli struct {
	Ok   okCmd   `cmd:""`
	Fail failCmd `cmd:""`
	Code codeCmd `cmd:""`
}

func TestRun(t *testing.T) {
	for _, c := range []struct {
		args     []string
		takeOver bool
		code     int
		stderr   string
	}{
		{[]string{"ok"}, false, 0, ""},
		{[]string{"fail"}, false, 1, "tool: it broke"},
		{[]string{"code"}, false, 3, "tool: not running"},
		{[]string{"--help"}, false, 0, ""},
		{[]string{"nope"}, false, 80, "unexpected argument"},
		{[]string{"nope"}, true, 0, ""},
	} {
		var out, errOut bytes.Buffer
		var root cli
		parser, err := kong.New(&root, kong.Name("tool"), kong.Writers(&out, &errOut), clirun.Exit())
		if err != nil {
			t.Fatal(err)
		}
		took := func(error) bool { return c.takeOver }
		if got := clirun.Run("tool", parser, c.args, &errOut, took); got != c.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, got, c.code, errOut.String())
		}
		if !strings.Contains(errOut.String(), c.stderr) {
			t.Errorf("%v: stderr %q, want it to contain %q", c.args, errOut.String(), c.stderr)
		}
	}
}
