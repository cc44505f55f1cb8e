package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpm-dev/mpm/pkg/admin"
	"github.com/redis/go-redis/v9"
)

// The cluster's Admin UI (docs/ADMIN.md, "In a cluster"): each node's
// AdminHost wraps its local admin.Host and talks to the other nodes over
// Redis pub/sub on the log's connection — one channel every node listens
// to (<prefix>admin:all) and one per node for the answers it waits for
// (<prefix>admin:to:<node id>). Every message is one JSON object (adminMsg)
// of protocol version adminVersion:
//
//	hb     every adminBeat: node id, instance, whether an Admin UI watches
//	       there, whether it is readonly; hello asks the others for theirs
//	bye    the node stops
//	req    a socket list wanted: each live node answers res on the asker's
//	       channel with its own sockets
//	ev     a batch of this node's live-feed events (development mode), sent
//	       while an Admin UI of another node watches
//	stats  this node's server_stats, idem
//	act    an action of a (non-readonly) node's Admin UI, applied by every
//	       other node to its own sockets
//
// A node publishes only what happened on it, and applies or shows what it
// receives without publishing it again: no loops. What a foreign or older
// node, or anyone else with access to Redis, puts on the channels that mpmd
// cannot read is dropped with a log line.

// Defaults of the cluster's Admin UI.
const (
	// DefaultAdminTimeout bounds how long a socket list waits for the
	// other nodes' answers.
	DefaultAdminTimeout = 500 * time.Millisecond
	adminVersion        = 1
	adminBeat           = time.Second
	adminAlive          = 3*adminBeat + adminBeat/2 // a node not heard from for this long is gone
	adminMaxSockets     = 5000                      // of one node in a socket list
	adminMaxBatch       = 256                       // live-feed events in one message
	adminFlush          = 20 * time.Millisecond     // a batch waits at most this long
	adminQueue          = 8192                      // live-feed events waiting to be published
	adminMaxMessage     = 32 << 20                  // bytes of one message read
	adminAnswering      = 4                         // socket lists being answered at once
	adminLogEvery       = 10 * time.Second          // one log line per kind of rejected message
	adminMaxPeers       = 256                       // nodes one node keeps track of
)

// AdminConfig is how a node takes part in the cluster's Admin UI.
type AdminConfig struct {
	// Readonly: this node's Admin UI may not act, so the node publishes no
	// action, and the other nodes refuse one that claims to come from it.
	Readonly bool
	// Feed shares the live feed of sockets, rooms and events (the Admin
	// UI's development mode); server_stats is shared either way.
	Feed bool
	// Timeout of a socket list (0: DefaultAdminTimeout; mpmd run
	// --redis-admin-timeout).
	Timeout time.Duration
}

// AdminHost is the Admin UI's view of every node of the cluster: an
// admin.ClusterHost on this node's own Host. Make it with Log.AdminHost,
// start it with Wrap, stop it with Close (before Log.Close).
type AdminHost struct {
	l      *Log
	cfg    AdminConfig
	log    *slog.Logger
	node   string
	inst   string
	chAll  string
	chMe   string
	local  admin.Host
	cancel context.CancelFunc
	wg     sync.WaitGroup

	evq     chan admin.Event // this node's live feed, to publish
	outq    chan []byte      // other messages for chAll (stats)
	beat    chan struct{}    // publish a heartbeat now
	notify  chan struct{}    // tell the Server whether a remote Admin UI watches
	answers chan struct{}    // bounds the socket lists being answered
	dropped atomic.Int64     // live-feed events dropped (queue full)

	mu       sync.Mutex
	started  bool
	closed   bool
	peers    map[string]*adminPeer
	subs     map[int]func(admin.Event)
	nextSub  int
	pending  map[string]*socketsReq
	remoteFn func(bool)
	remote   bool   // a live peer has an Admin UI watching
	told     bool   // what remoteFn was last told
	feedOff  func() // the local subscription that publishes the feed, while remote
	rejected map[string]time.Time
	twin     bool // another process claims this node id
}

type adminPeer struct {
	inst     string
	seen     time.Time
	watching bool
	readonly bool
}

type socketsReq struct {
	want map[string]bool
	got  map[string][]admin.SocketInfo
	done chan struct{}
}

