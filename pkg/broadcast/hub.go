package broadcast

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Defaults of Config's settings (a zero setting takes these).
const (
	DefaultPingInterval   = 20 * time.Second
	DefaultPingTimeout    = 20 * time.Second
	DefaultMaxPayload     = 1 << 20
	DefaultConnectTimeout = socket.DefaultConnectTimeout
)

// Config is how the Socket.IO server is set up.
type Config struct {
	PingInterval   time.Duration // between the server's pings (DefaultPingInterval)
	PingTimeout    time.Duration // how long a pong may take (DefaultPingTimeout)
	MaxPayload     int64         // bytes of one message or polling POST from a client (DefaultMaxPayload)
	ConnectTimeout time.Duration // how long a connection may stay without a namespace (DefaultConnectTimeout)
	MaxBacklog     int           // packets waiting for one client (LimitBacklog) before it is dropped (DefaultMaxBacklog)

	// CheckOrigin, when set, decides whether a browser page at origin may
	// connect: nil allows it; an error refuses the handshake (websocket
	// included, which CORS does not cover) with the error's text, and
	// polling's CORS answers leave the origin out. origin is "" for a
	// request that is not a browser's cross-origin one.
	CheckOrigin func(origin string) error

	Log *slog.Logger // nil: slog.Default()
}

// WithDefaults fills the settings left at zero.
func (c Config) WithDefaults() Config {
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.MaxBacklog <= 0 {
		c.MaxBacklog = DefaultMaxBacklog
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// Hub is the Socket.IO server. Create it with New, add namespaces with
// Handle, serve Handler, and call Run for its housekeeping.
type Hub struct {
	cfg      Config
	log      *slog.Logger
	io       *socket.Server
	upgrades *upgrades
	handler  http.Handler

	mu    sync.Mutex
	nsps  map[string]*namespace
	order []*namespace // "/" first, then in the order handled

	obs     Observer // set once, before serving (Observe)
	dropped atomic.Int64
	watched sync.Map // engine connection id → *backlog (watchBacklog)

	held atomic.Pointer[WriteHold] // HoldWrites: broadcasts queue without waking writers
}

// namespace is one namespace the hub serves and its handlers.
type namespace struct {
	name string
	nsp  socket.Namespace

	mu        sync.Mutex
	authorize []func(Conn) error
	connect   []func(Conn)
}

// ErrUnknownNamespace is returned for a namespace the hub does not serve
// (it never creates one on a client's or caller's request).
var ErrUnknownNamespace = errors.New("no such namespace")

// New builds the hub. It serves no namespace but "/" (with no handlers)
// until Handle is called.
func New(cfg Config) *Hub {
	cfg = cfg.WithDefaults()
	h := &Hub{cfg: cfg, log: cfg.Log, nsps: map[string]*namespace{}}
	h.upgrades = newUpgrades()
	opts := engineOptions(cfg, h.upgrades)
	opts.SetServeClient(false)
	opts.SetAdapter(roomAdapterBuilder{})
	opts.SetConnectTimeout(cfg.ConnectTimeout)
	h.io = socket.NewServer(nil, opts)
	// the engine is made here, so that Observe can listen to it at once
	h.handler = arriving(h.upgrades, releaseOnHijack(h.io.ServeHandler(nil)))
	h.namespace("/")
	return h
}

// Config is the hub's configuration, defaults filled in.
func (h *Hub) Config() Config { return h.cfg }

// Handler serves Socket.IO (mount it at /socket.io/).
func (h *Hub) Handler() http.Handler { return h.handler }

// Handle serves namespace ns: authorize (nil: everyone) runs for every
// client's CONNECT, on the connection's reader, and may refuse it
// (Refuse); onConnect (nil: none) runs once the library has recorded the
// join. Handle may be called again for the same namespace: the handlers
// add up, run in the order given. Call it before serving.
//
// Until onConnect ran, the connection's next packets wait (the library
// would otherwise meet an EVENT for a namespace it has acknowledged but
// not recorded, and close the connection: wsTransport.beginConnect).
func (h *Hub) Handle(ns string, authorize func(Conn) error, onConnect func(Conn)) {
	n := h.namespace(ns)
	n.mu.Lock()
	if authorize != nil {
		n.authorize = append(n.authorize, authorize)
	}
	if onConnect != nil {
		n.connect = append(n.connect, onConnect)
	}
	n.mu.Unlock()
}

// namespace returns the namespace ns, creating it with the hub's
// middleware and connection listener the first time.
func (h *Hub) namespace(ns string) *namespace {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n, ok := h.nsps[ns]; ok {
		return n
	}
	n := &namespace{name: ns}
	if ns == "/" {
		n.nsp = h.io.Sockets()
	} else {
		n.nsp = h.io.Of(ns, nil)
	}
	n.nsp.Use(func(s *socket.Socket, next func(*socket.ExtendedError)) { h.handshake(n, s, next) })
	_ = n.nsp.On("connection", func(args ...any) {
		if s, ok := args[0].(*socket.Socket); ok {
			h.connected(n, s)
		}
	})
	if h.obs != nil {
		h.watchRooms(n)
	}
	h.nsps[ns] = n
	h.order = append(h.order, n)
	return n
}

// lookup finds a namespace the hub serves.
func (h *Hub) lookup(ns string) (*namespace, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n, ok := h.nsps[ns]; ok {
		return n, nil
	}
	return nil, ErrUnknownNamespace
}

func (h *Hub) namespaces() []*namespace {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*namespace(nil), h.order...)
}

// Namespaces lists the names of the namespaces served, "/" first.
func (h *Hub) Namespaces() []string {
	ns := h.namespaces()
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.name
	}
	return out
}

