package mpmdcli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/paths"
)

// TestSettings: the transport settings come from flags, the environment
// and the settings file, in that order of precedence, and bad ones are
// refused with a sentence naming the setting.
func TestSettings(t *testing.T) {
	for _, c := range []struct {
		name   string
		file   string // mpmd.json in the config dir; "" for none
		extra  string // a second file, passed with --config
		env    map[string]string
		args   []string
		check  func(f ServeFlags) bool
		parse  string // error from parsing, if any
		refuse string // error from checkTransport, if any
	}{
		{name: "defaults", check: func(f ServeFlags) bool {
			return f.PingInterval == 20*time.Second && f.PingTimeout == 20*time.Second && f.MaxPayload == 1<<20 && f.ConnectTimeout == 45*time.Second
		}},
		{name: "flags", args: []string{"--ping-interval", "300ms", "--ping-timeout", "200ms", "--max-payload", "1000000", "--connect-timeout", "1s"},
			check: func(f ServeFlags) bool {
				return f.PingInterval == 300*time.Millisecond && f.PingTimeout == 200*time.Millisecond && f.MaxPayload == 1e6 && f.ConnectTimeout == time.Second
			}},
		{name: "file", file: `{"ping-interval": "15s", "ping_timeout": "5s", "max-payload": 2000000, "connect-timeout": "10s"}`,
			check: func(f ServeFlags) bool {
				return f.PingInterval == 15*time.Second && f.PingTimeout == 5*time.Second && f.MaxPayload == 2e6 && f.ConnectTimeout == 10*time.Second
			}},
		{name: "flag beats file", file: `{"ping-interval": "15s"}`, args: []string{"--ping-interval", "3s"},
			check: func(f ServeFlags) bool { return f.PingInterval == 3*time.Second }},
		{name: "env beats file", file: `{"port": 1}`, env: map[string]string{"SOCKETIO_PORT": "2"},
			check: func(f ServeFlags) bool { return f.Port == 2 }},
		{name: "--config beats the default file", file: `{"ping-interval": "15s"}`, extra: `{"ping-interval": "7s"}`,
			check: func(f ServeFlags) bool { return f.PingInterval == 7*time.Second }},
		{name: "cluster in the file", file: `{"redis": "redis://10.0.0.5:6380/2", "node-id": "mpmd-b", "redis-maxlen": 5000, "redis-dedup-ttl": "1h"}`,
			check: func(f ServeFlags) bool {
				return f.Redis == "redis://10.0.0.5:6380/2" && f.NodeID == "mpmd-b" && f.RedisMaxLen == 5000 && f.RedisDedupTTL == time.Hour
			}},
		{name: "cluster defaults", check: func(f ServeFlags) bool {
			return f.Redis == "" && f.RedisMaxLen == 250_000 && f.RedisDedupTTL == 24*time.Hour
		}},
		{name: "unknown key", file: `{"ping-intervall": "15s"}`, parse: `names "ping-intervall", which is no setting`},
		{name: "not an object", file: `[1]`, parse: "must be one JSON object"},
		{name: "bad value", file: `{"ping-interval": 5}`, parse: "--ping-interval"},
		{name: "ping timeout 0", args: []string{"--ping-timeout", "0s"}, refuse: "--ping-timeout must be between 100ms and 1h0m0s, got 0s"},
		{name: "ping interval too long", file: `{"ping-interval": "2h"}`, refuse: "--ping-interval must be between"},
		{name: "connect timeout too short", args: []string{"--connect-timeout", "10ms"}, refuse: "--connect-timeout must be between"},
		{name: "payload under the floor", args: []string{"--max-payload", "1000"}, refuse: "--max-payload must be between 589824 bytes"},
		{name: "payload over the ceiling", file: `{"max-payload": 100000000}`, refuse: "and 67108864 bytes (64 MiB), got 100000000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			dirs := paths.Dirs{Config: dir, State: dir, Runtime: dir}
			if c.file != "" {
				if err := os.WriteFile(dirs.ConfigFile(), []byte(c.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"run"}, c.args...)
			if c.extra != "" {
				p := filepath.Join(dir, "extra.json")
				if err := os.WriteFile(p, []byte(c.extra), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--config", p)
			}
			t.Setenv("SOCKETIO_PORT", "")
			os.Unsetenv("SOCKETIO_PORT")
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var cli CLI
			var out bytes.Buffer
			p, err := newParser(&cli, dirs, &out, &out)
			if err == nil {
				_, err = p.Parse(args)
			}
			if c.parse != "" {
				if err == nil || !strings.Contains(err.Error(), c.parse) {
					t.Fatalf("parse error %v, want one containing %q", err, c.parse)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = cli.Run.checkTransport()
			if c.refuse != "" {
				if err == nil || !strings.Contains(err.Error(), c.refuse) {
					t.Fatalf("checkTransport: %v, want an error containing %q", err, c.refuse)
				}
				return
			}
			if err != nil {
				t.Fatalf("checkTransport: %v", err)
			}
			if !c.check(cli.Run.ServeFlags) {
				t.Errorf("got %+v", cli.Run.ServeFlags)
			}
		})
	}
}
