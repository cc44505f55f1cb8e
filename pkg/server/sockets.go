package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/session"
	"github.com/mpm-dev/mpm/pkg/store"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// connOpts is what a client asked for in its handshake.
type connOpts struct {
	since    int64 // replay events with seq > since; -1: no replay
	session  string
	producer bool
	backlog  *backlog     // of the client's connection; nil for producers
	joining  *wsTransport // holds the connection's next packet until the join is recorded (beginConnect)
}

// setupNamespaces creates the eight namespaces (and guards "/"), each with
// the auth middleware and its connection handler. Namespaces are only ever
// created here, from the fixed list: io.Of creates whatever it is given.
func (s *Server) setupNamespaces() {
	s.io.Use(s.handshake)
	_ = s.io.Sockets().On("connection", func(args ...any) {
		if sock, ok := args[0].(*socket.Socket); ok {
			joined(sock)
			s.admin.socketConnected(s.io.Sockets(), sock)
		}
	})
	for _, name := range event.Namespaces {
		nsp := s.io.Of(name, nil)
		nsp.Use(s.handshake)
		_ = nsp.On("connection", func(args ...any) {
			sock, ok := args[0].(*socket.Socket)
			if ok {
				s.onConnect(nsp, sock)
			}
		})
		s.nsps[name] = nsp
	}
}

// handshake authenticates a client and reads its options.
func (s *Server) handshake(sock *socket.Socket, next func(*socket.ExtendedError)) {
	hs := sock.Handshake()
	if s.cfg.Token != "" {
		tok := stringOf(hs.Auth["token"])
		if tok == "" {
			tok = queryValue(hs.Query, "token")
		}
		if tok == "" {
			tok = bearer(hs.Headers.Header().Get("Authorization"))
		}
		if tok == "" {
			next(refusal("authentication required: this mpmd needs a token; pass it as auth: {token: \"…\"} (the value of CLAUDE_MPM_SOCKETIO_TOKEN)", "token_required"))
			return
		}
		if !s.tokenOK(tok) {
			next(refusal("invalid authentication token: it does not match mpmd's CLAUDE_MPM_SOCKETIO_TOKEN", "invalid_token"))
			return
		}
	}
	opts := &connOpts{since: -1}
	since, present := hs.Auth["since_seq"]
	if !present {
		if q := queryValue(hs.Query, "since_seq"); q != "" {
			since, present = q, true
		}
	}
	if present && since != nil {
		n, err := parseSeq(since)
		if err != nil {
			next(refusal("invalid since_seq: "+err.Error(), "invalid_since_seq"))
			return
		}
		opts.since = n
	}
	opts.session = stringOf(hs.Auth["session_id"])
	if opts.session == "" {
		opts.session = queryValue(hs.Query, "session_id")
	}
	opts.producer = truthy(hs.Auth["producer"]) || truthy(queryValue(hs.Query, "producer"))
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
	if conn := sock.Conn(); conn != nil {
		if wt, ok := conn.Transport().(*wsTransport); ok {
			wt.beginConnect()
			opts.joining = wt
		}
	}
	sock.SetData(opts)
	next(nil)
}

// joined tells sock's transport that the library has recorded its join
// (the connection handler runs after that): the transport's reader may go
// on (wsTransport.beginConnect).
func joined(sock *socket.Socket) {
	if o, _ := sock.Data().(*connOpts); o != nil && o.joining != nil {
		o.joining.endConnect()
		o.joining = nil
	}
}

