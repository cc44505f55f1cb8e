package broadcast

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	ws "github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/slices"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// mpmd's Engine.IO websocket transport, registered in place of the library's
// (github.com/zishang520/socket.io/servers/engine/v3 v3.0.6,
// transports/websocket.go, which this follows except in how it writes).
//
// The library writes every packet as its own websocket message — one
// write(2) per packet — from a task queue, marks itself unwritable while
// doing so (the engine then buffers packets and flushes them on "ready"),
// and for a packet carrying a pre-encoded frame builds a gorilla
// PreparedMessage per client (docs/PERFORMANCE.md). This transport keeps
// one queue of messages per connection, always accepts more, and has one
// goroutine — started when the queue gets work, gone when it is empty —
// write everything queued as websocket frames in one buffer, with one
// write(2).
//
// The hub's fan-out (Hub.Broadcast) puts a broadcast's Engine.IO message ("4" + the Socket.IO
// packet, built once per event) straight into that queue (queueMessage),
// past the engine's per-packet bookkeeping; the engine's own packets (acks,
// replays, pings) arrive through Send. Both go into the same queue in call
// order, so a client sees them in the order they were sent. A connection
// that came as an upgrade from long-polling is left to the engine path
// (the engine may hold packets back while upgrading).
//
// The frames go to the connection under gorilla's Conn (NetConn) from the
// writer goroutine, the only writer of data frames. gorilla itself writes
// only control frames (a pong, the close reply) from the reader; a net.Conn
// serializes whole Write calls, so frames never interleave.
type wsTransport struct {
	transports.Transport

	idleTimeout time.Duration
	socket      *types.WebSocketConn
	// upgrading: came as an upgrade from long-polling, and the engine has
	// not switched to it yet (guarded by mu; see message)
	upgrading bool

	upgrades *upgrades
	claim    *upgrade // this websocket's claim on its session, when it came as an upgrade
	claimed  string   // the session's id

	// wmu is held around every write to the connection, by the writer
	// and by the Close frame (closeConn), so no data frame follows that.
	wmu  sync.Mutex
	down atomic.Bool // shut: nothing more is written but the Close frame
	// torn: a write of frames failed part way (a client that stopped
	// reading, cut off by closeConn's deadline). The half-written frame's
	// length still stands in the client's reader, so any byte after it —
	// a Close frame too — would be read as its payload: nothing more is
	// written, and the connection is only closed.
	torn atomic.Bool

	readerDone chan struct{} // closed when the reader (message) returns

	// The connection's read buffer (gorilla reads through it) and the raw
	// connection under it, for the reader's wait for data (awaitData);
	// nil when the connection did not come through releaseOnHijack.
	br  *bufio.Reader
	raw syscall.RawConn

	mu      sync.Mutex
	queue   []wsItem // waiting to be written
	spare   []wsItem // the writer's previous batch, for reuse
	drains  int      // engine Sends written since the last "drain"
	running bool     // a writer goroutine is on it
	held    bool     // queued under a WriteHold that will start the writer
	closed  bool
	changed chan struct{} // closed by wake (queue taken, join recorded, shut); waitUntil waits on it

	// Namespace CONNECTs let through by the hub's handshake whose join the
	// library has not yet recorded (beginConnect, endConnect): the reader
	// holds the next message until there are none.
	connecting atomic.Int32
}

// wsItem is one queued message: an engine packet, or a pre-built message.
type wsItem struct {
	pkt    *packet.Packet
	msg    []byte // text message, written as it is
	framed []byte // whole frames, the rest of a write the socket took part of (release): written as they are
}

// wsBuilder constructs wsTransport for the engine (ServerOptions.SetTransports).
type wsBuilder struct{ upgrades *upgrades }

func (b wsBuilder) New(ctx *types.HttpContext) transports.Transport {
	w := &wsTransport{Transport: transports.MakeTransport(), upgrades: b.upgrades}
	w.Prototype(w)
	if sid := ctx.Query().Peek("sid"); sid != "" && b.upgrades != nil {
		up, ok := b.upgrades.claim(sid)
		if !ok {
			return w.refuse(ctx)
		}
		w.claim, w.claimed = up, sid
	}
	w.Construct(ctx)
	return w
}

