// Package admin is the server side of the Socket.IO Admin UI protocol
// (npm @socket.io/admin-ui 0.5, lib/index.ts of socketio/socket.io-admin-ui):
// what mpmd answers on its /admin namespace so that the Admin UI, served at
// /admin/, shows mpmd's namespaces, sockets, rooms and events and can act on
// them.
//
// It speaks to the Socket.IO server only through Host, an interface this
// package defines and pkg/server implements (adminhost.go), and to each
// admin connection through Conn. So it holds the protocol — authentication
// (bcrypt basic auth, mpmd's token, session ids), the config and
// server_stats messages, the development-mode event feed and the actions
// emit, join, leave and _disconnect with their namespace-wide forms — and
// no Socket.IO library code. In a cluster the Host is a ClusterHost
// (pkg/cluster's AdminHost): the socket list, the live feed, the other
// nodes' server_stats and the actions span every node.
package admin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Features the Admin UI knows (typed-events.ts). The M… ones are the
// namespace-wide forms of the actions (Socket.IO v4's socketsJoin,
// socketsLeave, disconnectSockets).
const (
	FeatureEmit             = "EMIT"
	FeatureJoin             = "JOIN"
	FeatureLeave            = "LEAVE"
	FeatureDisconnect       = "DISCONNECT"
	FeatureMJoin            = "MJOIN"
	FeatureMLeave           = "MLEAVE"
	FeatureMDisconnect      = "MDISCONNECT"
	FeatureAggregatedEvents = "AGGREGATED_EVENTS"
	FeatureAllEvents        = "ALL_EVENTS"
)

// Mode values: development sends the live feed of sockets, rooms and events
// (the reference's default); production sends only the statistics.
const (
	ModeDevelopment = "development"
	ModeProduction  = "production"
)

// DefaultStatsInterval is how often server_stats is sent (the reference's 2 s).
const DefaultStatsInterval = 2 * time.Second

// Config is how the admin namespace authenticates and what it allows.
type Config struct {
	// Username and PasswordHash (bcrypt, $2a$/$2b$/$2y$) are the Admin UI's
	// credentials; both or neither.
	Username     string
	PasswordHash string
	// Token is mpmd's token: when set, it is accepted as the password (with
	// any user name) or as auth.token.
	Token string
	// Readonly offers no actions and ignores action messages.
	Readonly bool
	// Mode is ModeDevelopment (default) or ModeProduction.
	Mode string
	// ServerID names this server in server_stats (default: the host name).
	ServerID string
	// StatsInterval between server_stats messages (0: DefaultStatsInterval).
	StatsInterval time.Duration
	// SessionTTL bounds how long a session id stays valid (0: 24 h, the
	// reference's RedisStore default).
	SessionTTL time.Duration
}

// Validate reports a configuration that cannot work, as a sentence.
func (c Config) Validate() error {
	if (c.Username == "") != (c.PasswordHash == "") {
		return errors.New("the Admin UI needs both --admin-user and --admin-password-hash, or neither")
	}
	if c.PasswordHash != "" {
		if err := checkHash(c.PasswordHash); err != nil {
			return err
		}
	}
	switch c.Mode {
	case "", ModeDevelopment, ModeProduction:
	default:
		return fmt.Errorf("the Admin UI mode must be %q or %q, got %q", ModeDevelopment, ModeProduction, c.Mode)
	}
	return nil
}

// NamespaceInfo is one namespace in server_stats.
type NamespaceInfo struct {
	Name         string
	SocketsCount int
}

// Handshake is what a socket's handshake showed, as the Admin UI displays
// it. Secrets (mpmd's token in the query or headers, cookies) are the
// host's to leave out; auth is never sent (the reference leaves it out too).
type Handshake struct {
	Address string
	Headers map[string]any
	Query   map[string]any
	Issued  int64 // Unix milliseconds
	Secure  bool
	Time    string
	URL     string
	XDomain bool
}

// SocketInfo is one socket as the Admin UI lists it.
type SocketInfo struct {
	ID        string
	ClientID  string // the Engine.IO connection's id (12 characters, as the reference)
	Transport string // polling or websocket
	Nsp       string
	Data      map[string]any
	Handshake Handshake
	Rooms     []string
}