// adminMsg is every message on the admin channels.
type adminMsg struct {
	V        int                `json:"v"`
	T        string             `json:"t"`
	Node     string             `json:"n"`
	Inst     string             `json:"i,omitempty"`
	Hello    bool               `json:"hello,omitempty"`
	Watching bool               `json:"w,omitempty"`
	Readonly bool               `json:"ro,omitempty"`
	ID       string             `json:"id,omitempty"`
	Sockets  []admin.SocketInfo `json:"s,omitempty"`
	Cut      int                `json:"cut,omitempty"` // sockets left out of s (adminMaxSockets)
	Events   []wireEvent        `json:"e,omitempty"`
	Stats    map[string]any     `json:"st,omitempty"`
	Act      *wireAct           `json:"a,omitempty"`
}

type wireEvent struct {
	Kind      admin.Kind        `json:"k"`
	Time      int64             `json:"ts"` // Unix milliseconds
	Nsp       string            `json:"nsp"`
	SocketID  string            `json:"sid,omitempty"`
	Socket    *admin.SocketInfo `json:"sock,omitempty"`
	Transport string            `json:"tr,omitempty"`
	Reason    string            `json:"r,omitempty"`
	Room      string            `json:"room,omitempty"`
	Args      []any             `json:"args,omitempty"`
}

type wireAct struct {
	Op     string `json:"op"` // emit, join, leave, disconnect
	Nsp    string `json:"nsp"`
	Room   string `json:"room,omitempty"`   // emit: the filter; join, leave: the room
	Filter string `json:"filter,omitempty"` // join, leave, disconnect
	Event  string `json:"ev,omitempty"`
	Args   []any  `json:"args,omitempty"`
	Close  bool   `json:"close,omitempty"`
}

// AdminHost makes this node's side of the cluster's Admin UI.
func (l *Log) AdminHost(cfg AdminConfig) *AdminHost {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultAdminTimeout
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &AdminHost{
		l:        l,
		cfg:      cfg,
		log:      l.log.With("part", "admin"),
		node:     l.cfg.NodeID,
		inst:     hex.EncodeToString(b),
		chAll:    l.cfg.Prefix + "admin:all",
		chMe:     l.cfg.Prefix + "admin:to:" + l.cfg.NodeID,
		evq:      make(chan admin.Event, adminQueue),
		outq:     make(chan []byte, 16),
		beat:     make(chan struct{}, 1),
		notify:   make(chan struct{}, 1),
		answers:  make(chan struct{}, adminAnswering),
		peers:    map[string]*adminPeer{},
		subs:     map[int]func(admin.Event){},
		pending:  map[string]*socketsReq{},
		rejected: map[string]time.Time{},
	}
}

// Wrap starts the AdminHost on local, this node's Host, and returns it as
// the Host the admin protocol is to use. Call it once.
func (h *AdminHost) Wrap(local admin.Host) admin.Host {
	h.mu.Lock()
	if h.started || h.closed {
		h.mu.Unlock()
		panic("cluster: AdminHost.Wrap called twice or after Close")
	}
	h.started = true
	h.local = local
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	h.mu.Unlock()
	ps := h.l.rdb.Subscribe(ctx, h.chAll, h.chMe)
	h.wg.Add(3)
	go h.receive(ctx, ps)
	go h.beats(ctx)
	go h.publisher(ctx)
	return h
}

// Close stops the AdminHost: the other nodes are told it is gone.
func (h *AdminHost) Close() {
	h.mu.Lock()
	if !h.started || h.closed {
		h.closed = true
		h.mu.Unlock()
		return
	}
	h.closed = true
	if h.feedOff != nil {
		h.feedOff()
		h.feedOff = nil
	}
	h.mu.Unlock()
	h.cancel()
	h.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = h.send(ctx, h.chAll, &adminMsg{T: "bye"})
}

// send publishes m (its version, node and instance set) on ch.
func (h *AdminHost) send(ctx context.Context, ch string, m *adminMsg) error {
	m.V, m.Node, m.Inst = adminVersion, h.node, h.inst
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return h.l.rdb.Publish(ctx, ch, b).Err()
}

