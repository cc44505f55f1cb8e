package broadcast

import (
	"sync/atomic"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// Observer is told what happens on the hub: what the Socket.IO Admin UI's
// live feed and charts show (pkg/server/adminhost.go builds pkg/admin's
// Host on it). Every hook first asks Active, so an observer that nobody
// listens to costs one call per event.
type Observer interface {
	// Active reports whether anyone listens now.
	Active() bool
	// Observe is called with each Event, from the goroutine where it
	// happened (many at once): it must not block, and must copy what it
	// keeps of Args (they are the library's and the caller's).
	Observe(Event)
}

// EventKind says what an Event reports.
type EventKind int

// The kinds of Event.
const (
	Connected        EventKind = iota + 1 // Conn joined Nsp (after the join is recorded, before the namespace's handlers)
	Upgraded                              // Conn's connection moved to Transport
	Disconnected                          // Conn left Nsp, for Reason
	RoomJoined                            // SocketID joined Room of Nsp
	RoomLeft                              // SocketID left Room of Nsp
	Received                              // Conn sent an event: Args, the event's name first, no ack
	Sent                                  // an event was emitted to Conn: Args, the name first
	Broadcasted                           // Broadcast sent Args (name, payload) to SocketIDs of Nsp
	RawConnection                         // an Engine.IO connection opened
	RawDisconnection                      // an Engine.IO connection closed, for Reason
	PacketIn                              // a packet with Bytes of data came from a client
	PacketOut                             // a packet with Bytes of data went to a client
)

// Event is one thing that happened on the hub.
type Event struct {
	Kind      EventKind
	Conn      Conn // Connected, Upgraded, Disconnected, Received, Sent
	Nsp       string
	SocketID  string
	SocketIDs []string // Broadcasted
	Room      string
	Transport string
	Reason    string
	Args      []any
	Bytes     int
}

// Observe makes o the hub's observer. Call it once, before serving.
func (h *Hub) Observe(o Observer) {
	h.mu.Lock()
	h.obs = o
	served := append([]*namespace(nil), h.order...) // later ones watch themselves (namespace)
	h.mu.Unlock()
	for _, n := range served {
		h.watchRooms(n)
	}
	if e := h.io.Engine(); e != nil {
		_ = e.On("connection", func(args ...any) {
			if ec, ok := args[0].(engineSocket); ok {
				h.watchConn(ec)
			}
		})
	}
}

// observing reports whether an observer listens now.
func (h *Hub) observing() bool { return h.obs != nil && h.obs.Active() }

// watchRooms reports the joins and leaves of n's rooms (the adapter's
// join-room and leave-room, as the Admin UI's reference listens to).
func (h *Hub) watchRooms(n *namespace) {
	a := n.nsp.Adapter()
	_ = a.On("join-room", func(args ...any) {
		if h.observing() && len(args) == 2 {
			h.obs.Observe(Event{Kind: RoomJoined, Nsp: n.name, Room: roomString(args[0]), SocketID: roomString(args[1])})
		}
	})
	_ = a.On("leave-room", func(args ...any) {
		if h.observing() && len(args) == 2 {
			h.obs.Observe(Event{Kind: RoomLeft, Nsp: n.name, Room: roomString(args[0]), SocketID: roomString(args[1])})
		}
	})
}

func roomString(v any) string {
	switch t := v.(type) {
	case socket.Room:
		return string(t)
	case socket.SocketId:
		return string(t)
	case string:
		return t
	}
	return ""
}

// watchConn reports one Engine.IO connection's opening, traffic and close.
func (h *Hub) watchConn(ec engineSocket) {
	if h.observing() {
		h.obs.Observe(Event{Kind: RawConnection})
	}
	_ = ec.On("packet", func(args ...any) { h.countPacket(PacketIn, args) })
	_ = ec.On("packetCreate", func(args ...any) { h.countPacket(PacketOut, args) })
	_ = ec.On("close", func(args ...any) {
		if h.observing() {
			reason := ""
			if len(args) > 0 {
				reason, _ = args[0].(string)
			}
			h.obs.Observe(Event{Kind: RawDisconnection, Reason: reason})
		}
	})
}

type sized interface{ Len() int }

func (h *Hub) countPacket(kind EventKind, args []any) {
	if !h.observing() || len(args) == 0 {
		return
	}
	if n := packetLen(args[0]); n > 0 { // pings and pongs carry no data
		h.obs.Observe(Event{Kind: kind, Bytes: n})
	}
}

// packetLen is the size of an Engine.IO packet's data, or 0.
func packetLen(v any) int {
	if p, ok := v.(*packet.Packet); ok && p != nil {
		if d, ok := p.Data.(sized); ok {
			return d.Len()
		}
	}
	return 0
}

// socketConnected follows one socket for the observer: its connection,
// transport upgrade, events both ways, and disconnection. It runs for
// every socket (an observer that becomes active later still hears of the
// disconnect).
func (h *Hub) socketConnected(c *conn) {
	if h.observing() {
		h.obs.Observe(Event{Kind: Connected, Conn: c, Nsp: c.ns, SocketID: c.ID()})
	}
	if ec := c.s.Conn(); ec != nil {
		_ = ec.On("upgrade", func(args ...any) {
			if h.observing() {
				tr := "websocket"
				if len(args) > 0 {
					if t, ok := args[0].(interface{ Name() string }); ok {
						tr = t.Name()
					}
				}
				h.obs.Observe(Event{Kind: Upgraded, Conn: c, Nsp: c.ns, SocketID: c.ID(), Transport: tr})
			}
		})
	}
	// Before the namespace's own listeners, which may hand the data on.
	c.s.PrependAny(func(args ...any) {
		if h.observing() {
			h.obs.Observe(Event{Kind: Received, Conn: c, Nsp: c.ns, SocketID: c.ID(), Args: withoutAck(args)})
		}
	})
	c.s.OnAnyOutgoing(func(args ...any) {
		if h.observing() {
			h.obs.Observe(Event{Kind: Sent, Conn: c, Nsp: c.ns, SocketID: c.ID(), Args: withoutAck(args)})
		}
	})
	var gone atomic.Bool // the library may report a disconnect twice
	_ = c.s.On("disconnect", func(args ...any) {
		if gone.Swap(true) || !h.observing() {
			return
		}
		reason := ""
		if len(args) > 0 {
			reason, _ = args[0].(string)
		}
		h.obs.Observe(Event{Kind: Disconnected, Conn: c, Nsp: c.ns, SocketID: c.ID(), Reason: reason})
	})
}

// withoutAck is args without the library's ack functions.
func withoutAck(args []any) []any {
	out := make([]any, 0, len(args))
	for _, a := range args {
		if _, ok := a.(socket.Ack); ok {
			continue
		}
		out = append(out, a)
	}
	return out
}
