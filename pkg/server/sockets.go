package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mpm-dev/mpm/pkg/broadcast"
	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/session"
	"github.com/mpm-dev/mpm/pkg/store"
)

// connOpts is what a client asked for in its handshake (the Conn's data).
type connOpts struct {
	since    int64 // replay events with seq > since; -1: no replay
	session  string
	producer bool
}

// optsOf is c's handshake options.
func optsOf(c broadcast.Conn) *connOpts {
	if o, _ := c.Data().(*connOpts); o != nil {
		return o
	}
	return &connOpts{since: -1}
}

// setupNamespaces serves the eight namespaces (and guards "/"), each with
// the auth handshake and its connection handler. Namespaces are only ever
// created here, from the fixed list.
func (s *Server) setupNamespaces() {
	s.hub.Handle("/", s.handshake, nil)
	for _, name := range event.Namespaces {
		s.hub.Handle(name, s.handshake, s.onConnect)
	}
}

// handshake authenticates a client and reads its options.
func (s *Server) handshake(c broadcast.Conn) error {
	hs := c.Handshake()
	if s.cfg.Token != "" {
		tok := stringOf(hs.Auth["token"])
		if tok == "" {
			tok = hs.QueryValue("token")
		}
		if tok == "" {
			tok = bearer(hs.Header().Get("Authorization"))
		}
		if tok == "" {
			return broadcast.Refuse("authentication required: this mpmd needs a token; pass it as auth: {token: \"…\"} (the value of CLAUDE_MPM_SOCKETIO_TOKEN)", "token_required")
		}
		if !s.tokenOK(tok) {
			return broadcast.Refuse("invalid authentication token: it does not match mpmd's CLAUDE_MPM_SOCKETIO_TOKEN", "invalid_token")
		}
	}
	opts := &connOpts{since: -1}
	since, present := hs.Auth["since_seq"]
	if !present {
		if q := hs.QueryValue("since_seq"); q != "" {
			since, present = q, true
		}
	}
	if present && since != nil {
		n, err := parseSeq(since)
		if err != nil {
			return broadcast.Refuse("invalid since_seq: "+err.Error(), "invalid_since_seq")
		}
		opts.since = n
	}
	opts.session = stringOf(hs.Auth["session_id"])
	if opts.session == "" {
		opts.session = hs.QueryValue("session_id")
	}
	opts.producer = truthy(hs.Auth["producer"]) || truthy(hs.QueryValue("producer"))
	if opts.since < 0 && !opts.producer {
		// "Live from now" means from before the client learns it is
		// connected: the library sends the CONNECT before the connection
		// handler can join the rooms, and a client that emits (or makes
		// someone emit) at once must not miss the result. So the client
		// replays from the head as it is now. Read under bmu: no batch is
		// then between its commit and its broadcast.
		s.bmu.Lock()
		opts.since = s.store.LastSeq()
		s.bmu.Unlock()
	}
	c.SetData(opts)
	return nil
}

func parseSeq(v any) (int64, error) {
	switch n := v.(type) {
	case float64:
		if n < 0 || n != math.Trunc(n) || n > 1<<53 {
			return 0, fmt.Errorf("%v is not a non-negative integer", n)
		}
		return int64(n), nil
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		if err != nil || i < 0 {
			return 0, fmt.Errorf("%q is not a non-negative integer", n)
		}
		return i, nil
	case int:
		return int64(n), nil
	case int64:
		return n, nil
	}
	return 0, fmt.Errorf("%v is not a non-negative integer", v)
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

func truthy(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return b == "1" || b == "true"
	}
	return false
}

