package hookcli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/relay"
	"github.com/mpm-dev/mpm/pkg/wire"
)

// EmitCmd emits one custom event.
type EmitCmd struct {
	Namespace string        `arg:"" help:"Namespace: system, session, claude, agent, hook, todo, memory or log (with or without the slash)."`
	Event     string        `arg:"" help:"Event name, e.g. updated."`
	Data      string        `help:"The event's data, a JSON object (default: read from stdin when it is not a terminal, else {})."`
	Timeout   time.Duration `help:"How long to wait for mpmd." default:"5s"`
	Quiet     bool          `short:"q" help:"Print nothing on success."`
}

// Run sends the event and waits for mpmd's ack.
func (c *EmitCmd) Run(cli *CLI, env *Env) error {
	ns, err := event.NormalizeNamespace(c.Namespace)
	if err != nil {
		return err
	}
	if err := event.ValidateName(c.Event); err != nil {
		return err
	}
	raw := []byte(c.Data)
	if c.Data == "" && !isTerminal(env.Stdin) {
		if raw, err = io.ReadAll(io.LimitReader(env.Stdin, 1<<20+1)); err != nil {
			return fmt.Errorf("read the data from stdin: %w", err)
		}
	}
	data := map[string]any{}
	if len(bytes.TrimSpace(raw)) > 0 {
		d := json.NewDecoder(bytes.NewReader(raw))
		d.UseNumber()
		if err := d.Decode(&data); err != nil || data == nil {
			return fmt.Errorf("the data must be one JSON object, like '{\"file\": \"CLAUDE.md\"}' (%v)", err)
		}
	}
	if _, ok := data["event_id"].(string); !ok {
		data["event_id"] = event.NewID()
	}
	if _, ok := data["timestamp"].(string); !ok {
		data["timestamp"] = event.FormatTime(env.Now())
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	url, err := wire.Discover(ctx, cli.clientOptions(env))
	if err != nil {
		return err
	}
	conn, err := wire.Dial(ctx, url, ns, wire.DialOptions{Token: cli.Token, Producer: true, ConnectTimeout: 2 * time.Second, Retries: 2})
	if err != nil {
		return err
	}
	defer conn.Close()
	ack, err := conn.Emit(ctx, c.Event, data)
	if err != nil {
		return err
	}
	if !c.Quiet {
		dup := ""
		if ack.Duplicate {
			dup = " (a repeat of an event mpmd already had)"
		}
		fmt.Fprintf(env.Stdout, "%s %s: seq %d, event_id %s%s\n", ns, c.Event, ack.Seq, ack.EventID, dup)
	}
	return nil
}

// isTerminal reports whether r is a terminal other than /dev/null.
func isTerminal(r io.Reader) bool { return relay.IsTerminal(r) }