// Counts are the server-wide numbers of server_stats.
type Counts struct {
	Clients        int // Engine.IO connections
	PollingClients int // of those, the ones still on long-polling
}

// Kind says what an Event reports.
type Kind int

// The kinds of Event a Host reports.
const (
	SocketConnected    Kind = iota + 1 // Socket
	SocketUpdated                      // Nsp, SocketID, Transport
	SocketDisconnected                 // Nsp, SocketID, Reason
	RoomJoined                         // Nsp, Room, SocketID
	RoomLeft                           // Nsp, Room, SocketID
	EventReceived                      // Nsp, SocketID, Args (event name first)
	EventSent                          // Nsp, SocketID, Args (event name first)
	Aggregate                          // Type, SubType, Count: rawConnection, rawDisconnection (SubType the reason), packetsIn/Out, bytesIn/Out
	ServerStats                        // Stats: another node's server_stats (a ClusterHost's), sent as it is
)

// Event is one thing that happened on the Socket.IO server. A Host must
// not change Args or Socket after passing them.
type Event struct {
	Kind      Kind
	Time      time.Time // zero: now
	Nsp       string
	SocketID  string
	Socket    *SocketInfo
	Transport string
	Reason    string
	Room      string
	Args      []any
	Type      string
	SubType   string
	Count     int
	Stats     map[string]any
}

// ErrUnknownNamespace is what a Host answers for a namespace it does not
// serve (it must never create one).
var ErrUnknownNamespace = errors.New("no such namespace")

// Host is the Socket.IO server as the admin protocol sees it.
type Host interface {
	// Namespaces lists every namespace with its connected sockets' count.
	Namespaces() []NamespaceInfo
	// Sockets lists every connected socket of every namespace.
	Sockets() []SocketInfo
	// Counts gives the connection counts.
	Counts() Counts
	// Emit sends event ev with args to the sockets of nsp, only those in
	// room (a room name or a socket id) unless room is "".
	Emit(nsp, room, ev string, args []any) error
	// Join makes the sockets of nsp (those in filter, a room or a socket
	// id, unless filter is "") join room.
	Join(nsp, room, filter string) error
	// Leave makes them leave room.
	Leave(nsp, room, filter string) error
	// Disconnect disconnects them; close also closes their connection.
	Disconnect(nsp string, close bool, filter string) error
	// Subscribe calls fn for every Event until cancel is called. fn may be
	// called from many goroutines at once and must not block.
	Subscribe(fn func(Event)) (cancel func())
}

// ClusterHost is a Host that is one node of a cluster (pkg/cluster's
// AdminHost, `mpmd run --redis`): Sockets lists every node's sockets, the
// actions reach every node's, and Subscribe also reports the other nodes'
// events and server_stats (ServerStats). Namespaces and Counts stay this
// node's: each node's server_stats is its own, and the Admin UI adds them
// up, as with the reference on a Redis adapter.
type ClusterHost interface {
	Host
	// SubscribeLocal is Subscribe for this node's own events, without
	// telling the other nodes that an Admin UI watches here: the Server
	// takes its aggregated counts from it.
	SubscribeLocal(fn func(Event)) (cancel func())
	// PublishStats hands this node's periodic server_stats to the Admin
	// UIs of the other nodes (while any is connected). It must not block.
	PublishStats(stats map[string]any)
	// OnRemoteWatch registers fn, called with true when an Admin UI
	// connected to another node starts watching and with false when none
	// is left; never from within a call to the ClusterHost.
	OnRemoteWatch(fn func(watching bool))
}

// Conn is one connected admin socket.
type Conn interface {
	// Emit sends an event to the Admin UI; args are JSON values
	// (map[string]any, []any, string, float64, bool, nil, numbers).
	Emit(ev string, args ...any)
}

// Server is the admin namespace's protocol for a Host.
type Server struct {
	cfg      Config
	host     Host
	features []string
	sessions *sessions
	buf      eventBuffer
	base     map[string]any // serverId, hostname, pid
	started  time.Time

	cluster ClusterHost // host, when it is one node of a cluster

	mu        sync.Mutex
	conns     map[Conn]struct{}
	cancel    func() // of the Host subscription, while any Conn is connected
	remote    bool   // cluster: an Admin UI of another node watches
	aggCancel func() // cluster: of the SubscribeLocal one, while any Conn is connected or remote
}