func bearer(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (s *Server) onConnect(c broadcast.Conn) {
	opts := optsOf(c)
	name := c.Namespace()

	// Anything a client emits is either a request (/system get_status,
	// get_history) or an event to ingest into this namespace.
	c.OnAny(func(ev string, args []any, ack broadcast.Ack) { s.onClientEvent(name, c, ev, args, ack) })

	if opts.producer {
		return
	}
	c.LimitBacklog()
	join := func() {
		if err := s.attach(name, c, opts); err != nil {
			s.log.Warn("replay failed; disconnecting the client so it retries", "namespace", name, "err", err)
			c.Disconnect(true)
			return
		}
		// After the replay, so their seqs (reserved now) follow every replayed one.
		if name == "/system" {
			s.sendDirect(&direct{ns: name, name: "server_info", to: c, payload: s.serverInfo})
			s.sendDirect(&direct{ns: name, name: "status", to: c, payload: s.statusPayload})
		}
	}
	// Every consumer replays (from its since_seq, or from the head at its
	// handshake), and a replay may wait for the client (long-polling pace);
	// the library runs this handler inside the request that carried the
	// CONNECT, which must not wait for the client's next poll.
	go join()
}

const replayChunk = 500

// attach joins c to the live stream of its namespace, first replaying
// stored events after opts.since when asked. It catches up in chunks without
// blocking the pipeline, then takes bmu for the last few events and the join,
// so no event falls between replay and live and none is sent twice.
func (s *Server) attach(ns string, c broadcast.Conn, opts *connOpts) error {
	rooms := []string{roomLive, roomAll}
	if opts.session != "" {
		rooms = []string{roomLive, sessionRoom(opts.session)}
	}
	if opts.since < 0 {
		c.Join(rooms...)
		return nil
	}
	ctx := context.Background()
	f := store.Filter{Namespace: ns, SessionID: opts.session, SinceSeq: opts.since, Limit: replayChunk}
	pace := c.Pacer()
	defer pace.Stop()
	send := func(e *event.Event) error {
		if !c.Connected() {
			return errClientGone
		}
		f.SinceSeq = e.Seq
		pace.Queue()
		return c.Emit(e.Name, e.Payload())
	}
	for {
		n := 0
		err := s.store.Each(ctx, f, func(e *event.Event) error { n++; return send(e) })
		if errors.Is(err, errClientGone) {
			return nil
		}
		if err != nil {
			return err
		}
		if n < replayChunk {
			break
		}
	}
	pace.Flush()
	s.bmu.Lock()
	defer s.bmu.Unlock()
	f.Limit = 0
	pace = nil // never wait while holding bmu
	if err := s.store.Each(ctx, f, send); err != nil && !errors.Is(err, errClientGone) {
		return err
	}
	c.Join(rooms...)
	return nil
}

var errClientGone = errors.New("client disconnected")

func (s *Server) onClientEvent(ns string, c broadcast.Conn, name string, args []any, ack broadcast.Ack) {
	reply := func(v any) {
		if ack != nil {
			ack(v)
		}
	}
	if ns == "/system" {
		switch name {
		case "get_status":
			// The ack carries the very object the status event does.
			s.sendDirect(&direct{ns: ns, name: "status", to: c, payload: s.statusPayload, ack: reply})
			return
		case "get_history":
			var q map[string]any
			if len(args) > 0 {
				q, _ = args[0].(map[string]any)
			}
			evs, err := s.history(q)
			if err != nil {
				reply(map[string]any{"error": err.Error()})
				return
			}
			reply(map[string]any{"events": evs})
			return
		}
	}
	var data map[string]any
	switch {
	case len(args) == 0:
		data = map[string]any{}
	case len(args) == 1:
		d, ok := args[0].(map[string]any)
		if !ok {
			reply(errorBody(&InputError{fmt.Errorf("event data must be one JSON object, got %s", jsonType(args[0]))}))
			return
		}
		data = d
	default:
		reply(errorBody(&InputError{errors.New("send one JSON object as the event's only argument")}))
		return
	}
	// not waiting here: the library runs this on the connection's reader
	s.ingestAsync(&event.Event{Namespace: ns, Name: name, Data: data}, func(res Result, err error) {
		if err != nil {
			reply(errorBody(err))
			return
		}
		reply(res)
	})
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

// history answers get_history with stored events.
func (s *Server) history(q map[string]any) ([]map[string]any, error) {
	vals := map[string][]string{}
	for k, v := range q {
		switch t := v.(type) {
		case string:
			vals[k] = []string{t}
		case float64:
			vals[k] = []string{strconv.FormatFloat(t, 'f', -1, 64)}
		case bool:
			vals[k] = []string{strconv.FormatBool(t)}
		}
	}
	f, err := parseFilter(vals)
	if err != nil {
		return nil, err
	}
	if f.Limit == 0 || f.Limit > maxJSONLimit {
		f.Limit = defaultLimit
	}
	out := []map[string]any{}
	err = s.store.Each(context.Background(), f, func(e *event.Event) error {
		out = append(out, storedJSON(e))
		return nil
	})
	if f.Desc {
		reverse(out)
	}
	return out, err
}

func reverse[T any](s []T) {
	for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
		s[i], s[j] = s[j], s[i]
	}
}

// storedJSON is an event as the history API shows it.
func storedJSON(e *event.Event) map[string]any {
	return map[string]any{
		"seq":        e.Seq,
		"event_id":   e.ID,
		"namespace":  e.Namespace,
		"event":      e.Name,
		"timestamp":  event.FormatTime(e.Time),
		"session_id": e.SessionID,
		"data":       e.Payload(),
	}
}

func (s *Server) serverInfo() map[string]any {
	wd, _ := os.Getwd()
	return map[string]any{
		"server":         serverName,
		"version":        s.cfg.Version,
		"host":           s.cfg.Host,
		"port":           s.cfg.Port,
		"pid":            os.Getpid(),
		"started":        event.FormatTime(s.started),
		"working_dir":    wd,
		"namespaces":     event.Namespaces,
		"token_required": s.cfg.Token != "",
		"store":          s.store.Path(),
	}
}

// statusPayload is the guide's /system status, about the most recently
// active Claude Code session, plus every session that has not ended.
func (s *Server) statusPayload() map[string]any {
	wd, _ := os.Getwd()
	live := []map[string]any{}
	for _, sess := range s.sessions.List() {
		if sess.Status == session.StatusEnded {
			continue
		}
		m := map[string]any{
			"session_id": sess.ID,
			"status":     string(sess.Status),
			"start":      event.FormatTime(sess.StartedAt),
			"last_seen":  event.FormatTime(sess.LastActivity),
			"title":      sess.Title,
		}
		if sess.PID > 0 {
			m["claude_pid"] = sess.PID
		}
		live = append(live, m)
	}
	p := map[string]any{
		"session_id":    nil,
		"session_start": nil,
		"claude_status": "no_session",
		"claude_pid":    nil,
		"server_info": map[string]any{
			"host":        s.cfg.Host,
			"port":        s.cfg.Port,
			"working_dir": wd,
			"timestamp":   event.FormatTime(time.Now()),
		},
		"sessions":       live,
		"clients":        s.Clients(),
		"stored_events":  s.store.Count(),
		"last_seq":       s.store.LastSeq(),
		"uptime_seconds": time.Since(s.started).Seconds(),
	}
	if sess, ok := s.sessions.Latest(); ok {
		p["session_id"] = sess.ID
		p["session_start"] = event.FormatTime(sess.StartedAt)
		p["claude_status"] = string(sess.Status)
		if sess.PID > 0 {
			p["claude_pid"] = sess.PID
		}
	}
	return p
}

func (s *Server) heartbeat() map[string]any {
	return map[string]any{
		"server":         serverName,
		"uptime_seconds": time.Since(s.started).Seconds(),
		"clients":        s.Clients(),
		"stored_events":  s.store.Count(),
		"status":         s.healthStatus(),
	}
}
