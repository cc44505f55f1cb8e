package wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// DialOptions configure one Socket.IO connection.
type DialOptions struct {
	// Token goes into the handshake auth (and the Authorization header)
	// when set.
	Token string
	// Producer marks a client that only emits: mpmd puts it in no room.
	Producer bool
	// SinceSeq asks for replay of every stored event with a greater seq
	// before live events; nil means live events only.
	SinceSeq *int64
	// SessionID limits delivery to one Claude Code session's events.
	SessionID string
	// ConnectTimeout bounds one connection attempt; default 2s. The whole
	// Dial is also bounded by ctx.
	ConnectTimeout time.Duration
	// Retries is how many more attempts follow a failed one (default 0).
	// Neither a refused handshake (bad token) nor a refused TCP connection
	// (nothing listens: ErrNoDaemon) is retried.
	Retries int
	// OnEvent, when set, receives every event of the namespace, one at a
	// time in the order they arrive, replayed ones (SinceSeq) included. It
	// runs on the connection's reader: while it runs nothing else is read,
	// so it must not wait for an ack on the same connection.
	OnEvent Handler
	// MaxMessage bounds one message from the server; default 64 MiB.
	MaxMessage int64
}

// DefaultAckTimeout bounds Emit when ctx has no deadline.
const DefaultAckTimeout = 5 * time.Second

// Conn is a connection to one namespace of mpmd.
type Conn struct {
	ns      string
	ws      *wsConn
	onEvent Handler
	// Engine.IO's liveness: the server pings every interval and gives up
	// when no pong comes within timeout; the client gives up when no ping
	// came within both.
	pingInterval, pingTimeout time.Duration
	maxPayload                int64

	mu     sync.Mutex
	nextID int64
	acks   map[int64]chan []any
	reason string

	done chan struct{}
	once sync.Once
}

// open is the Engine.IO open packet's JSON.
type open struct {
	SID          string `json:"sid"`
	PingInterval int64  `json:"pingInterval"`
	PingTimeout  int64  `json:"pingTimeout"`
	MaxPayload   int64  `json:"maxPayload"`
}

// Dial connects to namespace ("/hook", "/system", …) of the mpmd at baseURL
// ("http://127.0.0.1:8765").
func Dial(ctx context.Context, baseURL, namespace string, o DialOptions) (*Conn, error) {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 2 * time.Second
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = 64 << 20
	}
	if !strings.HasPrefix(namespace, "/") {
		namespace = "/" + namespace
	}
	t, err := parseTarget(baseURL)
	if err != nil {
		return nil, err
	}
	for attempt := 0; attempt <= max(o.Retries, 0); attempt++ {
		var c *Conn
		c, err = dialOnce(ctx, t, baseURL, namespace, o)
		if err == nil {
			return c, nil
		}
		var ce *ConnectError
		if errors.As(err, &ce) || errors.Is(err, ErrNoDaemon) || ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

func dialOnce(ctx context.Context, t target, baseURL, ns string, o DialOptions) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	stage := "TCP connection"
	fail := func(err error) error {
		var ne net.Error
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			return fmt.Errorf("connect to %s%s: no %s within %s", baseURL, ns, stage, o.ConnectTimeout)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("connect to %s%s: %w", baseURL, ns, ctx.Err())
		}
		var ce *ConnectError
		if errors.As(err, &ce) {
			return err
		}
		return fmt.Errorf("connect to %s%s: %s: %w", baseURL, ns, stage, err)
	}
	nc, err := dialTCP(ctx, t, true)
	if err != nil {
		if errors.Is(err, ErrNoDaemon) {
			return nil, err
		}
		return nil, fail(err)
	}
	stop := deadlineFromContext(ctx, nc)
	ok := false
	defer func() {
		if !ok {
			_ = nc.Close()
		}
	}()

	stage = "websocket upgrade"
	var extra []string
	if o.Token != "" {
		extra = append(extra, "Authorization: Bearer "+o.Token)
	}
	ws, err := wsHandshake(nc, t, "/socket.io/?EIO=4&transport=websocket", extra, o.MaxMessage)
	if err != nil {
		return nil, fail(err)
	}
	c := &Conn{ns: ns, ws: ws, onEvent: o.OnEvent, acks: map[int64]chan []any{}, done: make(chan struct{})}

	stage = "Engine.IO open packet"
	op, msg, err := ws.readMessage()
	if err != nil {
		return nil, fail(err)
	}
	var opn open
	if op != opText || len(msg) == 0 || msg[0] != '0' || decodeJSON(msg[1:], &opn) != nil {
		return nil, fail(fmt.Errorf("%w: the first message is %q, not an Engine.IO open packet", errPacket, shortBytes(msg)))
	}
	c.pingInterval = time.Duration(opn.PingInterval) * time.Millisecond
	c.pingTimeout = time.Duration(opn.PingTimeout) * time.Millisecond
	c.maxPayload = opn.MaxPayload

	stage = "answer to the namespace handshake"
	auth := HandshakeAuth(o.Token, o.Producer, o.SinceSeq, o.SessionID)
	a, _ := json.Marshal(auth)
	dl, _ := ctx.Deadline()
	if err := ws.writeFrame(opText, encodePacket(sioConnect, ns, -1, a), dl); err != nil {
		return nil, fail(err)
	}
	for {
		op, msg, err := ws.readMessage()
		if err != nil {
			return nil, fail(err)
		}
		if op != opText || len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case '2': // ping
			if err := ws.writeFrame(opText, append([]byte{'3'}, msg[1:]...), dl); err != nil {
				return nil, fail(err)
			}
			continue
		case '1':
			return nil, fail(errors.New("the server closed the Engine.IO session"))
		case '4':
		default:
			continue
		}
		p, err := parsePacket(msg[1:])
		if err != nil {
			return nil, fail(err)
		}
		if p.ns != ns {
			continue
		}
		switch p.typ {
		case sioConnect:
		case sioConnectError:
			return nil, connectError(p.data)
		case sioDisconnect:
			return nil, fail(errors.New("the server disconnected the namespace during the handshake"))
		default:
			continue
		}
		break
	}
	// Connected. From here on the connection lives until Close or the
	// server ends it, whatever happens to ctx.
	if !stop() {
		return nil, fail(ctx.Err())
	}
	_ = nc.SetDeadline(time.Time{})
	ok = true
	go c.readLoop()
	return c, nil
}

