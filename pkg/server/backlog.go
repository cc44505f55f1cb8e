package server

import (
	"sync"
	"sync/atomic"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// DefaultMaxBacklog is how many packets may wait for one slow client before
// mpmd drops it.
const DefaultMaxBacklog = 4096

// watchBacklog bounds what waits in memory for one client connection. The
// Socket.IO library buffers without limit for a client that stops reading;
// counting packets created against packets flushed to the transport tells
// how far behind the client is, and past the limit the connection is closed
// (the client reconnects with since_seq and loses nothing). The broadcaster
// never waits for a client.
func (s *Server) watchBacklog(sock *socket.Socket) {
	conn := sock.Conn()
	if conn == nil {
		return
	}
	if _, loaded := s.watched.LoadOrStore(conn.Id(), true); loaded {
		return // one watch per connection, whatever its namespaces
	}
	var pending atomic.Int64
	var dropOnce sync.Once
	limit := int64(s.cfg.MaxBacklog)
	_ = conn.On("packetCreate", func(...any) {
		if pending.Add(1) > limit {
			dropOnce.Do(func() {
				s.dropped.Add(1)
				s.log.Warn("dropping a client that stopped reading", "client", conn.Id(), "remote", conn.RemoteAddress(), "backlog", limit)
				go conn.Close(true) // not here: the caller holds the client's write lock
			})
		}
	})
	_ = conn.On("flush", func(args ...any) {
		if len(args) > 0 {
			if wbuf, ok := args[0].([]*packet.Packet); ok {
				pending.Add(-int64(len(wbuf)))
			}
		}
	})
	_ = conn.Once("close", func(...any) { s.watched.Delete(conn.Id()) })
}
