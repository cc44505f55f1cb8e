package broadcast

import (
	"sync/atomic"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// DefaultMaxBacklog is how many packets may wait for one slow client before
// the hub drops it: several seconds of a heavy flood for a browser tab that is
// busy drawing (4096 dropped a healthy dashboard under a 50,000-event load
// on a loaded machine), a few tens of MB at most.
const DefaultMaxBacklog = 16384

// backlog counts the packets mpmd's fan-out queued for one client connection
// (shared by its namespaces) that the engine has not yet handed to the
// transport. The Socket.IO library buffers without limit for a client that
// stops reading; past the limit mpmd closes the connection (the client
// reconnects with since_seq and loses nothing). The broadcaster never waits
// for a client.
//
// The fan-out counts in its own loop, and the engine's "flush" event (one per
// write to the transport, not one per packet) takes the count back down:
// cheaper than a listener on every packet.
type backlog struct {
	pending atomic.Int64
	dropped atomic.Bool
}

// watchBacklog returns the backlog of sock's connection, creating it (and its
// one flush listener) for the connection's first namespace.
func (h *Hub) watchBacklog(sock *socket.Socket) *backlog {
	conn := sock.Conn()
	if conn == nil {
		return &backlog{}
	}
	b := &backlog{}
	if prev, loaded := h.watched.LoadOrStore(conn.Id(), b); loaded {
		return prev.(*backlog)
	}
	_ = conn.On("flush", func(args ...any) {
		if len(args) > 0 {
			if wbuf, ok := args[0].([]*packet.Packet); ok {
				// replies and replays are flushed too but were not counted:
				// never go below zero
				for n := b.pending.Load(); n > 0; n = b.pending.Load() {
					if b.pending.CompareAndSwap(n, max(0, n-int64(len(wbuf)))) {
						break
					}
				}
			}
		}
	})
	_ = conn.Once("close", func(...any) { h.watched.Delete(conn.Id()) })
	return b
}

// backlogOf is the backlog of sock's connection, or nil when it is not
// limited (LimitBacklog).
func backlogOf(sock *socket.Socket) *backlog {
	if c := connOf(sock); c != nil {
		return c.backlog.Load()
	}
	return nil
}

// queued counts one packet for sock's connection, when it goes through the
// engine (a long-polling or upgraded client), and reports whether the
// client is too far behind to be sent more (it is being dropped). A
// websocket client's messages are counted in its transport's queue
// (wsTransport.queueMessage) instead.
func (h *Hub) queued(sock *socket.Socket, b *backlog) bool {
	if b.pending.Add(1) <= int64(h.cfg.MaxBacklog) {
		return false
	}
	h.drop(sock, b)
	return true
}

// drop closes the connection of a client that stopped reading, once.
func (h *Hub) drop(sock *socket.Socket, b *backlog) {
	if b.dropped.CompareAndSwap(false, true) {
		h.dropped.Add(1)
		conn := sock.Conn()
		h.log.Warn("dropping a client that stopped reading", "client", conn.Id(), "remote", conn.RemoteAddress(), "backlog", h.cfg.MaxBacklog)
		go conn.Close(true) // not here: the fan-out holds bmu
	}
}