// refusal is a connect_error. Its data is never nil: the Go client rejects a
// connect_error whose data is null and reports a parse error instead.
func refusal(msg, code string) *socket.ExtendedError {
	return socket.NewExtendedError(msg, map[string]any{"code": code})
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

func queryValue(q map[string]any, key string) string {
	switch v := q[key].(type) {
	case string:
		return v
	case []string:
		if len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func bearer(h string) string {
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (s *Server) onConnect(nsp socket.Namespace, sock *socket.Socket) {
	joined(sock)
	s.admin.socketConnected(nsp, sock)
	opts, _ := sock.Data().(*connOpts)
	if opts == nil {
		opts = &connOpts{since: -1}
	}
	name := nsp.Name()

	// Anything a client emits is either a request (/system get_status,
	// get_history) or an event to ingest into this namespace.
	sock.OnAny(func(args ...any) { s.onClientEvent(name, sock, args) })

	if opts.producer {
		return
	}
	opts.backlog = s.watchBacklog(sock)
	join := func() {
		if err := s.attach(name, sock, opts); err != nil {
			s.log.Warn("replay failed; disconnecting the client so it retries", "namespace", name, "err", err)
			sock.Disconnect(true)
			return
		}
		// After the replay, so their seqs (reserved now) follow every replayed one.
		if name == "/system" {
			s.sendDirect(&direct{ns: name, name: "server_info", to: sock, payload: s.serverInfo})
			s.sendDirect(&direct{ns: name, name: "status", to: sock, payload: s.statusPayload})
		}
	}
	// Every consumer replays (from its since_seq, or from the head at its
	// handshake), and a replay may wait for the client (long-polling pace);
	// the library runs this handler inside the request that carried the
	// CONNECT, which must not wait for the client's next poll.
	go join()
}

const replayChunk = 500

// attach joins sock to the live stream of its namespace, first replaying
// stored events after opts.since when asked. It catches up in chunks without
// blocking the pipeline, then takes bmu for the last few events and the join,
// so no event falls between replay and live and none is sent twice.
func (s *Server) attach(ns string, sock *socket.Socket, opts *connOpts) error {
	rooms := []socket.Room{roomLive, roomAll}
	if opts.session != "" {
		rooms = []socket.Room{roomLive, sessionRoom(opts.session)}
	}
	if opts.since < 0 {
		sock.Join(rooms...)
		return nil
	}
	ctx := context.Background()
	f := store.Filter{Namespace: ns, SessionID: opts.session, SinceSeq: opts.since, Limit: replayChunk}
	pace := newPacer(sock, s.replayWindow())
	defer pace.stop()
	send := func(e *event.Event) error {
		if !sock.Connected() {
			return errClientGone
		}
		f.SinceSeq = e.Seq
		pace.queue()
		return sock.Emit(e.Name, e.Payload())
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
	pace.flush()
	s.bmu.Lock()
	defer s.bmu.Unlock()
	f.Limit = 0
	pace = nil // never wait while holding bmu
	if err := s.store.Each(ctx, f, send); err != nil && !errors.Is(err, errClientGone) {
		return err
	}
	sock.Join(rooms...)
	return nil
}

// pollBatch is how many replayed events may wait for one HTTP long-polling
// response. Some clients refuse a response of more than 16 packets
// (python-engineio), and the Socket.IO library sends everything buffered in
// one response; a flush can split a batch, so two batches plus a CONNECT
// must stay under 16.
const pollBatch = 7

// replayWindow is how many messages a websocket replay lets wait in the
// client's queue (mpmd's transport, wstransport.go) before it waits for the
// client to read: a quarter of the backlog limit, at most 1,024 (a few
// hundred KB; the writer takes the whole queue per write).
func (s *Server) replayWindow() int {
	return max(1, min(1024, s.cfg.MaxBacklog/4))
}

// replayPatience is how long a replay waits for a websocket client to read
// before it checks that the client is still there.
const replayPatience = 200 * time.Millisecond

// pacer keeps a replay at the client's pace.
//
// Over websocket it waits while window messages wait in the client's queue
// (wsTransport.waitBelow): a replay of many thousand events to a client that
// reads slowly — a dashboard catching up under a flood — would otherwise
// fill the queue past the backlog limit at once, and the next live event of
// another namespace would drop the client, which then reconnects and
// replays again.
//
// Over long-polling (until the client upgrades; from then on as over
// websocket) it keeps within pollBatch events a poll by waiting for the
// buffered events to be flushed before queueing more. A flush sends
// everything buffered, so after any flush nothing queued before it is
// waiting. Counting an event as pending before it is queued means a flush
// can only under-count (by the one being queued), never leave the pacer
// waiting for a flush that will not come.
//
// A nil pacer does nothing.
type pacer struct {
	sock   *socket.Socket
	ws     *wsTransport
	window int

	mu      sync.Mutex
	pending int
	changed chan struct{}
	active  atomic.Bool
}

func newPacer(sock *socket.Socket, window int) *pacer {
	conn := sock.Conn()
	if conn == nil || conn.Transport() == nil {
		return nil
	}
	p := &pacer{sock: sock, window: window}
	if wt, ok := conn.Transport().(*wsTransport); ok {
		p.ws = wt
		return p
	}
	if conn.Transport().Name() != "polling" {
		return nil
	}
	p.changed = make(chan struct{}, 1)
	p.active.Store(true)
	_ = conn.On("flush", func(...any) {
		if !p.active.Load() {
			return
		}
		p.mu.Lock()
		p.pending = 0
		p.mu.Unlock()
		select {
		case p.changed <- struct{}{}:
		default:
		}
	})
	return p
}

// queue counts an event about to be emitted, waiting first if the client
// has enough to read (websocket) or a batch is already waiting for the
// client's next poll (long-polling).
func (p *pacer) queue() {
	if p == nil {
		return
	}
	if p.ws == nil {
		// A long-polling client that upgraded meanwhile: its packets now
		// go to the websocket's queue, and every engine flush empties the
		// polling count at once.
		if wt, ok := p.sock.Conn().Transport().(*wsTransport); ok {
			p.ws = wt
		}
	}
	if p.ws != nil {
		for !p.ws.waitBelow(p.window, replayPatience) && p.sock.Connected() {
		}
		return
	}
	p.mu.Lock()
	full := p.pending >= pollBatch
	p.mu.Unlock()
	if full {
		p.flush()
	}
	p.mu.Lock()
	p.pending++
	p.mu.Unlock()
}

// flush waits until nothing queued is waiting (or a few seconds passed: a
// client that stopped polling is the ping timeout's business).
func (p *pacer) flush() {
	if p == nil {
		return
	}
	timeout := time.After(5 * time.Second)
	for {
		p.mu.Lock()
		n := p.pending
		p.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-p.changed:
		case <-timeout:
			return
		}
	}
}

func (p *pacer) stop() {
	if p != nil {
		p.active.Store(false)
	}
}

var errClientGone = errors.New("client disconnected")

type ackFunc = func([]any, error)

func (s *Server) onClientEvent(ns string, sock *socket.Socket, args []any) {
	if len(args) == 0 {
		return
	}
	name, _ := args[0].(string)
	args = args[1:]
	var ack ackFunc
	if n := len(args); n > 0 {
		if fn, ok := args[n-1].(ackFunc); ok {
			ack = fn
			args = args[:n-1]
		}
	}
	reply := func(v any) {
		if ack != nil {
			ack([]any{v}, nil)
		}
	}
	if ns == "/system" {
		switch name {
		case "get_status":
			// The ack carries the very object the status event does.
			s.sendDirect(&direct{ns: ns, name: "status", to: sock, payload: s.statusPayload, ack: reply})
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
	case float64:
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