// handshake runs ns's authorize handlers for a client's CONNECT. Once the
// client is let through, its transport holds the connection's next packet
// until connected has run (beginConnect).
func (h *Hub) handshake(n *namespace, s *socket.Socket, next func(*socket.ExtendedError)) {
	c := &conn{s: s, hub: h, ns: n.name}
	s.SetData(c)
	n.mu.Lock()
	auth := append([]func(Conn) error(nil), n.authorize...)
	n.mu.Unlock()
	for _, a := range auth {
		if err := a(c); err != nil {
			next(extended(err))
			return
		}
	}
	if ec := s.Conn(); ec != nil {
		if t, ok := ec.Transport().(joinHolder); ok {
			t.beginConnect()
			c.jmu.Lock()
			c.joining = t
			c.jmu.Unlock()
		}
	}
	next(nil)
}

// joinHolder is a transport that holds the connection's next packet while
// a namespace join is being recorded.
type joinHolder interface {
	beginConnect()
	endConnect()
}

// connected runs once the library has recorded s's join of n.
func (h *Hub) connected(n *namespace, s *socket.Socket) {
	c := connOf(s)
	if c == nil {
		c = &conn{s: s, hub: h, ns: n.name}
		s.SetData(c)
	}
	c.joined()
	if h.obs != nil {
		h.socketConnected(c)
	}
	n.mu.Lock()
	handlers := append([]func(Conn){}, n.connect...)
	n.mu.Unlock()
	for _, fn := range handlers {
		fn(c)
	}
}

// Refusal is a handshake refused with a message and a code (the
// connect_error's data.code).
type Refusal struct{ Message, Code string }

func (r *Refusal) Error() string { return r.Message }

// Refuse is the error an authorize handler returns to refuse a client.
func Refuse(msg, code string) error { return &Refusal{Message: msg, Code: code} }

// extended is err as the library's connect_error. Its data is never nil:
// the Go client rejects a connect_error whose data is null and reports a
// parse error instead.
func extended(err error) *socket.ExtendedError {
	code := "refused"
	var r *Refusal
	if errors.As(err, &r) && r.Code != "" {
		code = r.Code
	}
	return socket.NewExtendedError(err.Error(), map[string]any{"code": code})
}

// Each calls fn for every connected socket of every namespace, until fn
// returns false. Sockets whose connection is gone, although the library
// still lists them (a zombie: see Run), are left out.
func (h *Hub) Each(fn func(Conn) bool) {
	for _, n := range h.namespaces() {
		goOn := true
		n.nsp.Sockets().Range(func(_ socket.SocketId, s *socket.Socket) bool {
			if zombie(s) {
				return true
			}
			goOn = fn(h.connOf(n, s))
			return goOn
		})
		if !goOn {
			return
		}
	}
}