// New makes the protocol for host; cfg must Validate.
func New(cfg Config, host Host) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Mode == "" {
		cfg.Mode = ModeDevelopment
	}
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = DefaultStatsInterval
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 24 * time.Hour
	}
	hostname, _ := os.Hostname()
	id := cfg.ServerID
	if id == "" {
		id = hostname
	}
	s := &Server{
		cfg:      cfg,
		host:     host,
		sessions: newSessions(cfg.SessionTTL, maxSessions),
		base:     map[string]any{"serverId": id, "hostname": hostname, "pid": os.Getpid()},
		started:  time.Now(),
		conns:    map[Conn]struct{}{},
	}
	if !cfg.Readonly {
		s.features = []string{FeatureEmit, FeatureJoin, FeatureLeave, FeatureDisconnect, FeatureMJoin, FeatureMLeave, FeatureMDisconnect}
	}
	s.features = append(s.features, FeatureAggregatedEvents)
	if s.development() {
		s.features = append(s.features, FeatureAllEvents)
	}
	if ch, ok := host.(ClusterHost); ok {
		s.cluster = ch
		ch.OnRemoteWatch(s.setRemote)
	}
	return s, nil
}

// setRemote is told whether an Admin UI of another node watches: this
// node's aggregated counts are then gathered for its server_stats.
func (s *Server) setRemote(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remote = on
	s.resubscribeLocked()
}

// resubscribeLocked holds the Host subscriptions the state asks for: the
// full one while an admin socket is connected here; in a cluster, the
// local one for the aggregated counts while one is connected here or on
// another node (the full one's aggregated events are then left out, so
// each is counted once).
func (s *Server) resubscribeLocked() {
	full := len(s.conns) > 0
	if full && s.cancel == nil {
		s.cancel = s.host.Subscribe(s.onHostEvent)
	} else if !full && s.cancel != nil {
		s.cancel()
		s.cancel = nil
	}
	if s.cluster == nil {
		return
	}
	agg := full || s.remote
	if agg && s.aggCancel == nil {
		s.aggCancel = s.cluster.SubscribeLocal(s.onLocalEvent)
	} else if !agg && s.aggCancel != nil {
		s.aggCancel()
		s.aggCancel = nil
	}
}

// onLocalEvent takes this node's aggregated counts (cluster only).
func (s *Server) onLocalEvent(e Event) {
	if e.Kind == Aggregate {
		s.buf.push(e.Type, e.SubType, e.Count, e.Time)
	}
}

func (s *Server) development() bool { return s.cfg.Mode == ModeDevelopment }

// Features lists what config advertises.
func (s *Server) Features() []string { return append([]string(nil), s.features...) }

// Run sends server_stats every StatsInterval until ctx ends. With no admin
// socket connected here and, in a cluster, no Admin UI of another node
// watching, it only drops the aggregated events of the interval: the stats
// count every socket of the server (10,000 idle clients made that a fifth
// of an idle mpmd's CPU, docs/PERFORMANCE.md).
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.StatsInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if !s.watched() {
				s.buf.take()
				continue
			}
			st := s.stats()
			s.broadcast("server_stats", st)
			if s.cluster != nil {
				s.cluster.PublishStats(st)
			}
		}
	}
}

// Connect is called once a socket of the admin namespace is connected (it
// passed Authenticate); session is the id Authenticate issued, if any. It
// sends the session id, config, server_stats and, in development mode,
// all_sockets; onEvent is to be called with every event the socket sends
// (its name first, an ack function last if any), and onClose once it is
// gone.
func (s *Server) Connect(c Conn, session string) (onEvent func(args []any), onClose func()) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.resubscribeLocked()
	s.mu.Unlock()
	if session != "" {
		c.Emit("session", session)
	}
	c.Emit("config", map[string]any{"supportedFeatures": toAnySlice(s.features)})
	c.Emit("server_stats", s.statsPeek())
	if s.development() {
		socks := s.host.Sockets()
		all := make([]any, 0, len(socks))
		for i := range socks {
			all = append(all, socks[i].json())
		}
		c.Emit("all_sockets", all)
	}
	var once sync.Once
	return func(args []any) { s.action(args) }, func() {
		once.Do(func() {
			s.mu.Lock()
			delete(s.conns, c)
			s.resubscribeLocked()
			s.mu.Unlock()
		})
	}
}