// HandshakeAuth is the Socket.IO CONNECT auth object mpmd reads: token,
// producer (a client that only emits joins no room), since_seq (replay every
// stored event after it) and session_id (one session's events only), each
// only when set. pkg/client sends the same.
func HandshakeAuth(token string, producer bool, sinceSeq *int64, sessionID string) map[string]any {
	auth := map[string]any{}
	if token != "" {
		auth["token"] = token
	}
	if producer {
		auth["producer"] = true
	}
	if sinceSeq != nil {
		auth["since_seq"] = *sinceSeq
	}
	if sessionID != "" {
		auth["session_id"] = sessionID
	}
	return auth
}

// connectError reads a CONNECT_ERROR's data: {"message", "data": {"code"}}.
func connectError(data []byte) error {
	var d struct {
		Message string `json:"message"`
		Data    any    `json:"data"`
	}
	ce := &ConnectError{Msg: "connection refused"}
	if decodeJSON(data, &d) == nil {
		if d.Message != "" {
			ce.Msg = d.Message
		}
		if m, ok := d.Data.(map[string]any); ok {
			ce.Code, _ = m["code"].(string)
		}
	}
	return ce
}

// readLoop reads the server's messages until the connection ends.
func (c *Conn) readLoop() {
	for {
		if c.pingInterval > 0 {
			_ = c.ws.c.SetReadDeadline(time.Now().Add(c.pingInterval + c.pingTimeout))
		}
		op, msg, err := c.ws.readMessage()
		if err != nil {
			c.finish(readReason(err))
			return
		}
		if op != opText || len(msg) == 0 {
			continue
		}
		switch msg[0] {
		case '2':
			if err := c.ws.writeFrame(opText, append([]byte{'3'}, msg[1:]...), time.Now().Add(c.writeGrace())); err != nil {
				c.finish("transport error: " + err.Error())
				return
			}
		case '1':
			c.finish("transport close")
			return
		case '4':
			if !c.handle(msg[1:]) {
				return
			}
		}
	}
}

func (c *Conn) writeGrace() time.Duration {
	if c.pingTimeout > 0 {
		return c.pingTimeout
	}
	return 5 * time.Second
}

func readReason(err error) string {
	var ce *CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		return "transport close: " + ce.Error()
	case errors.Is(err, net.ErrClosed):
		return "closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "ping timeout"
	default:
		return "transport error: " + err.Error()
	}
}

// handle dispatches one Socket.IO packet; false when the connection ended.
func (c *Conn) handle(b []byte) bool {
	p, err := parsePacket(b)
	if err != nil || p.ns != c.ns {
		return true
	}
	switch p.typ {
	case sioEvent:
		var args []any
		if decodeJSON(p.data, &args) != nil || len(args) == 0 {
			return true
		}
		name, _ := args[0].(string)
		var data map[string]any
		if len(args) > 1 {
			data, _ = args[1].(map[string]any)
		}
		if p.id >= 0 {
			// The server asked for an ack; say it arrived.
			_ = c.ws.writeFrame(opText, encodePacket(sioAck, c.ns, p.id, []byte("[]")), time.Now().Add(c.writeGrace()))
		}
		if c.onEvent != nil && name != "" {
			c.onEvent(name, data)
		}
	case sioAck:
		var args []any
		if decodeJSON(p.data, &args) != nil {
			args = nil
		}
		c.mu.Lock()
		ch := c.acks[p.id]
		delete(c.acks, p.id)
		c.mu.Unlock()
		if ch != nil {
			ch <- args
		}
	case sioDisconnect:
		c.finish("io server disconnect")
		return false
	}
	return true
}

func (c *Conn) finish(reason string) {
	c.once.Do(func() {
		c.mu.Lock()
		c.reason = reason
		c.mu.Unlock()
		close(c.done)
		_ = c.ws.c.Close()
	})
}

