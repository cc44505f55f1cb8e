package broadcast

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// mpmd's Engine.IO long-polling transport, registered in place of the
// library's (github.com/zishang520/socket.io/servers/engine/v3 v3.0.6,
// transports/polling.go), as wstransport.go replaces its websocket one.
//
// The library's transport has four faults the official protocol suites
// and mpmd's tests found (docs/RELIABILITY.md), each in how a request is
// matched with the state of the session:
//
//   - It drops the error of decoding a POST's payload: an invalid payload
//     ("abc", an empty body, a valid packet then an invalid one) was
//     answered "ok" and the session lived on. Here it closes the session
//     and is answered 400, as in the reference server.
//   - The engine looks the session up, then hands the request to the
//     transport, which registered a GET without checking that it closed in
//     between (a client's CLOSE racing its poll): that GET was never
//     answered and held its goroutine and connection for good. Here every
//     request is checked against the transport's state under the one lock
//     that also closes it, and one that comes after the close gets 400.
//   - A chunked POST over the size limit was cut at the limit and decoded
//     (the session then closed with a parse error). Here it gets 413, like
//     one whose Content-Length is over the limit, as in the reference.
//   - A flush that races the upgrade's "noop" finds no poll to write to
//     and closes the session. Here packets with no poll to carry them wait
//     for the next one.
//   - (The library's, not its transport's.) An EVENT read right after its
//     namespace's CONNECT — in the same POST, or the next one — finds the
//     namespace not yet joined, and the library closes the connection.
//     Here a POST holds its next packet until the join is recorded
//     (beginConnect), as the websocket transport does.
//
// Three races, which the reference server wins by handling events in the
// order they arrive on its one thread, are decided here the way the client
// meant them:
//
//   - A poll sent together with the client's CLOSE (the reference client
//     does it when it closes between two polls; the official suite does it
//     on purpose) could find the session gone and get 400. A CLOSE with no
//     poll waiting closes the session when the next poll comes (which gets
//     a NOOP) or clientCloseGrace later, whichever is first.
//   - A poll sent after the client's upgrade packets over the new
//     websocket could be taken before them. While a websocket claims the
//     session (upgrades.go) a new poll waits up to upgradeHold for the
//     upgrade; once upgraded, the session refuses it.
//   - A poll that comes a ping interval plus a ping timeout after the
//     session's start or its last pong could find the session alive,
//     because the engine's timers ran late: it is refused, and the session
//     closed, as the timers would.
//
// One mutex guards the pending poll, the packets waiting for a poll and
// the closed state; it is never held while writing a response or emitting
// an event. A response is written by a goroutine of its own: Send is
// called by the engine's flush, which may come from mpmd's fan-out, and a
// slow client must not hold that up. Only one poll is pending at a time,
// and the client sends the next only after it has read a response, so
// responses cannot overtake each other.
//
// JSONP polling (the "j" query parameter) is refused: Engine.IO 4 clients
// do not use it.
type pollTransport struct {
	transports.Transport

	upgrades  *upgrades
	cycle     time.Duration // ping interval + ping timeout: a session that long without a pong is dead
	discarded chan struct{} // closed by Discard (the session upgraded)
	discard   sync.Once

	mu        sync.Mutex
	poll      *types.HttpContext // the GET waiting for packets
	queue     []*packet.Packet   // sent while no poll was waiting
	drains    int                // Sends in queue, each owed a "drain" once written
	posting   bool               // a POST is being read
	closed    bool               // OnClose ran: every request from now on is refused
	closing   func()             // DoClose waiting for the next poll to carry CLOSE
	closeWait *time.Timer        // ends that wait
	lingering *time.Timer        // the client sent CLOSE with no poll waiting: closes at the latest then
	heard     time.Time          // the session's start, or the last pong

	// Namespace CONNECTs let through by the hub's handshake whose join the
	// library has not yet recorded (beginConnect, endConnect): a POST holds
	// its next packet until there are none.
	connecting int
	joinWait   chan struct{} // closed when connecting is back to 0 or the transport closes
}

