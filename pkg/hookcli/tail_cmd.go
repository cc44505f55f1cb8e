package hookcli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/wire"
)

// TailCmd prints events as they happen.
type TailCmd struct {
	Namespace []string `short:"n" help:"Namespaces to follow (repeatable or comma-separated; default: all eight)."`
	Session   string   `short:"s" help:"Only this Claude Code session's events."`
	SinceSeq  int64    `name:"since-seq" help:"First replay every stored event after this seq (0: from the beginning; -1: live events only)." default:"-1"`
	JSON      bool     `help:"Print one JSON object per line: {namespace, event, data}."`
	Count     int      `help:"Exit after this many events (0: run until interrupted)."`
}

// Run follows the namespaces until interrupted (or Count events were
// printed). When mpmd goes away it reconnects and replays what it missed.
func (c *TailCmd) Run(cli *CLI, env *Env) error {
	nss, err := c.namespaces()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	p := &printer{env: env, json: c.JSON, limit: c.Count, done: cancel}
	var wg sync.WaitGroup
	errs := make(chan error, len(nss))
	for _, ns := range nss {
		wg.Go(func() {
			if err := c.follow(ctx, cli, env, ns, p); err != nil {
				errs <- err
				cancel()
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (c *TailCmd) namespaces() ([]string, error) {
	if len(c.Namespace) == 0 {
		return event.Namespaces, nil
	}
	var out []string
	for _, n := range c.Namespace {
		for _, p := range strings.Split(n, ",") {
			ns, err := event.NormalizeNamespace(strings.TrimSpace(p))
			if err != nil {
				return nil, err
			}
			out = append(out, ns)
		}
	}
	return out, nil
}

// follow keeps one namespace connected until ctx ends. Only a refused
// handshake (bad token) is an error; a daemon that goes away is waited for.
func (c *TailCmd) follow(ctx context.Context, cli *CLI, env *Env, ns string, p *printer) error {
	last := c.SinceSeq
	var mu sync.Mutex
	warned := false
	for ctx.Err() == nil {
		url, err := wire.Discover(ctx, cli.clientOptions(env))
		var conn *wire.Conn
		if err == nil {
			o := wire.DialOptions{Token: cli.Token, SessionID: c.Session, ConnectTimeout: 2 * time.Second, Retries: 1,
				OnEvent: func(name string, data map[string]any) {
					if seq, ok := wire.Int64(data["seq"]); ok {
						mu.Lock()
						last = max(last, seq)
						mu.Unlock()
					}
					p.print(ns, name, data)
				}}
			mu.Lock()
			if last >= 0 {
				o.SinceSeq = new(last)
			}
			mu.Unlock()
			conn, err = wire.Dial(ctx, url, ns, o)
		}
		if err != nil {
			if _, ok := err.(*wire.ConnectError); ok {
				return err
			}
			if !warned && ctx.Err() == nil {
				fmt.Fprintf(env.Stderr, "mpm-hook tail: %s: %v; retrying.\n", ns, trimDot(err))
				warned = true
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		warned = false
		select {
		case <-ctx.Done():
			conn.Close()
		case <-conn.Done():
			if ctx.Err() == nil {
				fmt.Fprintf(env.Stderr, "mpm-hook tail: %s: connection lost (%s); reconnecting.\n", ns, conn.Reason())
			}
		}
	}
	return nil
}

// printer writes events one line each, from several connections.
type printer struct {
	mu    sync.Mutex
	env   *Env
	json  bool
	limit int
	n     int
	done  func()
}

func (p *printer) print(ns, name string, data map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.limit > 0 && p.n >= p.limit {
		return
	}
	p.n++
	if p.json {
		b, _ := json.Marshal(map[string]any{"namespace": ns, "event": name, "data": data})
		fmt.Fprintf(p.env.Stdout, "%s\n", b)
	} else {
		fmt.Fprintln(p.env.Stdout, Line(ns, name, data))
	}
	if p.limit > 0 && p.n >= p.limit {
		p.done()
	}
}

// Line is the readable form of an event: time, seq, namespace and event, the
// session (short) and the fields that say what happened.
func Line(ns, name string, data map[string]any) string {
	var b strings.Builder
	ts, _ := data["timestamp"].(string)
	if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
		ts = t.Local().Format("15:04:05.000")
	}
	seq, _ := wire.Int64(data["seq"])
	fmt.Fprintf(&b, "%-12s %6d %s %s", ts, seq, ns, name)
	if sid, _ := data["session_id"].(string); sid != "" {
		if len(sid) > 8 {
			sid = sid[:8]
		}
		fmt.Fprintf(&b, " [%s]", sid)
	}
	for _, k := range []string{"tool_name", "agent_type", "subagent_type", "status", "source", "reason", "trigger", "notification_type", "message", "prompt", "error", "level"} {
		v, ok := data[k]
		if !ok || v == nil {
			continue
		}
		s, isStr := v.(string)
		if !isStr {
			bb, _ := json.Marshal(v)
			s = string(bb)
		}
		fmt.Fprintf(&b, " %s=%s", k, quoteIfSpace(short(oneLine(s), 80)))
	}
	if ti, ok := data["tool_input"].(map[string]any); ok {
		for _, k := range []string{"command", "file_path", "pattern", "description", "url"} {
			if s, ok := ti[k].(string); ok {
				fmt.Fprintf(&b, " %s=%s", k, quoteIfSpace(short(oneLine(s), 80)))
				break
			}
		}
	}
	return b.String()
}

func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func quoteIfSpace(s string) string {
	if strings.ContainsAny(s, " \"") {
		b, _ := json.Marshal(s)
		return string(b)
	}
	return s
}