// Namespace returns the namespace this connection is on.
func (c *Conn) Namespace() string { return c.ns }

// Done is closed when the connection ends (Close, or mpmd went away).
func (c *Conn) Done() <-chan struct{} { return c.done }

// Reason says why the connection ended, once Done is closed.
func (c *Conn) Reason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// Close leaves the namespace and closes the connection. It does not wait
// for the server.
func (c *Conn) Close() {
	select {
	case <-c.done:
		return
	default:
	}
	dl := time.Now().Add(50 * time.Millisecond)
	_ = c.ws.writeFrame(opText, encodePacket(sioDisconnect, c.ns, -1, nil), dl)
	_ = c.ws.writeFrame(opText, []byte{'1'}, dl)
	c.ws.close()
	c.finish("closed")
}

// Emit sends event with data and waits for mpmd's ack (until ctx ends, or
// DefaultAckTimeout when ctx has no deadline).
func (c *Conn) Emit(ctx context.Context, event string, data map[string]any) (Ack, error) {
	args, err := c.Request(ctx, event, data)
	if err != nil {
		return Ack{}, err
	}
	return ParseAck(args)
}

// Request emits event with data and returns the ack's arguments as they
// came (numbers as json.Number). It waits like Emit.
func (c *Conn) Request(ctx context.Context, event string, data any) ([]any, error) {
	ctx, cancel := ackContext(ctx)
	defer cancel()
	p, err := c.send(ctx, event, data)
	if err != nil {
		return nil, err
	}
	return p.wait(ctx)
}

// Pending is an event that was sent and whose ack is still to come.
type Pending struct {
	c     *Conn
	event string
	id    int64
	ch    chan []any
}

// Send emits event with data without waiting for the ack: events sent one
// after another on a connection reach mpmd in that order, and their acks
// can then be awaited together (Pending.Wait), which is how a backlog is
// delivered in one round trip instead of one per event.
func (c *Conn) Send(ctx context.Context, event string, data map[string]any) (*Pending, error) {
	return c.send(ctx, event, data)
}

// Wait waits for the ack of p like Emit does.
func (p *Pending) Wait(ctx context.Context) (Ack, error) {
	ctx, cancel := ackContext(ctx)
	defer cancel()
	args, err := p.wait(ctx)
	if err != nil {
		return Ack{}, err
	}
	return ParseAck(args)
}

// ackContext bounds ctx by DefaultAckTimeout when it has no deadline.
func ackContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, DefaultAckTimeout)
}

func (c *Conn) send(ctx context.Context, event string, data any) (*Pending, error) {
	if ctx.Err() != nil {
		return nil, fmt.Errorf("emit %s %s: %w", c.ns, event, ctx.Err())
	}
	payload, err := json.Marshal([]any{event, data})
	if err != nil {
		return nil, fmt.Errorf("emit %s %s: %w", c.ns, event, err)
	}
	if c.maxPayload > 0 && int64(len(payload))+32+int64(len(c.ns)) > c.maxPayload {
		// mpmd would close the whole connection (websocket 1009) over
		// it; say what is wrong instead. No retry or later delivery can
		// fix it, so it reads like mpmd's refusal of an invalid event.
		return nil, &AckError{Msg: fmt.Sprintf("%s %s is %d bytes, over the %d bytes mpmd accepts in one message", c.ns, event, len(payload), c.maxPayload), Code: "invalid"}
	}
	p := &Pending{c: c, event: event, ch: make(chan []any, 1)}
	c.mu.Lock()
	p.id = c.nextID
	c.nextID++
	c.acks[p.id] = p.ch
	c.mu.Unlock()
	dl, _ := ctx.Deadline()
	if err := c.ws.writeFrame(opText, encodePacket(sioEvent, c.ns, p.id, payload), dl); err != nil {
		p.forget()
		// Part of the frame may have gone out: nothing more can be
		// sent on this connection.
		defer c.finish("write failed: " + err.Error())
		select {
		case <-c.done:
			return nil, fmt.Errorf("emit %s %s: connection closed (%s)", c.ns, event, c.Reason())
		default:
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("emit %s %s: %w", c.ns, event, ctx.Err())
		}
		return nil, fmt.Errorf("emit %s %s: %w", c.ns, event, err)
	}
	return p, nil
}

func (p *Pending) forget() {
	p.c.mu.Lock()
	delete(p.c.acks, p.id)
	p.c.mu.Unlock()
}

func (p *Pending) wait(ctx context.Context) ([]any, error) {
	defer p.forget()
	c, event := p.c, p.event
	select {
	case args := <-p.ch:
		return args, nil
	case <-c.done:
		// The ack may have come just before the end.
		select {
		case args := <-p.ch:
			return args, nil
		default:
		}
		return nil, fmt.Errorf("emit %s %s: connection closed (%s)", c.ns, event, c.Reason())
	case <-ctx.Done():
		return nil, fmt.Errorf("emit %s %s: %w", c.ns, event, ctx.Err())
	}
}
