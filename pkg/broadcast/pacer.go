package broadcast

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/zishang520/socket.io/servers/socket/v3"
)

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
func (h *Hub) replayWindow() int {
	return max(1, min(1024, h.cfg.MaxBacklog/4))
}

// replayPatience is how long a replay waits for a websocket client to read
// before it checks that the client is still there.
const replayPatience = 200 * time.Millisecond

// Pacer keeps a replay at the client's pace (Conn.Pacer): Queue before
// each event emitted, Flush to wait until nothing queued waits, Stop when
// done.
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
type Pacer struct {
	sock   *socket.Socket
	ws     *wsTransport
	window int

	mu      sync.Mutex
	pending int
	changed chan struct{}
	active  atomic.Bool
}

func newPacer(sock *socket.Socket, window int) *Pacer {
	conn := sock.Conn()
	if conn == nil || conn.Transport() == nil {
		return nil
	}
	p := &Pacer{sock: sock, window: window}
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

// Queue counts an event about to be emitted, waiting first if the client
// has enough to read (websocket) or a batch is already waiting for the
// client's next poll (long-polling).
func (p *Pacer) Queue() {
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
		p.Flush()
	}
	p.mu.Lock()
	p.pending++
	p.mu.Unlock()
}

// Flush waits until nothing queued is waiting (or a few seconds passed: a
// client that stopped polling is the ping timeout's business).
func (p *Pacer) Flush() {
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

// Stop ends the pacer's watch of the connection's flushes.
func (p *Pacer) Stop() {
	if p != nil {
		p.active.Store(false)
	}
}