// clientCloseGrace is how long a session the client closed with no poll
// waiting stays, for a poll racing the CLOSE to be answered cleanly.
const clientCloseGrace = 100 * time.Millisecond

// pollCloseTimeout is how long a server-side close waits for the client's
// next poll to carry the CLOSE packet (the library's and the reference's
// closeTimeout).
const pollCloseTimeout = transports.DefaultPollingCloseTimeout

// pollBuilder constructs pollTransport for the engine (ServerOptions.SetTransports).
type pollBuilder struct {
	upgrades *upgrades
	cycle    time.Duration // the ping interval plus the ping timeout
}

func (b pollBuilder) New(ctx *types.HttpContext) transports.Transport {
	p := &pollTransport{Transport: transports.MakeTransport(), upgrades: b.upgrades, cycle: b.cycle,
		discarded: make(chan struct{}), heard: time.Now()}
	p.Prototype(p)
	p.Construct(ctx)
	if ctx.Query().Has("j") {
		p.SetReadyState("closed") // the engine then answers 400
	}
	return p
}
func (pollBuilder) Name() string          { return transports.POLLING }
func (pollBuilder) HandlesUpgrades() bool { return false }
func (pollBuilder) UpgradesTo() []string  { return []string{transports.WEBSOCKET} }

func (p *pollTransport) Name() string          { return transports.POLLING }
func (p *pollTransport) HandlesUpgrades() bool { return false }

// OnRequest takes one HTTP request of the session: a GET waits for
// packets, a POST carries packets from the client.
func (p *pollTransport) OnRequest(ctx *types.HttpContext) {
	if ctx.IsDone() || ctx.Context().Err() != nil {
		return
	}
	switch ctx.Method() {
	case http.MethodGet:
		p.onPoll(ctx)
	case http.MethodPost:
		p.onData(ctx)
	default:
		ctx.ResponseHeaders().Set("Allow", "GET, POST")
		refuse(ctx, http.StatusMethodNotAllowed, "Method not allowed")
	}
}

// onPoll registers a GET to carry the next packets.
func (p *pollTransport) onPoll(ctx *types.HttpContext) {
	p.awaitUpgrade(ctx)
	// Listen before the poll is registered, so that its end is not missed;
	// pollGone ignores a poll that was never registered or was answered.
	_ = ctx.Once("close", func(args ...any) {
		// nil: the response was written; anything else: the request ended
		// first (the client went away, or the poll's time ran out).
		if len(args) > 0 && args[0] != nil {
			p.pollGone(ctx)
		}
	})
	p.mu.Lock()
	switch {
	case p.closed || p.Discarded():
		p.mu.Unlock()
		refuse(ctx, http.StatusBadRequest, "Session closed")
		return
	case p.cycle > 0 && time.Since(p.heard) > p.cycle:
		// No pong for a ping interval plus a ping timeout: the engine's
		// timer closes the session any moment (it may run late on a busy
		// machine); the poll must not find it alive meanwhile.
		p.mu.Unlock()
		p.OnError("ping timeout", nil)
		refuse(ctx, http.StatusBadRequest, "Session closed")
		return
	case p.lingering != nil:
		// The client closed the session with this poll under way.
		p.poll = ctx
		p.mu.Unlock()
		p.OnClose() // answers it with a NOOP
		return
	case p.poll != nil:
		p.mu.Unlock()
		// A second poll while one waits: the client is confused, and the
		// reference closes the session (the first poll gets CLOSE).
		p.OnError("overlap from client", nil)
		refuse(ctx, http.StatusBadRequest, "Overlapping poll")
		return
	}
	p.poll = ctx
	p.SetWritable(true)
	closing := p.closing != nil
	queued := len(p.queue) > 0
	p.mu.Unlock()

	switch {
	case closing:
		p.mu.Lock()
		p.queue = append(p.queue, &packet.Packet{Type: packet.NOOP}) // carries the CLOSE
		p.writeLocked()
	case queued:
		p.mu.Lock()
		p.writeLocked()
	default:
		p.Emit("ready") // the engine flushes what it holds
	}
}