// watched reports whether anyone gets server_stats: an admin socket of
// this node or, in a cluster, an Admin UI of another node.
func (s *Server) watched() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns) > 0 || s.remote
}

// broadcast sends one event to every admin socket.
func (s *Server) broadcast(ev string, args ...any) {
	s.mu.Lock()
	conns := make([]Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Emit(ev, args...)
	}
}

func (s *Server) connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns) > 0
}

// stats is server_stats, taking the aggregated events gathered since the
// last one.
func (s *Server) stats() map[string]any {
	return s.statsWith(s.buf.take())
}

// statsPeek is server_stats for one new admin socket, leaving the
// aggregated events to the next periodic one.
func (s *Server) statsPeek() map[string]any { return s.statsWith([]any{}) }

func (s *Server) statsWith(agg []any) map[string]any {
	m := make(map[string]any, 10)
	for k, v := range s.base {
		m[k] = v
	}
	counts := s.host.Counts()
	nsps := s.host.Namespaces()
	list := make([]any, 0, len(nsps))
	for _, n := range nsps {
		list = append(list, map[string]any{"name": n.Name, "socketsCount": n.SocketsCount})
	}
	m["uptime"] = time.Since(s.started).Seconds()
	m["clientsCount"] = counts.Clients
	m["pollingClientsCount"] = counts.PollingClients
	m["aggregatedEvents"] = agg
	m["namespaces"] = list
	return m
}

// onHostEvent forwards what the Host reports: aggregated counts always,
// the rest in development mode.
func (s *Server) onHostEvent(e Event) {
	switch e.Kind {
	case Aggregate:
		if s.cluster == nil { // else onLocalEvent counts them
			s.buf.push(e.Type, e.SubType, e.Count, e.Time)
		}
		return
	case ServerStats:
		if e.Stats != nil {
			s.broadcast("server_stats", e.Stats)
		}
		return
	}
	if !s.development() {
		return
	}
	t := e.Time
	if t.IsZero() {
		t = time.Now()
	}
	ts := t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	switch e.Kind {
	case SocketConnected:
		if e.Socket != nil {
			s.broadcast("socket_connected", e.Socket.json(), ts)
		}
	case SocketUpdated:
		s.broadcast("socket_updated", map[string]any{"id": e.SocketID, "nsp": e.Nsp, "transport": e.Transport})
	case SocketDisconnected:
		s.broadcast("socket_disconnected", e.Nsp, e.SocketID, e.Reason, ts)
	case RoomJoined:
		s.broadcast("room_joined", e.Nsp, e.Room, e.SocketID, ts)
	case RoomLeft:
		s.broadcast("room_left", e.Nsp, e.Room, e.SocketID, ts)
	case EventReceived:
		s.broadcast("event_received", e.Nsp, e.SocketID, toAnySlice(e.Args), ts)
	case EventSent:
		s.broadcast("event_sent", e.Nsp, e.SocketID, toAnySlice(e.Args), ts)
	}
}

func (si *SocketInfo) json() map[string]any {
	rooms := make([]any, len(si.Rooms))
	for i, r := range si.Rooms {
		rooms[i] = r
	}
	data := si.Data
	if data == nil {
		data = map[string]any{}
	}
	hs := si.Handshake
	headers, query := hs.Headers, hs.Query
	if headers == nil {
		headers = map[string]any{}
	}
	if query == nil {
		query = map[string]any{}
	}
	return map[string]any{
		"id":        si.ID,
		"clientId":  si.ClientID,
		"transport": si.Transport,
		"nsp":       si.Nsp,
		"data":      data,
		"handshake": map[string]any{
			"address": hs.Address,
			"headers": headers,
			"query":   query,
			"issued":  hs.Issued,
			"secure":  hs.Secure,
			"time":    hs.Time,
			"url":     hs.URL,
			"xdomain": hs.XDomain,
		},
		"rooms": rooms,
	}
}

func toAnySlice[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}
