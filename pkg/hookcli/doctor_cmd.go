package hookcli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mpm-dev/mpm/pkg/settings"
	"github.com/mpm-dev/mpm/pkg/spool"
	"github.com/mpm-dev/mpm/pkg/wire"
)

// DoctorCmd checks the whole chain from Claude Code to mpmd.
type DoctorCmd struct {
	Timeout time.Duration `help:"How long to wait for mpmd." default:"3s"`
}

// Run prints one sentence per finding and fails when something is wrong.
func (c *DoctorCmd) Run(cli *CLI, env *Env) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	out := env.Stdout
	problems := 0
	say := func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	bad := func(format string, args ...any) { problems++; say("✗ "+format, args...) }
	good := func(format string, args ...any) { say("✓ "+format, args...) }

	// The daemon and the token.
	opts := cli.clientOptions(env)
	opts.HealthTimeout = c.Timeout
	url, h, err := wire.DiscoverHealth(ctx, opts)
	if err != nil {
		bad("mpmd is not reachable: %v.", trimDot(err))
	} else {
		good("mpmd is running at %s (version %s, pid %d).", url, h.Version, h.PID)
		conn, err := wire.Dial(ctx, url, "/system", wire.DialOptions{Token: cli.Token, Producer: true, ConnectTimeout: c.Timeout / 3, Retries: 2})
		var ce *wire.ConnectError
		switch {
		case errors.As(err, &ce) && cli.Token == "":
			bad("mpmd requires a token (%s); set CLAUDE_MPM_SOCKETIO_TOKEN to the token mpmd was started with.", ce.Msg)
		case errors.As(err, &ce):
			bad("mpmd refused the token from CLAUDE_MPM_SOCKETIO_TOKEN/--token (%s); set it to the token mpmd was started with.", ce.Msg)
		case err != nil:
			bad("Connecting to mpmd over Socket.IO failed: %v.", trimDot(err))
		case cli.Token == "":
			conn.Close()
			good("mpmd accepts connections without a token.")
		default:
			conn.Close()
			good("mpmd accepts the token.")
		}
	}

	// The hooks, per scope, and registrations in more than one.
	byEvent := map[string][]settings.Scope{}
	anywhere := false
	var pluginIn []settings.Scope
	for _, sc := range settings.Scopes {
		path, _ := settings.Path(sc, env.Home, env.Cwd)
		f, err := settings.Load(path)
		if err != nil {
			bad("%s settings (%s) cannot be read: %v. Claude Code ignores a broken file; fix it.", sc, path, trimDot(err))
			continue
		}
		if ids := f.EnabledPlugin(); len(ids) > 0 {
			pluginIn = append(pluginIn, sc)
			good("%s settings (%s) enable the %s Claude Code plugin (%s): its hooks/hooks.json runs mpm-hook.", sc, path, settings.PluginName, strings.Join(ids, ", "))
		}
		inst := f.Installed()
		if len(inst) == 0 {
			if f.Exists {
				say("· %s settings (%s): mpm-hook is not installed.", sc, path)
			} else {
				say("· %s settings (%s): no such file.", sc, path)
			}
			continue
		}
		anywhere = true
		events := make([]string, 0, len(inst))
		for ev, cmds := range inst {
			events = append(events, ev)
			byEvent[ev] = append(byEvent[ev], sc)
			if len(cmds) > 1 {
				bad("%s settings register mpm-hook %d times for %s; every %s event reaches mpmd %d times. Run `mpm-hook install --scope %s` to keep one.", sc, len(cmds), ev, ev, len(cmds), sc)
			}
			for _, cmd := range cmds {
				if msg := commandProblem(cmd); msg != "" {
					bad("%s settings run %q for %s, but %s.", sc, cmd, ev, msg)
				}
			}
			if e, ok := settings.LookupEvent(ev); ok && e.Registration == settings.Never {
				bad("%s settings register mpm-hook for %s, but %s. Run `mpm-hook install --scope %s` (it takes it out) or `mpm-hook uninstall --scope %s --events %s`.", sc, ev, e.Why, sc, sc, ev)
			}
		}
		sort.Strings(events)
		var missing []string
		for _, ev := range settings.DefaultEvents {
			if !slices.Contains(events, ev) {
				missing = append(missing, ev)
			}
		}
		good("%s settings (%s): mpm-hook is installed for %d hook events.", sc, path, len(events))
		if len(missing) > 0 {
			say("· %d recommended events are not registered there: %s (the dashboard misses these; `mpm-hook install --scope %s` adds them).", len(missing), strings.Join(missing, ", "), sc)
		}
	}
	switch {
	case !anywhere && len(pluginIn) == 0:
		bad("mpm-hook is not installed in any settings file; run `mpm-hook install` (user scope) or `mpm-hook install --scope project`, or load this repository as a Claude Code plugin (`claude --plugin-dir PATH`).")
	case anywhere && len(pluginIn) > 0:
		bad("mpm-hook is registered in settings files and by the %s plugin (enabled in %s settings): Claude Code runs both, so every event reaches mpmd twice. Keep one: `mpm-hook uninstall --scope …`, or disable the plugin (`claude plugin disable %s`).", settings.PluginName, joinScopes(pluginIn), settings.PluginName)
	}
	var dups []string
	for ev, scopes := range byEvent {
		if len(scopes) > 1 {
			dups = append(dups, fmt.Sprintf("%s (%s)", ev, joinScopes(scopes)))
		}
	}
	sort.Strings(dups)
	if len(dups) > 0 {
		bad("mpm-hook is registered in more than one scope for %s: Claude Code runs each, so those events reach mpmd more than once. Uninstall it from all but one scope (`mpm-hook uninstall --scope …`).", strings.Join(dups, ", "))
	}

	// The spool.
	if s, err := spool.Open(env.Dirs.Spool()); err != nil {
		bad("The spool directory cannot be used: %v.", trimDot(err))
	} else if n, err := s.Len(); err != nil {
		bad("The spool cannot be read: %v.", trimDot(err))
	} else if n == 0 {
		good("No events are waiting in the spool (%s).", s.Dir())
	} else {
		say("· %d events are waiting in the spool (%s); mpmd delivers them when it starts, and so does the next hook that reaches it.", n, s.Dir())
	}

	if problems > 0 {
		noun := "problems"
		if problems == 1 {
			noun = "problem"
		}
		return &ExitError{Code: 1, Err: fmt.Errorf("%d %s found; see above", problems, noun)}
	}
	say("Everything looks fine.")
	return nil
}

func joinScopes(s []settings.Scope) string {
	parts := make([]string, len(s))
	for i, x := range s {
		parts[i] = string(x)
	}
	return strings.Join(parts, ", ")
}

func trimDot(err error) string { return strings.TrimRight(err.Error(), ".") }

// commandProblem says why a registered command would not run, or "".
func commandProblem(cmd string) string {
	prog := strings.Fields(cmd)
	if len(prog) == 0 {
		return "it is empty"
	}
	p := strings.Trim(prog[0], `"'`)
	if strings.Contains(p, "$") {
		return "" // expanded by the shell at run time
	}
	if strings.HasPrefix(p, "~/") {
		home, _ := os.UserHomeDir()
		p = filepath.Join(home, p[2:])
	}
	if strings.Contains(p, "/") {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return p + " is not an executable file"
		}
		return ""
	}
	if _, err := exec.LookPath(p); err != nil {
		return p + " is not on PATH (Claude Code runs hooks with its own PATH; register an absolute path with --command)"
	}
	return ""
}