// connOf is s's Conn, made when the socket came without the hub's
// handshake (it always goes through it).
func (h *Hub) connOf(n *namespace, s *socket.Socket) Conn {
	if c := connOf(s); c != nil {
		return c
	}
	return &conn{s: s, hub: h, ns: n.name}
}

// zombie reports a socket whose connection is gone although the library
// still lists it.
func zombie(s *socket.Socket) bool {
	ec := s.Conn()
	return ec == nil || ec.ReadyState() == "closed"
}

// Counts are the Engine.IO connections: all, and those on long-polling.
func (h *Hub) Counts() (clients, polling int) {
	e := h.io.Engine()
	if e == nil {
		return 0, 0
	}
	clients = int(e.ClientsCount())
	e.Clients().Range(func(_ string, ec engineSocket) bool {
		if t := ec.Transport(); t != nil && t.Name() == "polling" {
			polling++
		}
		return true
	})
	return clients, polling
}

// Dropped counts the clients dropped for not reading (LimitBacklog).
func (h *Hub) Dropped() int64 { return h.dropped.Load() }

// Emit sends event ev with args to every socket of namespace ns, or only
// to those in room (a room or a socket id) unless room is "". It goes
// through the library (each client's packet encoded by the engine); see
// Broadcast for stored events.
func (h *Hub) Emit(ns, room, ev string, args ...any) error {
	n, err := h.lookup(ns)
	if err != nil {
		return err
	}
	if room != "" {
		return n.nsp.To(socket.Room(room)).Emit(ev, args...)
	}
	return n.nsp.Emit(ev, args...)
}

// Join makes the sockets of ns (those in filter, a room or a socket id,
// unless filter is "") join room.
func (h *Hub) Join(ns, room, filter string) error {
	n, err := h.lookup(ns)
	if err != nil {
		return err
	}
	if filter != "" {
		n.nsp.In(socket.Room(filter)).SocketsJoin(socket.Room(room))
	} else {
		n.nsp.SocketsJoin(socket.Room(room))
	}
	return nil
}

// Leave makes them leave room.
func (h *Hub) Leave(ns, room, filter string) error {
	n, err := h.lookup(ns)
	if err != nil {
		return err
	}
	if filter != "" {
		n.nsp.In(socket.Room(filter)).SocketsLeave(socket.Room(room))
	} else {
		n.nsp.SocketsLeave(socket.Room(room))
	}
	return nil
}

// Disconnect disconnects them; closeConn also closes their connection.
func (h *Hub) Disconnect(ns string, closeConn bool, filter string) error {
	n, err := h.lookup(ns)
	if err != nil {
		return err
	}
	if filter != "" {
		n.nsp.In(socket.Room(filter)).DisconnectSockets(closeConn)
	} else {
		n.nsp.DisconnectSockets(closeConn)
	}
	return nil
}

// SweepInterval is how often Run looks for zombie sockets.
const SweepInterval = 5 * time.Second

// Run does the hub's housekeeping until ctx ends: every SweepInterval it
// disconnects sockets whose connection closed without the library
// noticing (it can leave a socket in its namespace map for good when the
// connection closes during the namespace handshake), so they leave their
// rooms and namespace and the fan-out stops writing to them.
func (h *Hub) Run(ctx context.Context) {
	t := time.NewTicker(SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.SweepZombies()
		}
	}
}

// SweepZombies disconnects the zombie sockets now (see Run).
func (h *Hub) SweepZombies() {
	var zs []*socket.Socket
	for _, n := range h.namespaces() {
		n.nsp.Sockets().Range(func(_ socket.SocketId, s *socket.Socket) bool {
			if zombie(s) {
				zs = append(zs, s)
			}
			return true
		})
	}
	for _, z := range zs {
		z.Disconnect(true)
	}
	if len(zs) > 0 {
		h.log.Debug("removed sockets whose connection had closed", "count", len(zs))
	}
}

// Close disconnects every client and closes the server.
func (h *Hub) Close() { h.io.Close(nil) }

// rooms is a set of room names as the library takes them.
func rooms(names []string) *types.Set[socket.Room] {
	s := types.NewSet[socket.Room]()
	for _, r := range names {
		s.Add(socket.Room(r))
	}
	return s
}