// awaitUpgrade waits, up to upgradeHold, while an upgrade of the session
// is under way.
func (p *pollTransport) awaitUpgrade(ctx *types.HttpContext) {
	if p.upgrades != nil && !p.Discarded() {
		p.upgrades.await(p.Sid(), p.discarded, ctx.Context().Done())
	}
}

// Discard marks the transport as replaced by an upgrade.
func (p *pollTransport) Discard() {
	p.Transport.Discard()
	p.discard.Do(func() { close(p.discarded) })
}

// pollGone ends the session of a poll that ended before it was answered,
// as the library and the reference do.
func (p *pollTransport) pollGone(ctx *types.HttpContext) {
	p.mu.Lock()
	if p.poll != ctx {
		p.mu.Unlock()
		return
	}
	p.poll = nil
	p.SetWritable(false)
	p.mu.Unlock()
	p.OnError("poll connection closed prematurely", nil)
}

// Send writes a flush's packets to the waiting poll, or keeps them for the
// next one. Each Send is owed one "drain" once written (the engine counts
// on it); the transport's own NOOP and CLOSE packets are not.
func (p *pollTransport) Send(packets []*packet.Packet) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.queue = append(p.queue, packets...)
	p.drains++
	p.writeLocked()
}

// writeLocked hands what is queued to the waiting poll, if there is one,
// and unlocks p.mu.
func (p *pollTransport) writeLocked() {
	ctx := p.poll
	if ctx == nil || len(p.queue) == 0 {
		p.mu.Unlock()
		return
	}
	packets, drains, closing := p.queue, p.drains, p.closing
	p.queue, p.drains, p.poll, p.closing = nil, 0, nil, nil
	p.SetWritable(false)
	if closing != nil {
		p.closeWait.Stop()
		packets = append(packets, &packet.Packet{Type: packet.CLOSE})
	}
	p.mu.Unlock()
	go p.respond(ctx, packets, drains, closing)
}

// respond answers a poll with packets, then reports the drains owed and
// runs closed (a close that waited for this poll), if any.
func (p *pollTransport) respond(ctx *types.HttpContext, packets []*packet.Packet, drains int, closed func()) {
	err := p.write(ctx, packets)
	if closed != nil {
		closed()
	}
	if err != nil {
		p.OnError("poll connection closed prematurely", err)
		return
	}
	for range drains {
		p.Emit("drain")
	}
}

