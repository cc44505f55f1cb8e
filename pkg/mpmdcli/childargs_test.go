package mpmdcli

import (
	"bytes"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/paths"
)

// Every flag `mpmd start` is given reaches the `mpmd run` it starts: the
// child's command line, parsed as mpmd parses it, gives back every value.
// The fixture sets every field to something other than its default; a
// field added to ServeFlags and left out here fails the first check.
func TestChildArgsForwardEveryFlag(t *testing.T) {
	want := ServeFlags{
		Port: 9001, Host: "::1", DB: "/tmp/x.db", Insecure: true,
		CORSOrigin:   []string{"https://a.example", "https://b.example"},
		RetentionAge: 5 * time.Hour, RetentionCount: 77, Heartbeat: 3 * time.Second,
		LogLevel: "debug", MaxBacklog: 99, Pprof: "127.0.0.1:6061",
		PingInterval: 7 * time.Second, PingTimeout: 8 * time.Second, MaxPayload: 2 << 20, ConnectTimeout: 9 * time.Second,
		NoSpoolDrain: true, ClaudeProjects: []string{"/p/one", "/p/two"}, NoTranscripts: true, Pricing: "/tmp/prices.json",
		Redis: "redis://127.0.0.1:6390/2", RedisMaxLen: 1234, RedisDedupTTL: 2 * time.Hour, NodeID: "node-b",
		RedisAdminWait: 700 * time.Millisecond,
		AdminUser:      "ops", AdminReadonly: true, AdminMode: "production", NoAdmin: true,
		// not forwarded, but set so that the check below sees every field
		Token: "t", AdminPasswordHash: "h", Config: "c", Open: true,
	}
	v := reflect.ValueOf(want)
	for i := 0; i < v.NumField(); i++ {
		if v.Field(i).IsZero() {
			t.Fatalf("the fixture leaves %s unset: give it a value that is not its default", v.Type().Field(i).Name)
		}
	}
	args := want.childArgs()

	dir := t.TempDir()
	var cli CLI
	var out bytes.Buffer
	p, err := newParser(&cli, paths.Dirs{Config: dir, State: dir, Runtime: dir}, &out, &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"SOCKETIO_PORT", "CLAUDE_MPM_SOCKETIO_TOKEN", "MPM_ADMIN_PASSWORD_HASH", "MPMD_REDIS_URL"} {
		t.Setenv(k, "") // restored after the test
		os.Unsetenv(k)
	}
	if _, err := p.Parse(append([]string{"run"}, args...)); err != nil {
		t.Fatalf("mpmd run %v: %v", args, err)
	}
	got := cli.Run.ServeFlags
	// What start hands over otherwise (environment) or not at all.
	want.Token, want.AdminPasswordHash, want.Config, want.Open = "", "", "", false
	if !reflect.DeepEqual(got, want) {
		gv := reflect.ValueOf(got)
		wv := reflect.ValueOf(want)
		for i := 0; i < gv.NumField(); i++ {
			if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
				t.Errorf("--%s: the child gets %v, start was given %v", flagName(gv.Type().Field(i)), gv.Field(i).Interface(), wv.Field(i).Interface())
			}
		}
	}
}
