// Package mpmdcli is mpmd's command line: `run` (the default, foreground),
// `start` (background), `stop`, `status`, `sessions` and `service`. cmd/mpmd only parses and calls
// it, so tests can run the commands with their own output streams.
package mpmdcli

import (
	"fmt"
	"io"
	"time"

	"github.com/alecthomas/kong"
	"github.com/mpm-dev/mpm/pkg/clirun"
	"github.com/mpm-dev/mpm/pkg/paths"
	"github.com/mpm-dev/mpm/pkg/version"
)

// CLI is mpmd's root command.
type CLI struct {
	Version kong.VersionFlag `help:"Print the version and exit."`

	Run      RunCmd      `cmd:"" default:"withargs" help:"Run mpmd in the foreground (the default)."`
	Start    StartCmd    `cmd:"" help:"Start mpmd in the background and print the dashboard URL."`
	Stop     StopCmd     `cmd:"" help:"Stop the running mpmd."`
	Status   StatusCmd   `cmd:"" help:"Say whether mpmd is running, where, and how it is doing."`
	Sessions SessionsCmd `cmd:"" help:"List Claude Code sessions (status, agents, tokens, cost), or show one."`
	Service  ServiceCmd  `cmd:"" help:"Run mpmd as a background service of yours (systemd user unit, launchd agent)."`

	AdminHash AdminHashCmd `cmd:"" name:"admin-hash" help:"Make a bcrypt hash of a password for --admin-password-hash (reads the password from standard input)."`
}