func (p *pollTransport) write(ctx *types.HttpContext, packets []*packet.Packet) error {
	data, err := p.Parser().EncodePayload(packets)
	if err != nil {
		refuse(ctx, http.StatusInternalServerError, "Encoding error")
		return err
	}
	body := data.Bytes()
	h := types.NewParameterBag(map[string][]string{"Content-Type": {"text/plain; charset=UTF-8"}})
	if enc := p.compression(ctx, packets, len(body)); enc != "" {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(body)
		if zw.Close() == nil {
			body = buf.Bytes()
			h.Set("Content-Encoding", enc)
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	p.headers(ctx, h)
	_ = ctx.SetStatusCode(http.StatusOK)
	_, err = ctx.Write(body)
	return err
}

// compression is "gzip" when a response of n bytes should be gzipped: the
// engine's threshold is met, the client accepts it, and some packet asks
// for compression (the engine's default).
func (p *pollTransport) compression(ctx *types.HttpContext, packets []*packet.Packet, n int) string {
	c := p.HttpCompression()
	if c == nil || n < c.Threshold || !strings.Contains(ctx.Headers().Peek("Accept-Encoding"), "gzip") {
		return ""
	}
	for _, pkt := range packets {
		if pkt.Options != nil && pkt.Options.Compress != nil && *pkt.Options.Compress {
			return "gzip"
		}
	}
	return ""
}

// headers adds the headers every response of the transport carries, and
// lets the engine add its own (the "headers" event: cookies, hooks).
func (p *pollTransport) headers(ctx *types.HttpContext, h *types.ParameterBag) {
	h.Set("Cache-Control", "no-store")
	p.Emit("headers", h, ctx)
	ctx.ResponseHeaders().With(h.All())
}

// onData reads a POST's payload and hands its packets to the engine.
func (p *pollTransport) onData(ctx *types.HttpContext) {
	p.mu.Lock()
	switch {
	case p.closed:
		p.mu.Unlock()
		refuse(ctx, http.StatusBadRequest, "Session closed")
		return
	case p.lingering != nil:
		p.mu.Unlock()
		refuse(ctx, http.StatusBadRequest, "Session closed")
		return
	case p.posting:
		p.mu.Unlock()
		p.OnError("data request overlap from client", nil)
		refuse(ctx, http.StatusBadRequest, "Overlapping POST")
		return
	}
	p.posting = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.posting = false
		p.mu.Unlock()
	}()

	if ctx.Headers().Peek("Content-Type") == "application/octet-stream" {
		// Engine.IO 4 sends binary as base64 text over polling.
		p.OnError("invalid content", nil)
		refuse(ctx, http.StatusBadRequest, "Binary payloads are not part of Engine.IO 4")
		return
	}
	limit := p.MaxHttpBufferSize()
	if ctx.Request().ContentLength > limit {
		refuse(ctx, http.StatusRequestEntityTooLarge, "Payload too large")
		return
	}
	var body []byte
	if r := ctx.Request().Body; r != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r, limit+1))
		if err != nil {
			p.OnError("data request connection closed prematurely", err)
			refuse(ctx, http.StatusBadRequest, "Could not read the payload")
			return
		}
	}
	if int64(len(body)) > limit {
		// As with a Content-Length over the limit: refused, and the
		// session lives on (the reference does the same).
		refuse(ctx, http.StatusRequestEntityTooLarge, "Payload too large")
		return
	}
	packets, err := p.Parser().DecodePayload(types.NewStringBuffer(body))
	for _, pkt := range packets {
		p.waitConnects()
		switch pkt.Type {
		case packet.CLOSE:
			p.clientClose()
			p.ok(ctx)
			return
		case packet.PONG:
			p.mu.Lock()
			p.heard = time.Now()
			p.mu.Unlock()
		}
		p.OnPacket(pkt)
	}
	if err != nil || len(packets) == 0 {
		// The reference decodes an invalid packet as an error packet,
		// which closes the session; the packets before it count.
		if err == nil {
			err = errors.New("empty payload")
		}
		p.OnError("parse error", err)
		refuse(ctx, http.StatusBadRequest, "Invalid payload")
		return
	}
	p.ok(ctx)
}

// beginConnect counts a namespace CONNECT that the hub's handshake lets
// through; endConnect (from the hub's connection handler, once the library
// has recorded the join) counts it off.
//
// The library acknowledges the CONNECT (from the socket's task queue)
// before it records the namespace as joined, while the POST that carried
// it goes on handing packets over: an EVENT for that namespace handed over
// in between — the next packet of the same payload, or the first of the
// client's next POST — finds it not joined, and the library closes the
// whole connection ("invalid state"). So onData holds each packet until
// every CONNECT let through has been recorded (waitConnects), as
// wsTransport.beginConnect does for websocket messages. The handshake runs
// inside OnPacket, on the POST's goroutine, so the count is up before the
// next packet is looked at.
func (p *pollTransport) beginConnect() {
	p.mu.Lock()
	p.connecting++
	p.mu.Unlock()
}