// refuse is a websocket that may not upgrade its session, because another
// one holds it (upgrades.go): it sends a Close frame and is born closed, so
// the engine closes the connection and goes no further.
func (w *wsTransport) refuse(ctx *types.HttpContext) transports.Transport {
	w.Transport.Construct(ctx)
	w.closed = true
	w.down.Store(true)
	msg := ws.FormatCloseMessage(ws.ClosePolicyViolation, "this session is already being upgraded")
	c := ctx.Websocket
	if c.WriteControl(ws.CloseMessage, msg, time.Now().Add(closeGrace)) == nil {
		// Read until the client's Close reply, so that the engine's close of
		// the connection does not reset it with the client's data unread
		// (which can lose the Close frame on its way).
		_ = c.SetReadDeadline(time.Now().Add(closeGrace))
		for {
			if _, _, err := c.NextReader(); err != nil {
				break
			}
		}
	}
	w.SetReadyState("closed")
	return w
}
func (wsBuilder) Name() string          { return transports.WEBSOCKET }
func (wsBuilder) HandlesUpgrades() bool { return true }
func (wsBuilder) UpgradesTo() []string  { return nil }

func (w *wsTransport) Construct(ctx *types.HttpContext) {
	w.Transport.Construct(ctx)

	w.idleTimeout = ctx.IdleTimeout
	w.socket = ctx.Websocket
	// gorilla answers a client's Ping and Close on the reader with frames
	// of its own: they go between writeConn's whole frames (control).
	w.socket.SetPingHandler(func(data string) error {
		_ = w.control(ws.PongMessage, []byte(data)) // a failed write ends the writer, which closes
		return nil
	})
	w.socket.SetCloseHandler(func(code int, _ string) error {
		_ = w.control(ws.CloseMessage, ws.FormatCloseMessage(code, ""))
		return nil
	})
	w.readerDone = make(chan struct{})
	w.upgrading = ctx.Query().Has("sid")
	if hw, ok := ctx.Response().(*hijackWriter); ok {
		if sc, ok := w.socket.NetConn().(syscall.Conn); ok {
			if raw, err := sc.SyscallConn(); err == nil {
				w.br, w.raw = hw.reader(), raw
			}
		}
	}

	_ = w.socket.On("error", func(errs ...any) {
		w.OnError("websocket error", slices.TryGetAny[error](errs, 0))
	})
	_ = w.socket.Once("close", func(...any) {
		w.OnClose()
	})

	w.SetWritable(true)
	w.SetPerMessageDeflate(nil)

	transports.StartReader(w, ctx.TransportReadPermission(), w.message)
}

func (w *wsTransport) Name() string          { return transports.WEBSOCKET }
func (w *wsTransport) HandlesUpgrades() bool { return true }

func (w *wsTransport) _error(err error) {
	if ws.IsUnexpectedCloseError(err) || errors.Is(err, net.ErrClosed) {
		w.socket.Emit("close")
	} else {
		w.socket.Emit("error", err)
	}
}

func (w *wsTransport) isClosed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

// message reads the client's messages until the connection ends.
//
// Each message is handled on the goroutine that read it, and the wait for
// the next one starts on a fresh goroutine: the library handles a message
// (a namespace CONNECT above all) deep down the reader's stack, and a
// goroutine's stack does not shrink below what it once needed until
// several collections later, so an idle connection's reader would keep
// 8 KiB or more instead of the ~2 KiB a read waiting in the poller needs
// (docs/PERFORMANCE.md). A goroutine costs well under a microsecond; a
// message's handling, tens. And the fresh goroutine waits for the next
// message's first bytes in the poller itself (awaitData), not down
// gorilla's reading stack, so that it stays within its first 2 KiB.
func (w *wsTransport) message() {
	for {
		mt, message, err := w.next()
		if err != nil {
			w.readerEnd(err)
			return
		}
		// gorilla's NextReader yields only text and binary messages (a
		// close frame comes back as an error), and its readers need no
		// closing.
		var read types.BufferInterface = types.NewStringBuffer(nil)
		if mt == ws.BinaryMessage {
			read = types.NewBytesBuffer(nil)
		}
		w.waitConnects()
		if _, err := read.ReadFrom(message); err != nil {
			w._error(err)
		} else {
			upgrade := w.upgrading && mt == ws.TextMessage && read.Len() == 1 && read.Bytes()[0] == '5' // Engine.IO's UPGRADE packet
			w.OnData(read)
			if upgrade {
				w.upgradeDone()
			}
		}
		go w.message()
		return
	}
}