// ServeFlags are the flags shared by run and start.
type ServeFlags struct {
	Port           int             `help:"Port to listen on (0 picks a free one)." env:"SOCKETIO_PORT" default:"8765"`
	Host           string          `help:"Address to listen on." default:"127.0.0.1"`
	Token          string          `help:"Require this token from every client." env:"CLAUDE_MPM_SOCKETIO_TOKEN"`
	CORSOrigin     []string        `name:"cors-origin" help:"Browser origin allowed besides loopback ones (repeatable, comma-separated; * allows any)."`
	DB             string          `help:"Event store file, or :memory: for a store that lives only as long as mpmd." default:"${db}"`
	Insecure       bool            `help:"Allow listening on a non-loopback address without a token."`
	Open           bool            `help:"Open the dashboard in a browser once mpmd is up."`
	RetentionAge   time.Duration   `name:"retention-age" help:"Delete events older than this (0 keeps them)." default:"720h"`
	RetentionCount int64           `name:"retention-count" help:"Keep at most this many events (0: no limit)." default:"1000000"`
	Heartbeat      time.Duration   `help:"Interval of /system heartbeat events." default:"30s"`
	LogLevel       string          `name:"log-level" help:"debug, info, warn or error (CLAUDE_MPM_HOOK_DEBUG=true means debug)." default:"info" enum:"debug,info,warn,error"`
	MaxBacklog     int             `name:"max-backlog" help:"Packets that may wait for one slow client before it is dropped (it reconnects and resumes by seq)." default:"16384"`
	Pprof          string          `name:"pprof" help:"Serve Go's net/http/pprof profiles on this loopback address (e.g. 127.0.0.1:6060)." placeholder:"ADDR"`
	PingInterval   time.Duration   `name:"ping-interval" help:"How often mpmd pings each client; lower it below an idle timeout of a proxy in between." default:"20s"`
	PingTimeout    time.Duration   `name:"ping-timeout" help:"How long a client may take to answer a ping before mpmd closes its connection." default:"20s"`
	MaxPayload     int64           `name:"max-payload" help:"Largest message (websocket) or POST body (long-polling) a client may send, in bytes." default:"1048576"`
	ConnectTimeout time.Duration   `name:"connect-timeout" help:"How long a new connection may stay without joining a namespace before mpmd closes it." default:"45s"`
	Config         kong.ConfigFlag `name:"config" help:"Settings file: a JSON object of these flags by name, e.g. {\"ping-interval\": \"15s\"}; ${config} is read when present (flags and environment variables win over it)." placeholder:"FILE"`
	NoSpoolDrain   bool            `name:"no-spool-drain" help:"Do not deliver events that mpm-hook spooled while mpmd was down." hidden:""`
	ClaudeProjects []string        `name:"claude-projects" help:"Claude projects directory whose transcripts mpmd may read (repeatable; default ~/.claude/projects and $CLAUDE_CONFIG_DIR/projects)." placeholder:"DIR"`
	NoTranscripts  bool            `name:"no-transcripts" help:"Read no transcripts (no conversation text, thinking, tokens or cost)."`
	Pricing        string          `name:"pricing" help:"Prices to use over the built-in table (default: $XDG_CONFIG_HOME/mpm/pricing.json when it exists)." placeholder:"FILE"`
	Redis          string          `name:"redis" help:"Run as one node of a cluster: one ordered history in this Redis (redis://host:port/db), every node's store and clients complete (docs/SCALE.md)." placeholder:"URL" env:"MPMD_REDIS_URL"`
	RedisMaxLen    int64           `name:"redis-maxlen" help:"Entries the cluster log keeps in Redis (approximately; a node down longer than that misses the rest; -1: no trimming)." default:"250000"`
	RedisDedupTTL  time.Duration   `name:"redis-dedup-ttl" help:"How long Redis remembers an event_id to drop a repeat cluster-wide (each node's store drops repeats for good)." default:"24h"`
	NodeID         string          `name:"node-id" help:"This node's name in the cluster (default: host name and port)." placeholder:"NAME"`
	RedisAdminWait time.Duration   `name:"redis-admin-timeout" help:"How long the Admin UI's socket list waits for the other nodes' answers; a node that has not answered by then is left out (docs/ADMIN.md)." default:"500ms"`

	// The Socket.IO Admin UI at /admin/ (docs/ADMIN.md).
	AdminUser         string `name:"admin-user" help:"User name of the Socket.IO Admin UI at /admin/ (with --admin-password-hash)." placeholder:"NAME"`
	AdminPasswordHash string `name:"admin-password-hash" help:"bcrypt hash of the Admin UI's password (make one with mpmd admin-hash)." env:"MPM_ADMIN_PASSWORD_HASH" placeholder:"BCRYPT"`
	AdminReadonly     bool   `name:"admin-readonly" help:"The Admin UI may look but not act (no emit, join, leave or disconnect)."`
	AdminMode         string `name:"admin-mode" help:"development (live sockets, rooms and events) or production (statistics only)." default:"development" enum:"development,production"`
	NoAdmin           bool   `name:"no-admin" help:"Serve no Admin UI: /admin/ and the /admin namespace are gone."`
}

// Env is what commands use of the outside world; tests replace it.
type Env struct {
	Stdout io.Writer
	Stderr io.Writer
	Dirs   paths.Dirs
	Stdin  io.Reader // nil: the process's standard input
}

// Main parses args and runs the command, returning the process exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	dirs := paths.Resolve()
	var cli CLI
	parser, err := newParser(&cli, dirs, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "mpmd:", err)
		return 2
	}
	env := &Env{Stdout: stdout, Stderr: stderr, Dirs: dirs}
	return clirun.Run("mpmd", parser, args, stderr, nil, env)
}

// newParser is mpmd's command line over cli, with the settings file of dirs.
func newParser(cli *CLI, dirs paths.Dirs, stdout, stderr io.Writer) (*kong.Kong, error) {
	return kong.New(cli,
		kong.Name("mpmd"),
		kong.Description("mpmd: the event daemon that lets you watch Claude Code sessions live."),
		kong.Vars{"version": version.Version, "db": dirs.DB(), "config": dirs.ConfigFile()},
		kong.Configuration(loadConfig, dirs.ConfigFile()),
		kong.Writers(stdout, stderr),
		kong.UsageOnError(),
		clirun.Exit(),
	)
}