func (h *AdminHost) sendNow(ch string, m *adminMsg) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return h.send(ctx, ch, m)
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// receive reads both channels until ctx ends (go-redis reconnects and
// subscribes again on its own; each new subscription says hello).
func (h *AdminHost) receive(ctx context.Context, ps *redis.PubSub) {
	defer h.wg.Done()
	defer ps.Close()
	ch := ps.ChannelWithSubscriptions(redis.WithChannelSize(1024))
	for {
		select {
		case <-ctx.Done():
			return
		case v, ok := <-ch:
			if !ok {
				return
			}
			switch m := v.(type) {
			case *redis.Subscription:
				if m.Kind == "subscribe" && m.Channel == h.chAll {
					if err := h.sendNow(h.chAll, h.heartbeat(true)); err != nil {
						h.log.Warn("cannot greet the other nodes' Admin UI", "err", err)
					}
				}
			case *redis.Message:
				h.handle(m.Channel, m.Payload)
			}
		}
	}
}

func (h *AdminHost) heartbeat(hello bool) *adminMsg {
	h.mu.Lock()
	defer h.mu.Unlock()
	return &adminMsg{T: "hb", Hello: hello, Watching: len(h.subs) > 0, Readonly: h.cfg.Readonly}
}

// beats publishes a heartbeat every adminBeat (and when told to), forgets
// nodes gone silent, and tells the Server whether a remote Admin UI
// watches.
func (h *AdminHost) beats(ctx context.Context) {
	defer h.wg.Done()
	t := time.NewTicker(adminBeat)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.expire()
			err := h.sendNow(h.chAll, h.heartbeat(false))
			switch {
			case err != nil && !failing:
				failing = true
				h.log.Warn("cluster Admin UI: cannot publish this node's heartbeat; the other nodes' Admin UI will not show it until Redis answers", "err", err)
			case err == nil && failing:
				failing = false
				h.log.Info("cluster Admin UI: heartbeats published again")
			}
		case <-h.beat:
			_ = h.sendNow(h.chAll, h.heartbeat(false))
		case <-h.notify:
			h.mu.Lock()
			on, fn := h.remote, h.remoteFn
			changed := on != h.told
			h.told = on
			h.mu.Unlock()
			if changed && fn != nil {
				fn(on)
			}
		}
	}
}

func (h *AdminHost) expire() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, p := range h.peers {
		if time.Since(p.seen) > adminAlive {
			h.log.Info("an Admin UI peer is gone (no heartbeat)", "node", id)
			delete(h.peers, id)
		}
	}
	h.recomputeLocked()
}

// recomputeLocked follows whether a live peer watches: the feed is
// published while one does.
func (h *AdminHost) recomputeLocked() {
	on := false
	for _, p := range h.peers {
		if p.watching {
			on = true
			break
		}
	}
	if on == h.remote {
		return
	}
	h.remote = on
	if on && h.feedOff == nil && !h.closed && h.cfg.Feed {
		h.feedOff = h.local.Subscribe(h.queue)
	} else if !on && h.feedOff != nil {
		h.feedOff()
		h.feedOff = nil
	}
	kick(h.notify)
}

// queue takes one of this node's events for the other nodes' Admin UI.
func (h *AdminHost) queue(e admin.Event) {
	if e.Kind < admin.SocketConnected || e.Kind > admin.EventSent {
		return // aggregated counts are in this node's server_stats
	}
	select {
	case h.evq <- e:
	default:
		h.dropped.Add(1)
	}
}