// next waits for the client's next message.
func (w *wsTransport) next() (int, io.Reader, error) {
	if w.idleTimeout > 0 {
		_ = w.socket.SetReadDeadline(time.Now().Add(w.idleTimeout))
	}
	w.awaitData()
	return w.socket.NextReader()
}

// awaitData returns when the connection has data to read, or a read would
// fail (closed, reset, past the read deadline): at once when the read
// buffer holds some. It peeks (MSG_PEEK): the data stays for gorilla.
func (w *wsTransport) awaitData() {
	if w.raw == nil || w.br.Buffered() > 0 {
		return
	}
	var b [1]byte
	_ = w.raw.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN
	})
}

// readerEnd ends the reader: the connection failed or closed.
func (w *wsTransport) readerEnd(err error) {
	w._error(err)
	if !w.isClosed() {
		w.socket.Emit("close")
	}
	close(w.readerDone)
}

// upgradeDone is called once the engine has handled the client's UPGRADE
// packet, on this reader: the engine (third_party/socket.io-engine,
// socket.maybeUpgrade) has by then made this transport the socket's and
// flushed into it whatever it held back during the upgrade, and from now
// on every engine send reaches Send at once (this transport is always
// writable). So broadcasts may now come straight into the queue
// (queueMessage) without overtaking anything: the realistic client, the
// official socket.io-client, always connects this way (polling first),
// and the engine path per client and event was the largest cost of its
// fan-out after write(2) (docs/PERFORMANCE.md). A refused upgrade closes
// the transport instead; a socket still on polling does not use it.
func (w *wsTransport) upgradeDone() {
	w.mu.Lock()
	w.upgrading = false
	w.mu.Unlock()
}