func (p *pollTransport) endConnect() {
	p.mu.Lock()
	if p.connecting--; p.connecting <= 0 && p.joinWait != nil {
		close(p.joinWait)
		p.joinWait = nil
	}
	p.mu.Unlock()
}

// waitConnects waits until no CONNECT is waiting to be recorded, the
// transport closed, or connectPatience passed (a CONNECT the library
// dropped, its connection closing meanwhile, is never counted off).
func (p *pollTransport) waitConnects() {
	var timer *time.Timer
	for {
		p.mu.Lock()
		if p.connecting <= 0 || p.closed {
			p.mu.Unlock()
			return
		}
		if p.joinWait == nil {
			p.joinWait = make(chan struct{})
		}
		ch := p.joinWait
		p.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(connectPatience)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-timer.C:
			return
		}
	}
}

// clientClose closes the session on the client's CLOSE: at once when a
// poll is waiting (it gets a NOOP), else when the next poll comes or
// clientCloseGrace has passed.
func (p *pollTransport) clientClose() {
	p.mu.Lock()
	if p.poll != nil || p.closed {
		p.mu.Unlock()
		p.OnClose()
		return
	}
	if p.lingering == nil {
		p.lingering = time.AfterFunc(clientCloseGrace, p.OnClose)
	}
	p.mu.Unlock()
}

// ok answers a POST whose packets were taken.
func (p *pollTransport) ok(ctx *types.HttpContext) {
	// text/html, not text/plain: some user agents offer text/plain
	// responses as a download (engine.io GH-43).
	p.headers(ctx, types.NewParameterBag(map[string][]string{"Content-Type": {"text/html"}, "Content-Length": {"2"}}))
	_ = ctx.SetStatusCode(http.StatusOK)
	_, _ = io.WriteString(ctx, "ok")
}

// refuse answers a request with code and an Engine.IO error body.
func refuse(ctx *types.HttpContext, code int, msg string) {
	b, _ := json.Marshal(map[string]any{"code": 3, "message": msg})
	ctx.ResponseHeaders().Set("Content-Type", "application/json")
	ctx.ResponseHeaders().Set("Cache-Control", "no-store")
	_ = ctx.SetStatusCode(code)
	_, _ = ctx.Write(b)
}

// DoClose closes the transport: at once, with a CLOSE packet to the
// waiting poll, when there is one (or the transport was discarded by an
// upgrade); else the client's next poll carries the CLOSE, or
// pollCloseTimeout ends the wait.
func (p *pollTransport) DoClose(fn types.Callable) {
	done := func() {
		if fn != nil {
			fn()
		}
		p.OnClose()
	}
	p.mu.Lock()
	switch {
	case p.poll != nil:
		p.queue = append(p.queue, &packet.Packet{Type: packet.CLOSE})
		p.writeLocked()
		done()
	case p.Discarded():
		p.mu.Unlock()
		done()
	default:
		var once sync.Once
		closing := func() { once.Do(done) }
		p.closing = closing
		p.closeWait = time.AfterFunc(pollCloseTimeout, func() {
			p.mu.Lock()
			waited := p.closing != nil
			p.closing = nil
			p.mu.Unlock()
			if waited {
				closing()
			}
		})
		p.mu.Unlock()
	}
}

// OnClose marks the transport closed — every request from now on is
// refused — and answers a waiting poll with a NOOP, so it ends cleanly.
func (p *pollTransport) OnClose() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	poll := p.poll
	p.poll, p.queue, p.drains = nil, nil, 0
	p.SetWritable(false)
	if p.closeWait != nil {
		p.closeWait.Stop()
	}
	if p.lingering != nil {
		p.lingering.Stop()
	}
	if p.joinWait != nil {
		close(p.joinWait) // a POST holding a packet for a join goes on
		p.joinWait = nil
	}
	p.mu.Unlock()
	if poll != nil {
		go func() { _ = p.write(poll, []*packet.Packet{{Type: packet.NOOP}}) }()
	}
	p.Transport.OnClose()
}
