package admin

import (
	"sync"
	"time"
)

// action runs one message an admin socket sent: emit, join, leave or
// _disconnect (ClientEvents in typed-events.ts). In readonly mode, and for
// any other message or arguments of the wrong types, nothing happens; an
// ack function, if the client asked for one, is not part of the arguments.
//
//	emit        (nsp, filter?, ev, ...args)
//	join        (nsp, room, filter?)
//	leave       (nsp, room, filter?)
//	_disconnect (nsp, close, filter?)
//
// filter is a room name or a socket id; without it the action applies to
// every socket of the namespace.
func (s *Server) action(args []any) {
	if s.cfg.Readonly || len(args) == 0 {
		return
	}
	if n := len(args); n > 1 {
		if _, ok := args[n-1].(func([]any, error)); ok {
			args = args[:n-1]
		}
	}
	name, _ := args[0].(string)
	args = args[1:]
	arg := func(i int) any {
		if i < len(args) {
			return args[i]
		}
		return nil
	}
	nsp, ok := arg(0).(string)
	if !ok || nsp == "" {
		return
	}
	switch name {
	case "emit":
		filter, ok := optString(arg(1))
		ev, isStr := arg(2).(string)
		if !ok || !isStr || ev == "" {
			return
		}
		var rest []any
		if len(args) > 3 {
			rest = append(rest, args[3:]...)
		}
		_ = s.host.Emit(nsp, filter, ev, rest)
	case "join", "leave":
		room, isStr := arg(1).(string)
		filter, ok := optString(arg(2))
		if !isStr || room == "" || !ok {
			return
		}
		if name == "join" {
			_ = s.host.Join(nsp, room, filter)
		} else {
			_ = s.host.Leave(nsp, room, filter)
		}
	case "_disconnect":
		closeConn, isBool := arg(1).(bool)
		filter, ok := optString(arg(2))
		if !isBool || !ok {
			return
		}
		_ = s.host.Disconnect(nsp, closeConn, filter)
	}
}

// optString reads an optional string argument (absent, null or undefined
// is ""); anything else is refused.
func optString(v any) (string, bool) {
	switch t := v.(type) {
	case nil:
		return "", true
	case string:
		return t, true
	}
	return "", false
}

// eventBuffer gathers the aggregated events (counts per second, type and
// subtype) between two server_stats, as the reference's EventBuffer.
type eventBuffer struct {
	mu  sync.Mutex
	m   map[aggKey]int
	ord []aggKey
}

type aggKey struct {
	ts           int64 // Unix milliseconds, at the second
	typ, subType string
}

// maxAggregates bounds the buffer should server_stats stop being taken.
const maxAggregates = 10000

func (b *eventBuffer) push(typ, subType string, count int, t time.Time) {
	if t.IsZero() {
		t = time.Now()
	}
	if count == 0 {
		count = 1
	}
	k := aggKey{ts: t.Truncate(time.Second).UnixMilli(), typ: typ, subType: subType}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[aggKey]int{}
	}
	if _, ok := b.m[k]; !ok {
		if len(b.ord) >= maxAggregates {
			return
		}
		b.ord = append(b.ord, k)
	}
	b.m[k] += count
}

func (b *eventBuffer) take() []any {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]any, 0, len(b.ord))
	for _, k := range b.ord {
		e := map[string]any{"timestamp": k.ts, "type": k.typ, "count": b.m[k]}
		if k.subType != "" {
			e["subType"] = k.subType
		}
		out = append(out, e)
	}
	b.m, b.ord = nil, nil
	return out
}