// Send queues the packets of one engine flush. The transport stays
// writable: the engine hands it every packet at once, and gets one "drain"
// per Send once they are written.
func (w *wsTransport) Send(packets []*packet.Packet) {
	if w.claim != nil && len(packets) == 1 && packets[0].Type == packet.PONG {
		w.sendProbe(packets[0])
		return
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	for _, p := range packets {
		w.queue = append(w.queue, wsItem{pkt: p})
	}
	w.drains++
	w.kick()
}

// sendProbe writes the answer to an upgrade's probe at once, from the
// reader that read the probe (the engine answers it there), as the
// reference server does: the client has the answer before anything it
// sends after the probe (the upgrade packet, a poll) is handled. Through
// the queue, a poll refused after the upgrade could reach the client
// before the answer to the probe it sent first. Nothing else is queued on
// a websocket before its upgrade.
func (w *wsTransport) sendProbe(p *packet.Packet) {
	mt, data, err := w.encode(wsItem{pkt: p})
	if err == nil {
		err = w.writeConn(appendFrame(nil, mt, data))
	}
	if err != nil {
		w._error(err)
		return
	}
	w.Emit("drain")
}

// queueMessage queues a text message built by the caller (shared, never
// modified), past the engine, unless limit messages already wait (a client
// that stopped reading). It returns 1 when queued, 0 when over the limit,
// and -1 when the transport does not take messages this way (closed, or an
// upgraded connection): the caller then goes through the engine.
//
// An upgraded connection's messages come through the engine (which may
// hold packets back while upgrading), but they end up in this queue all the
// same, so its length says how far behind that client is too: over the
// limit it is 0 for them as well. (The engine's "flush" count that
// backlog.go keeps falls back to zero on every Send once upgraded.)
//
// With hold set (Hub.HoldWrites) the message is queued but the writer is
// not started: hold starts it at its Release (release).
func (w *wsTransport) queueMessage(msg []byte, limit int, hold *WriteHold) int {
	if w.PerMessageDeflate() != nil {
		return -1
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return -1
	}
	if len(w.queue) >= limit {
		w.mu.Unlock()
		return 0
	}
	if w.upgrading {
		w.mu.Unlock()
		return -1
	}
	w.queue = append(w.queue, wsItem{msg: msg})
	if hold != nil && !w.running {
		if !w.held {
			w.held = true
			hold.add(w)
		}
		w.mu.Unlock()
		return 1
	}
	w.kick()
	return 1
}

// release writes what was queued under a WriteHold, unless a writer runs
// already (an engine Send started it meanwhile). It writes on the caller's
// goroutine, with one write(2) that does not wait: the hold's Release
// walks every client that got something, as Node's broadcast loop does,
// instead of waking a writer goroutine per client (at 1,000 listeners the
// last of 1,000 goroutines waited for the scheduler: the realistic
// series' p99, docs/PERFORMANCE.md). What the socket does not take at
// once — a client that reads slowly — goes to the writer goroutine, ahead
// of anything queued meanwhile.
func (w *wsTransport) release() {
	w.mu.Lock()
	w.held = false
	if w.running || len(w.queue) == 0 || w.closed {
		w.mu.Unlock()
		return
	}
	if w.raw == nil || w.drains > 0 || w.PerMessageDeflate() != nil {
		w.kick()
		return
	}
	items := w.queue
	w.queue, w.spare = w.spare[:0], nil
	w.running = true // queueMessage and Send append meanwhile, and start no writer
	w.wake()
	w.mu.Unlock()
	rest, err := w.writeNow(items)
	clear(items)
	w.mu.Lock()
	if w.spare == nil && cap(items) <= 4096 {
		w.spare = items[:0]
	}
	if err != nil || w.closed {
		w.running = false
		w.mu.Unlock()
		if err != nil {
			w._error(err)
		}
		return
	}
	if rest != nil {
		w.queue = append([]wsItem{{framed: rest}}, w.queue...)
	}
	if len(w.queue) == 0 {
		w.running = false
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	go w.writer()
}

// writeNow frames items and writes them with one write(2) that does not
// wait for the socket: it returns what the socket did not take (a copy),
// nil when it took everything.
func (w *wsTransport) writeNow(items []wsItem) ([]byte, error) {
	bp := frameBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= maxCoalesce*2 {
			*bp = buf[:0]
			frameBufs.Put(bp)
		}
	}()
	for _, it := range items {
		if it.framed != nil {
			buf = append(buf, it.framed...)
			continue
		}
		mt, data, err := w.encode(it)
		if err != nil {
			return nil, err
		}
		buf = appendFrame(buf, mt, data)
	}
	n, err := w.tryWrite(buf)
	if err != nil || n == len(buf) {
		return nil, err
	}
	return append([]byte(nil), buf[n:]...), nil
}

// tryWrite is writeConn without the wait: one write(2) on the socket (non-
// blocking, as the runtime keeps it), which may take part of b or none.
// A part taken is not a torn write: the rest follows, in order.
func (w *wsTransport) tryWrite(b []byte) (int, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.down.Load() || w.torn.Load() {
		return 0, net.ErrClosed
	}
	n, err := rawWrite(w.raw, b)
	if err != nil && n > 0 {
		w.torn.Store(true)
	}
	return n, err
}

// rawWrite writes b to the socket once, without waiting for it to be
// writable: EAGAIN is 0 bytes and no error. A seam for the tests, like
// connWrite.
var rawWrite = func(raw syscall.RawConn, b []byte) (int, error) {
	var n int
	var werr error
	if err := raw.Write(func(fd uintptr) bool {
		n, werr = syscall.Write(int(fd), b)
		return true // one attempt: never wait for the socket
	}); err != nil {
		return 0, err
	}
	if n < 0 {
		n = 0
	}
	if werr == syscall.EAGAIN || werr == syscall.EINTR {
		werr = nil
	}
	return n, werr
}

// kick starts the writer if none runs, and unlocks w.mu.
func (w *wsTransport) kick() {
	start := !w.running
	w.running = true
	w.mu.Unlock()
	if start {
		go w.writer()
	}
}

// maxCoalesce bounds the buffer one write(2) carries; past it the frames go
// out in several writes.
const maxCoalesce = 64 << 10

var frameBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// writer writes what is queued until the queue is empty.
func (w *wsTransport) writer() {
	for {
		w.mu.Lock()
		items, drains := w.queue, w.drains
		w.queue, w.spare, w.drains = w.spare[:0], nil, 0
		if len(items) == 0 || w.closed {
			w.running = false
			w.mu.Unlock()
			return
		}
		// The queue is empty again: a waiting replay may queue its next
		// window while this batch is written.
		w.wake()
		w.mu.Unlock()
		err := w.write(items)
		clear(items)
		w.mu.Lock()
		if w.spare == nil && cap(items) <= 4096 {
			w.spare = items[:0]
		}
		w.mu.Unlock()
		if err != nil {
			w.mu.Lock()
			w.running = false
			w.mu.Unlock()
			w._error(err)
			return
		}
		for range drains {
			w.Emit("drain")
		}
	}
}

func (w *wsTransport) write(items []wsItem) error {
	if w.PerMessageDeflate() != nil {
		// never set by mpmd; kept correct anyway: gorilla compresses
		for _, it := range items {
			mt, data, err := w.encode(it)
			if err != nil {
				return err
			}
			w.socket.EnableWriteCompression(it.pkt == nil || it.pkt.Options == nil || it.pkt.Options.Compress == nil || *it.pkt.Options.Compress)
			if err := w.socket.WriteMessage(mt, data); err != nil {
				return err
			}
		}
		return nil
	}
	bp := frameBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() {
		if cap(buf) <= maxCoalesce*2 {
			*bp = buf[:0]
			frameBufs.Put(bp)
		}
	}()
	for _, it := range items {
		if it.framed != nil {
			buf = append(buf, it.framed...)
		} else {
			mt, data, err := w.encode(it)
			if err != nil {
				return err
			}
			buf = appendFrame(buf, mt, data)
		}
		if len(buf) >= maxCoalesce {
			if err := w.writeConn(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		return w.writeConn(buf)
	}
	return nil
}

// writeConn writes whole frames to the connection, unless the transport
// was shut (its Close frame may be out already).
func (w *wsTransport) writeConn(b []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.down.Load() || w.torn.Load() {
		return net.ErrClosed
	}
	n, err := connWrite(w.socket.NetConn(), b)
	if err != nil && n > 0 {
		w.torn.Store(true)
	}
	return err
}

// connWrite is how writeConn writes frames: the connection's Write, or a
// fault a test injects (export_test.go: a write cut part way).
var connWrite = func(c net.Conn, b []byte) (int, error) { return c.Write(b) }

// control writes a control frame (Pong, Close) between whole frames, as
// writeConn writes them, and none after a torn write.
func (w *wsTransport) control(mt int, data []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.torn.Load() {
		return net.ErrClosed
	}
	return w.socket.WriteControl(mt, data, time.Now().Add(closeGrace))
}

// encode returns a queued item as a websocket message: a pre-built message
// as it is; a packet's pre-encoded frame when it has one (text, the
// Engine.IO "4" prefix included); else the engine's encoding of the packet.
func (w *wsTransport) encode(it wsItem) (int, []byte, error) {
	if it.pkt == nil {
		return ws.TextMessage, it.msg, nil
	}
	p := it.pkt
	if p.Options != nil && p.Options.WsPreEncodedFrame != nil {
		if _, ok := p.Options.WsPreEncodedFrame.(*types.StringBuffer); ok {
			return ws.TextMessage, p.Options.WsPreEncodedFrame.Bytes(), nil
		}
		return ws.BinaryMessage, p.Options.WsPreEncodedFrame.Bytes(), nil
	}
	data, err := w.Parser().EncodePacket(p, w.SupportsBinary())
	if err != nil {
		return 0, nil, err
	}
	if _, ok := data.(*types.StringBuffer); ok {
		return ws.TextMessage, data.Bytes(), nil
	}
	return ws.BinaryMessage, data.Bytes(), nil
}

// appendFrame appends one final, unmasked (server to client) websocket
// frame of type mt carrying data (RFC 6455 §5.2).
func appendFrame(buf []byte, mt int, data []byte) []byte {
	buf = append(buf, 0x80|byte(mt))
	switch n := len(data); {
	case n <= 125:
		buf = append(buf, byte(n))
	case n <= 0xffff:
		buf = append(buf, 126, byte(n>>8), byte(n))
	default:
		buf = append(buf, 127)
		buf = binary.BigEndian.AppendUint64(buf, uint64(n))
	}
	return append(buf, data...)
}

// shut drops what is queued; nothing more is taken or written but the
// Close frame. The session's upgrade claim, if this websocket held it, is
// given back.
func (w *wsTransport) shut() {
	w.down.Store(true)
	w.mu.Lock()
	w.closed = true
	clear(w.queue)
	w.queue = nil
	w.wake()
	w.mu.Unlock()
	if w.claim != nil {
		w.upgrades.release(w.claimed, w.claim)
	}
}

// waitUntil waits until cond (checked under w.mu) holds or the transport
// closed, and reports true, or until patience passed, and reports false.
// It rechecks cond whenever the transport wakes its waiters (wake).
func (w *wsTransport) waitUntil(cond func() bool, patience time.Duration) bool {
	var timer *time.Timer
	for {
		w.mu.Lock()
		if w.closed || cond() {
			w.mu.Unlock()
			return true
		}
		if w.changed == nil {
			w.changed = make(chan struct{})
		}
		ch := w.changed
		w.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(patience)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-timer.C:
			return false
		}
	}
}

// waitBelow waits until fewer than n messages wait to be written, the
// transport closed, or the wait took longer than patience (a client that
// stopped reading: the caller checks whether it is still connected, and the
// ping timeout ends it). It reports whether the queue is below n. A replay
// calls it before queueing each event, so it runs at the client's reading
// pace instead of piling thousands of messages up: a queue past the backlog
// limit gets a client dropped at the next live event.
func (w *wsTransport) waitBelow(n int, patience time.Duration) bool {
	return w.waitUntil(func() bool { return len(w.queue) < n }, patience)
}

// beginConnect counts a namespace CONNECT that the hub's handshake lets
// through; endConnect (from the hub's connection handler) counts it off.
//
// The library acknowledges the CONNECT (from the socket's task queue) before
// it records the namespace as joined, and reads the connection's next
// packets meanwhile (from this transport's reader): an EVENT for that
// namespace read in between finds it not joined, and the library closes the
// whole connection ("invalid state"). A client that emits as soon as it
// has the answer — mpm-hook does — lost its connection that way now and
// then on a busy machine, and one that emits without waiting for the
// answer every time. So the reader holds the next message until every
// CONNECT let through has been recorded (waitConnects). The handshake runs
// on the reader's own goroutine, so the count is up before the reader reads
// on.
func (w *wsTransport) beginConnect() { w.connecting.Add(1) }

func (w *wsTransport) endConnect() {
	if w.connecting.Add(-1) > 0 {
		return
	}
	w.mu.Lock()
	w.wake()
	w.mu.Unlock()
}

// connectPatience bounds how long the reader holds a message for a join:
// a CONNECT the library dropped (its connection closed meanwhile) is never
// counted off.
const connectPatience = 5 * time.Second

// waitConnects waits until no CONNECT is waiting to be recorded, the
// transport closed, or connectPatience passed.
func (w *wsTransport) waitConnects() {
	if w.connecting.Load() > 0 {
		w.waitUntil(func() bool { return w.connecting.Load() <= 0 }, connectPatience)
	}
}

// wake releases every waitUntil to recheck its condition; w.mu is held.
func (w *wsTransport) wake() {
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
}

// OnClose releases the queue and the connection on every close path.
func (w *wsTransport) OnClose() {
	w.shut()
	w.Transport.OnClose()
	_ = w.socket.Close()
}

// DoClose closes the transport: the engine closes the session (an
// invalid packet, a ping timeout, a forced close, shutdown). The client
// gets a Close frame (1000), not just the end of the TCP connection, which
// it would report as an abnormal closure (1006).
func (w *wsTransport) DoClose(fn types.Callable) {
	w.shut()
	if fn != nil {
		fn()
	}
	go w.closeConn()
}

// closeGrace bounds how long closing a websocket waits to write its Close
// frame: a writer stuck on a client that stopped reading is cut off then.
const closeGrace = time.Second

// closeConn writes the Close frame after whatever frames are being written,
// waits (closeGrace at most) for the reader to see the client's Close reply,
// and closes the connection. Closed at once, a connection with the
// client's data unread is reset, and the Close frame can be lost.
func (w *wsTransport) closeConn() {
	_ = w.socket.NetConn().SetWriteDeadline(time.Now().Add(closeGrace))
	err := w.control(ws.CloseMessage, ws.FormatCloseMessage(ws.CloseNormalClosure, ""))
	if err == nil {
		t := time.NewTimer(closeGrace)
		select {
		case <-w.readerDone:
		case <-t.C:
		}
		t.Stop()
	}
	_ = w.socket.Close()
}

// releaseOnHijack hands a websocket upgrade request to next with a
// ResponseWriter that lets go of net/http's once the connection is hijacked.
// The library keeps the ResponseWriter of the upgrade request for the whole
// life of the connection (in its HttpContext), and net/http's response
// holds its connection's 4 KiB read and 4 KiB write buffers, which a
// hijacked connection no longer uses: about 10 KiB per websocket client
// (docs/PERFORMANCE.md, heap profile with 1,000 idle clients).
func releaseOnHijack(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("transport") != transports.WEBSOCKET {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(&hijackWriter{rw: w}, r)
	})
}

// hijackWriter is an http.ResponseWriter and http.Hijacker that forgets the
// ResponseWriter it wraps once hijacked; after that it answers like one of
// a hijacked connection.
type hijackWriter struct {
	mu     sync.Mutex
	rw     http.ResponseWriter // nil once hijacked
	header http.Header
	br     *bufio.Reader // the hijacked connection's read buffer
}

// wsReadBuffer is the size of a websocket's read buffer (gorilla reuses
// the hijacked connection's reader, the one Hijack returns, when it is
// larger than 256 bytes): a frame header and a control frame fit; a
// payload past what is buffered is read straight into the message.
const wsReadBuffer = 512

// reader is the read buffer Hijack handed over, nil before.
func (h *hijackWriter) reader() *bufio.Reader {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.br
}

func (h *hijackWriter) get() http.ResponseWriter {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rw
}

func (h *hijackWriter) Header() http.Header {
	if rw := h.get(); rw != nil {
		return rw.Header()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.header == nil {
		h.header = http.Header{}
	}
	return h.header
}

func (h *hijackWriter) Write(p []byte) (int, error) {
	if rw := h.get(); rw != nil {
		return rw.Write(p)
	}
	return 0, http.ErrHijacked
}

func (h *hijackWriter) WriteHeader(code int) {
	if rw := h.get(); rw != nil {
		rw.WriteHeader(code)
	}
}

func (h *hijackWriter) Flush() {
	if f, ok := h.get().(http.Flusher); ok {
		f.Flush()
	}
}

func (h *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rw == nil {
		return nil, nil, http.ErrHijacked
	}
	hj, ok := h.rw.(http.Hijacker)
	if !ok {
		return nil, nil, http.ErrNotSupported
	}
	c, brw, err := hj.Hijack()
	if err != nil {
		return c, brw, err
	}
	h.rw = nil
	if brw.Reader.Buffered() == 0 {
		// a read buffer of the websocket's size in place of net/http's
		// 4 KiB one (which holds nothing: gorilla refuses the upgrade
		// otherwise)
		h.br = bufio.NewReaderSize(c, wsReadBuffer)
		brw = bufio.NewReadWriter(h.br, brw.Writer)
	}
	return c, brw, nil
}