// publisher sends the live feed in batches, and the stats.
func (h *AdminHost) publisher(ctx context.Context) {
	defer h.wg.Done()
	batch := make([]wireEvent, 0, adminMaxBatch)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		m := &adminMsg{T: "ev", Events: batch}
		if err := h.sendNow(h.chAll, m); err != nil {
			// one event JSON cannot carry is no reason to lose the others
			var ue *json.UnsupportedTypeError
			var uv *json.UnsupportedValueError
			if errors.As(err, &ue) || errors.As(err, &uv) {
				good := batch[:0]
				for _, e := range batch {
					if _, err := json.Marshal(e); err == nil {
						good = append(good, e)
					}
				}
				m.Events = good
				err = h.sendNow(h.chAll, m)
			}
			if err != nil {
				h.reject("publish", "", fmt.Errorf("cannot publish %d live-feed events: %w", len(batch), err))
			}
		}
		batch = batch[:0]
		if n := h.dropped.Swap(0); n > 0 {
			h.reject("dropped", "", fmt.Errorf("%d live-feed events were dropped for the other nodes' Admin UI: more than Redis took in time", n))
		}
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-h.outq:
			c, cancel := context.WithTimeout(ctx, 2*time.Second)
			if err := h.l.rdb.Publish(c, h.chAll, b).Err(); err != nil {
				h.reject("publish", "", fmt.Errorf("cannot publish this node's server_stats: %w", err))
			}
			cancel()
		case e := <-h.evq:
			if len(batch) == 0 {
				timer.Reset(adminFlush)
			}
			batch = append(batch, toWire(e))
			if len(batch) >= adminMaxBatch {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

func toWire(e admin.Event) wireEvent {
	t := e.Time
	if t.IsZero() {
		t = time.Now()
	}
	return wireEvent{Kind: e.Kind, Time: t.UnixMilli(), Nsp: e.Nsp, SocketID: e.SocketID, Socket: e.Socket,
		Transport: e.Transport, Reason: e.Reason, Room: e.Room, Args: e.Args}
}

// reject logs one line per kind of trouble (one per call site) per
// adminLogEvery: a flood of bad messages does not flood the log.
func (h *AdminHost) reject(kind, node string, err error) {
	h.mu.Lock()
	last, ok := h.rejected[kind]
	now := time.Now()
	if ok && now.Sub(last) < adminLogEvery {
		h.mu.Unlock()
		return
	}
	h.rejected[kind] = now
	h.mu.Unlock()
	h.log.Warn("cluster Admin UI: "+err.Error(), "kind", kind, "from_node", node)
}

// handle reads one message of the admin channels.
func (h *AdminHost) handle(channel, payload string) {
	if len(payload) > adminMaxMessage {
		h.reject("size", "", fmt.Errorf("dropping a message of %d bytes on %s (at most %d)", len(payload), channel, adminMaxMessage))
		return
	}
	var m adminMsg
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		h.reject("json", "", fmt.Errorf("dropping a message mpmd cannot read on %s: %v", channel, err))
		return
	}
	if m.V != adminVersion {
		h.reject("version", m.Node, fmt.Errorf("dropping a message of protocol version %d on %s (this node speaks %d: are the nodes of one mpmd version?)", m.V, channel, adminVersion))
		return
	}
	if m.Node == "" || len(m.Node) > 256 {
		h.reject("node", "", fmt.Errorf("dropping a message without a valid node id on %s", channel))
		return
	}
	if m.Node == h.node {
		if m.Inst != h.inst {
			h.mu.Lock()
			twin := h.twin
			h.twin = true
			h.mu.Unlock()
			if !twin {
				h.log.Error("another mpmd uses this node id: give each node its own --node-id; the Admin UI ignores its messages", "node", h.node)
			}
		}
		return
	}
	switch m.T {
	case "hb":
		h.onBeat(&m)
	case "bye":
		h.mu.Lock()
		delete(h.peers, m.Node)
		h.recomputeLocked()
		h.mu.Unlock()
	case "req":
		if m.ID == "" {
			h.reject("req", m.Node, errors.New("dropping a socket-list request without an id"))
			return
		}
		h.answer(m.Node, m.ID)
	case "res":
		h.onSockets(&m)
	case "ev":
		if h.live(m.Node) == nil {
			h.reject("unknown", m.Node, errors.New("dropping live-feed events of a node that sent no heartbeat"))
			return
		}
		h.onEvents(&m)
	case "stats":
		if h.live(m.Node) == nil {
			h.reject("unknown", m.Node, errors.New("dropping server_stats of a node that sent no heartbeat"))
			return
		}
		h.onStats(&m)
	case "act":
		h.onAct(&m)
	default:
		h.reject("type", m.Node, fmt.Errorf("dropping a message of unknown type %q", m.T))
	}
}

func (h *AdminHost) onBeat(m *adminMsg) {
	h.mu.Lock()
	p := h.peers[m.Node]
	if p == nil && len(h.peers) >= adminMaxPeers {
		h.mu.Unlock()
		h.reject("peers", m.Node, fmt.Errorf("ignoring a node's heartbeat: this node already keeps track of %d nodes", adminMaxPeers))
		return
	}
	if p == nil {
		p = &adminPeer{}
		h.peers[m.Node] = p
		h.log.Info("an Admin UI peer joined", "node", m.Node)
	} else if p.inst != m.Inst {
		h.log.Info("an Admin UI peer restarted", "node", m.Node)
	}
	p.inst, p.seen, p.watching, p.readonly = m.Inst, time.Now(), m.Watching, m.Readonly
	h.recomputeLocked()
	h.mu.Unlock()
	if m.Hello {
		kick(h.beat)
	}
}

// live is the peer node, if it sent a heartbeat lately.
func (h *AdminHost) live(node string) *adminPeer {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p := h.peers[node]; p != nil && time.Since(p.seen) <= adminAlive {
		cp := *p
		return &cp
	}
	return nil
}

func (h *AdminHost) deliver(e admin.Event) {
	h.mu.Lock()
	fns := make([]func(admin.Event), 0, len(h.subs))
	for _, f := range h.subs {
		fns = append(fns, f)
	}
	h.mu.Unlock()
	for _, f := range fns {
		f(e)
	}
}

func (h *AdminHost) onEvents(m *adminMsg) {
	h.mu.Lock()
	watching := len(h.subs) > 0
	h.mu.Unlock()
	if !watching {
		return
	}
	bad := 0
	for _, w := range m.Events {
		e, ok := fromWire(w)
		if !ok {
			bad++
			continue
		}
		h.deliver(e)
	}
	if bad > 0 {
		h.reject("ev", m.Node, fmt.Errorf("dropped %d live-feed events mpmd cannot show", bad))
	}
}

// fromWire checks one remote event as the Admin UI would show it.
func fromWire(w wireEvent) (admin.Event, bool) {
	if w.Kind < admin.SocketConnected || w.Kind > admin.EventSent || w.Time <= 0 {
		return admin.Event{}, false
	}
	if w.Kind == admin.SocketConnected && w.Socket != nil {
		w.Nsp = w.Socket.Nsp
	}
	if w.Nsp == "" {
		return admin.Event{}, false
	}
	e := admin.Event{Kind: w.Kind, Time: time.UnixMilli(w.Time), Nsp: w.Nsp, SocketID: w.SocketID,
		Transport: w.Transport, Reason: w.Reason, Room: w.Room, Args: w.Args}
	switch w.Kind {
	case admin.SocketConnected:
		if w.Socket == nil || !validSocket(w.Socket) {
			return admin.Event{}, false
		}
		e.Socket = w.Socket
	case admin.RoomJoined, admin.RoomLeft:
		if w.SocketID == "" || w.Room == "" {
			return admin.Event{}, false
		}
	case admin.EventReceived, admin.EventSent:
		if w.SocketID == "" || len(w.Args) == 0 {
			return admin.Event{}, false
		}
		if _, ok := w.Args[0].(string); !ok {
			return admin.Event{}, false
		}
	default:
		if w.SocketID == "" {
			return admin.Event{}, false
		}
	}
	return e, true
}

func validSocket(s *admin.SocketInfo) bool { return s.ID != "" && s.Nsp != "" }

// statsKeys are the fields of server_stats (lib/index.ts); a remote node's
// other fields are left out.
var statsKeys = []string{"serverId", "hostname", "pid", "uptime", "clientsCount", "pollingClientsCount", "aggregatedEvents", "namespaces"}

func (h *AdminHost) onStats(m *adminMsg) {
	id, _ := m.Stats["serverId"].(string)
	if id == "" {
		h.reject("stats-id", m.Node, errors.New("dropping server_stats without a serverId"))
		return
	}
	if _, ok := m.Stats["namespaces"].([]any); !ok {
		h.reject("stats-nsp", m.Node, errors.New("dropping server_stats without a namespace list"))
		return
	}
	st := make(map[string]any, len(statsKeys))
	for _, k := range statsKeys {
		if v, ok := m.Stats[k]; ok {
			st[k] = v
		}
	}
	if _, ok := st["aggregatedEvents"].([]any); !ok {
		st["aggregatedEvents"] = []any{}
	}
	h.deliver(admin.Event{Kind: admin.ServerStats, Stats: st})
}

// answer sends this node's sockets to the node that asked.
func (h *AdminHost) answer(node, id string) {
	select {
	case h.answers <- struct{}{}:
	default:
		h.reject("busy", node, errors.New("too many socket lists asked at once; one is left unanswered"))
		return
	}
	go func() {
		defer func() { <-h.answers }()
		socks := h.local.Sockets()
		cut := 0
		if len(socks) > adminMaxSockets {
			cut = len(socks) - adminMaxSockets
			socks = socks[:adminMaxSockets]
		}
		m := &adminMsg{T: "res", ID: id, Sockets: socks, Cut: cut}
		if err := h.sendNow(h.l.cfg.Prefix+"admin:to:"+node, m); err != nil {
			h.reject("publish", node, fmt.Errorf("cannot answer a socket list: %w", err))
		}
	}()
}

func (h *AdminHost) onSockets(m *adminMsg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.pending[m.ID]
	if r == nil {
		return // too late, or not ours
	}
	if _, dup := r.got[m.Node]; dup {
		return
	}
	good := make([]admin.SocketInfo, 0, len(m.Sockets))
	for _, s := range m.Sockets {
		if validSocket(&s) {
			good = append(good, s)
		}
	}
	if len(good) < len(m.Sockets) {
		go h.reject("res", m.Node, fmt.Errorf("dropped %d sockets without an id or namespace from a socket list", len(m.Sockets)-len(good)))
	}
	if m.Cut > 0 {
		go h.reject("cut", m.Node, fmt.Errorf("a node has more sockets than one socket list carries: %d left out", m.Cut))
	}
	r.got[m.Node] = good
	for n := range r.want {
		if _, ok := r.got[n]; !ok {
			return
		}
	}
	select {
	case <-r.done:
	default:
		close(r.done)
	}
}

func (h *AdminHost) onAct(m *adminMsg) {
	p := h.live(m.Node)
	switch {
	case p == nil:
		h.reject("act-unknown", m.Node, errors.New("refusing an Admin UI action of a node that sent no heartbeat"))
		return
	case p.readonly:
		h.reject("act-readonly", m.Node, errors.New("refusing an Admin UI action of a readonly node"))
		return
	case m.Act == nil || m.Act.Nsp == "":
		h.reject("act-nsp", m.Node, errors.New("dropping an Admin UI action without a namespace"))
		return
	}
	a := m.Act
	if (a.Op == "join" || a.Op == "leave") && a.Room == "" {
		h.reject("act-room", m.Node, fmt.Errorf("dropping an Admin UI %s without a room", a.Op))
		return
	}
	var err error
	switch a.Op {
	case "emit":
		if a.Event == "" {
			h.reject("act-ev", m.Node, errors.New("dropping an Admin UI emit without an event name"))
			return
		}
		err = h.local.Emit(a.Nsp, a.Room, a.Event, a.Args)
	case "join":
		err = h.local.Join(a.Nsp, a.Room, a.Filter)
	case "leave":
		err = h.local.Leave(a.Nsp, a.Room, a.Filter)
	case "disconnect":
		err = h.local.Disconnect(a.Nsp, a.Close, a.Filter)
	default:
		h.reject("act-op", m.Node, fmt.Errorf("dropping an Admin UI action %q", a.Op))
		return
	}
	if err != nil && !errors.Is(err, admin.ErrUnknownNamespace) {
		h.reject("act-failed", m.Node, fmt.Errorf("an Admin UI %s from another node failed here: %w", a.Op, err))
	}
}

// Namespaces implements admin.Host: this node's (its server_stats).
func (h *AdminHost) Namespaces() []admin.NamespaceInfo { return h.local.Namespaces() }

// Counts implements admin.Host: this node's (its server_stats).
func (h *AdminHost) Counts() admin.Counts { return h.local.Counts() }

// Sockets implements admin.Host: every live node's sockets. It waits for
// each node heard from lately, at most Timeout; the sockets of a node that
// did not answer in time are missing (and the log says which).
func (h *AdminHost) Sockets() []admin.SocketInfo {
	out := h.local.Sockets()
	h.mu.Lock()
	want := map[string]bool{}
	for id, p := range h.peers {
		if time.Since(p.seen) <= adminAlive {
			want[id] = true
		}
	}
	if len(want) == 0 || h.closed {
		h.mu.Unlock()
		return out
	}
	id := newID()
	r := &socketsReq{want: want, got: map[string][]admin.SocketInfo{}, done: make(chan struct{})}
	h.pending[id] = r
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.pending, id)
		h.mu.Unlock()
	}()
	if err := h.sendNow(h.chAll, &adminMsg{T: "req", ID: id}); err != nil {
		h.log.Warn("the Admin UI's socket list has this node's sockets only: cannot ask the other nodes", "err", err)
		return out
	}
	t := time.NewTimer(h.cfg.Timeout)
	defer t.Stop()
	select {
	case <-r.done:
	case <-t.C:
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var missing []string
	for n := range want {
		if _, ok := r.got[n]; !ok {
			missing = append(missing, n)
		}
	}
	nodes := make([]string, 0, len(r.got))
	for n := range r.got {
		nodes = append(nodes, n)
	}
	sort.Strings(nodes)
	for _, n := range nodes {
		out = append(out, r.got[n]...)
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		h.log.Warn("the Admin UI's socket list lacks the sockets of nodes that did not answer in time", "nodes", missing, "timeout", h.cfg.Timeout)
	}
	return out
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// act applies an action here, then has every other node apply it.
func (h *AdminHost) act(a *wireAct, local error) error {
	if local != nil || h.cfg.Readonly {
		return local
	}
	if err := h.sendNow(h.chAll, &adminMsg{T: "act", Act: a}); err != nil {
		h.log.Warn("an Admin UI action reached this node's sockets only: cannot tell the other nodes", "op", a.Op, "err", err)
		return err
	}
	return nil
}

// Emit implements admin.Host: on every node.
func (h *AdminHost) Emit(nsp, room, ev string, args []any) error {
	return h.act(&wireAct{Op: "emit", Nsp: nsp, Room: room, Event: ev, Args: args}, h.local.Emit(nsp, room, ev, args))
}

// Join implements admin.Host: on every node.
func (h *AdminHost) Join(nsp, room, filter string) error {
	return h.act(&wireAct{Op: "join", Nsp: nsp, Room: room, Filter: filter}, h.local.Join(nsp, room, filter))
}

// Leave implements admin.Host: on every node.
func (h *AdminHost) Leave(nsp, room, filter string) error {
	return h.act(&wireAct{Op: "leave", Nsp: nsp, Room: room, Filter: filter}, h.local.Leave(nsp, room, filter))
}

// Disconnect implements admin.Host: on every node.
func (h *AdminHost) Disconnect(nsp string, closeConn bool, filter string) error {
	return h.act(&wireAct{Op: "disconnect", Nsp: nsp, Close: closeConn, Filter: filter}, h.local.Disconnect(nsp, closeConn, filter))
}

// Subscribe implements admin.Host: this node's events and, while any
// subscription is held (the other nodes are told an Admin UI watches
// here), the other nodes' live feed and server_stats.
func (h *AdminHost) Subscribe(fn func(admin.Event)) func() {
	h.mu.Lock()
	id := h.nextSub
	h.nextSub++
	h.subs[id] = fn
	first := len(h.subs) == 1
	h.mu.Unlock()
	off := h.local.Subscribe(fn)
	if first {
		kick(h.beat)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			off()
			h.mu.Lock()
			delete(h.subs, id)
			last := len(h.subs) == 0
			h.mu.Unlock()
			if last {
				kick(h.beat)
			}
		})
	}
}

// SubscribeLocal implements admin.ClusterHost.
func (h *AdminHost) SubscribeLocal(fn func(admin.Event)) func() { return h.local.Subscribe(fn) }

// PublishStats implements admin.ClusterHost.
func (h *AdminHost) PublishStats(stats map[string]any) {
	h.mu.Lock()
	on := h.remote
	h.mu.Unlock()
	if !on {
		return
	}
	m := &adminMsg{V: adminVersion, T: "stats", Node: h.node, Inst: h.inst, Stats: stats}
	b, err := json.Marshal(m)
	if err != nil {
		h.reject("publish", "", fmt.Errorf("cannot encode this node's server_stats: %w", err))
		return
	}
	select {
	case h.outq <- b:
	default:
	}
}

// OnRemoteWatch implements admin.ClusterHost.
func (h *AdminHost) OnRemoteWatch(fn func(bool)) {
	h.mu.Lock()
	h.remoteFn = fn
	h.mu.Unlock()
	kick(h.notify)
}

var _ admin.ClusterHost = (*AdminHost)(nil)
