package relay

import (
	"reflect"
	"testing"
)

func TestParseArgs(t *testing.T) {
	for _, c := range []struct {
		args   []string
		want   Process
		ok     bool
		hasErr bool
	}{
		{nil, Process{}, true, false},
		{[]string{"relay"}, Process{}, true, false},
		{[]string{"--port", "9001"}, Process{Port: 9001}, true, false},
		{[]string{"--port=9001", "--token=s3cret", "--auto-start"}, Process{Port: 9001, Token: "s3cret", AutoStart: true}, true, false},
		{[]string{"--port", "9001", "relay", "--auto-start=false"}, Process{Port: 9001}, true, false},
		{[]string{"relay", "--token", "t", "stray"}, Process{Token: "t"}, true, false},
		// A flag this version does not know: relay anyway, with the known ones.
		{[]string{"--some-new-flag", "--port=9002"}, Process{Port: 9002}, true, false},
		// A bad value: relay anyway (with the default), but say so.
		{[]string{"--port", "http"}, Process{}, true, true},
		{[]string{"--port"}, Process{}, true, true},
		{[]string{"--auto-start=maybe"}, Process{}, true, true},
		// The command line's: help, version, any other subcommand.
		{[]string{"--help"}, Process{}, false, false},
		{[]string{"-h"}, Process{}, false, false},
		{[]string{"--version"}, Process{}, false, false},
		{[]string{"relay", "--help"}, Process{}, false, false},
		{[]string{"install"}, Process{}, false, false},
		{[]string{"--port", "9001", "tail"}, Process{Port: 9001}, false, false},
		{[]string{"--unknown", "value"}, Process{}, false, false},
	} {
		got, ok, err := ParseArgs(c.args)
		if ok != c.ok || (err != nil) != c.hasErr || (ok && !reflect.DeepEqual(got, c.want)) {
			t.Errorf("ParseArgs(%q) = %+v, %v, %v; want %+v, %v, error %v", c.args, got, ok, err, c.want, c.ok, c.hasErr)
		}
	}
}
