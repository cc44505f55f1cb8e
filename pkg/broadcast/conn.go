package broadcast

import (
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/zishang520/socket.io/servers/socket/v3"
)

// Conn is one socket: a client connected to one namespace.
type Conn interface {
	// ID is the socket's id; ConnID its Engine.IO connection's (shared by
	// its namespaces).
	ID() string
	ConnID() string
	// Namespace is the namespace's name.
	Namespace() string
	// Handshake is what the client sent to connect.
	Handshake() Handshake
	// Transport is "polling" or "websocket" ("" once gone).
	Transport() string
	// RemoteAddr is the client's address as the connection has it.
	RemoteAddr() string

	// Data and SetData hold a value of the caller's (the handshake's
	// result), safe to use from any goroutine.
	Data() any
	SetData(v any)

	// Emit sends event ev with args (JSON values) to this socket.
	Emit(ev string, args ...any) error
	// On calls fn for every event ev the client sends; ack is nil unless
	// the client asked for an answer. fn runs on the connection's reader:
	// it must not wait.
	On(ev string, fn func(args []any, ack Ack))
	// OnAny calls fn for every event the client sends.
	OnAny(fn func(ev string, args []any, ack Ack))
	// OnDisconnect calls fn once the socket is disconnected (the library
	// may report it twice).
	OnDisconnect(fn func(reason string))

	Join(rooms ...string)
	Leave(room string)
	Rooms() []string
	Connected() bool
	// Disconnect disconnects the socket; closeConn also closes its
	// connection (and so its other namespaces).
	Disconnect(closeConn bool)

	// LimitBacklog makes the socket's connection subject to MaxBacklog:
	// a client that stops reading is dropped (it reconnects and resumes)
	// instead of being buffered for without limit. For consumers, not for
	// producers, whose acks must not be lost.
	LimitBacklog()
	// Pacer keeps a replay to this socket at the client's pace (Pacer).
	Pacer() *Pacer
}

// Ack answers an event the client asked an answer for.
type Ack func(args ...any)

// Handshake is what a client sent to connect a namespace.
type Handshake struct {
	Auth    map[string]any // the CONNECT packet's auth payload
	Query   map[string]any // the URL's query: string or []string values
	Headers map[string]any // HTTP headers: string or []string values
	Address string         // the client's address
	Time    string         // when, human-readable
	Issued  int64          // when, Unix milliseconds
	Secure  bool
	URL     string
	XDomain bool
}

// Header is h's headers as an http.Header.
func (h Handshake) Header() http.Header {
	out := http.Header{}
	for k, v := range h.Headers {
		switch t := v.(type) {
		case string:
			out.Add(k, t)
		case []string:
			for _, s := range t {
				out.Add(k, s)
			}
		}
	}
	return out
}

// QueryValue is the first value of key in the query, or "".
func (h Handshake) QueryValue(key string) string {
	switch v := h.Query[key].(type) {
	case string:
		return v
	case []string:
		if len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// conn is Conn on a library socket; the socket's data slot holds it.
type conn struct {
	s   *socket.Socket
	hub *Hub
	ns  string

	mu   sync.Mutex
	data any

	backlog atomic.Pointer[backlog] // set by LimitBacklog
	joining joinHolder              // the transport holding packets until the join is recorded
	jmu     sync.Mutex
}

func connOf(s *socket.Socket) *conn {
	c, _ := s.Data().(*conn)
	return c
}

// joined tells the transport that the library has recorded the join: its
// reader may go on (wsTransport.beginConnect).
func (c *conn) joined() {
	c.jmu.Lock()
	j := c.joining
	c.joining = nil
	c.jmu.Unlock()
	if j != nil {
		j.endConnect()
	}
}

func (c *conn) ID() string        { return string(c.s.Id()) }
func (c *conn) Namespace() string { return c.ns }

func (c *conn) ConnID() string {
	if ec := c.s.Conn(); ec != nil {
		return ec.Id()
	}
	return ""
}

func (c *conn) Handshake() Handshake {
	hs := c.s.Handshake()
	if hs == nil {
		return Handshake{}
	}
	return Handshake{Auth: hs.Auth, Query: hs.Query, Headers: hs.Headers, Address: hs.Address, Time: hs.Time,
		Issued: hs.Issued, Secure: hs.Secure, URL: hs.Url, XDomain: hs.Xdomain}
}

func (c *conn) Transport() string {
	if ec := c.s.Conn(); ec != nil {
		if t := ec.Transport(); t != nil {
			return t.Name()
		}
	}
	return ""
}

func (c *conn) RemoteAddr() string {
	if ec := c.s.Conn(); ec != nil {
		return ec.RemoteAddress()
	}
	if hs := c.s.Handshake(); hs != nil {
		return hs.Address
	}
	return ""
}

func (c *conn) Data() any {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.data
}

func (c *conn) SetData(v any) {
	c.mu.Lock()
	c.data = v
	c.mu.Unlock()
}

func (c *conn) Emit(ev string, args ...any) error { return c.s.Emit(ev, args...) }

// splitAck takes the library's ack function off the end of args.
func splitAck(args []any) ([]any, Ack) {
	if n := len(args); n > 0 {
		if fn, ok := args[n-1].(socket.Ack); ok {
			return args[:n-1], func(a ...any) { fn(a, nil) }
		}
	}
	return args, nil
}

func (c *conn) On(ev string, fn func(args []any, ack Ack)) {
	_ = c.s.On(ev, func(args ...any) {
		a, ack := splitAck(args)
		fn(a, ack)
	})
}

func (c *conn) OnAny(fn func(ev string, args []any, ack Ack)) {
	c.s.OnAny(func(args ...any) {
		if len(args) == 0 {
			return
		}
		name, _ := args[0].(string)
		a, ack := splitAck(args[1:])
		fn(name, a, ack)
	})
}

func (c *conn) OnDisconnect(fn func(reason string)) {
	var once sync.Once
	_ = c.s.On("disconnect", func(args ...any) {
		reason := ""
		if len(args) > 0 {
			reason, _ = args[0].(string)
		}
		once.Do(func() { fn(reason) })
	})
	if !c.s.Connected() {
		once.Do(func() { fn("transport close") }) // gone before the listener was there
	}
}

func (c *conn) Join(rooms ...string) {
	rs := make([]socket.Room, len(rooms))
	for i, r := range rooms {
		rs[i] = socket.Room(r)
	}
	c.s.Join(rs...)
}

func (c *conn) Leave(room string) { c.s.Leave(socket.Room(room)) }

func (c *conn) Rooms() []string {
	rs := c.s.Rooms().Keys()
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func (c *conn) Connected() bool { return c.s.Connected() }

func (c *conn) Disconnect(closeConn bool) { c.s.Disconnect(closeConn) }

func (c *conn) LimitBacklog() { c.backlog.Store(c.hub.watchBacklog(c.s)) }

func (c *conn) Pacer() *Pacer { return newPacer(c.s, c.hub.replayWindow()) }
