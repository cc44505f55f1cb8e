package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpm-dev/mpm/pkg/wire"
	engine "github.com/zishang520/socket.io/clients/engine/v3"
	socketio "github.com/zishang520/socket.io/clients/socket/v3"
	"github.com/zishang520/socket.io/parsers/socket/v3/parser"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// DialOptions configure one Socket.IO connection.
type DialOptions struct {
	// Token goes into the handshake auth when set.
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
	// Retries is how many more attempts follow a failed one (default 0,
	// negative means none). Refused handshakes (bad token) are not retried.
	Retries int
	// OnEvent, when set, receives every event of the namespace. It is
	// registered before the handshake, so no replayed event is missed.
	OnEvent Handler
}

// Conn is a connection to one namespace of mpmd.
type Conn struct {
	ns      string
	manager *socketio.Manager
	sock    *socketio.Socket
	done    chan struct{}
	once    sync.Once
	reason  string
	mu      sync.Mutex
}

// Dial connects to namespace ("/hook", "/system", …) of the mpmd at baseURL.
func Dial(ctx context.Context, baseURL, namespace string, o DialOptions) (*Conn, error) {
	timeout := o.ConnectTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	// The library reports a refused connection only when its connect
	// timeout fires; a plain TCP dial says so (ErrNoDaemon) in
	// microseconds.
	if err := probe(ctx, baseURL, timeout); err != nil {
		return nil, err
	}
	var err error
	for attempt := 0; attempt <= max(o.Retries, 0); attempt++ {
		var c *Conn
		c, err = dialOnce(ctx, baseURL, namespace, o, timeout)
		if err == nil {
			return c, nil
		}
		var ce *ConnectError
		if errors.As(err, &ce) || ctx.Err() != nil {
			break
		}
	}
	return nil, err
}

func dialOnce(ctx context.Context, baseURL, namespace string, o DialOptions, timeout time.Duration) (*Conn, error) {
	opts := socketio.DefaultOptions()
	opts.SetTransports(types.NewSet[engine.TransportCtor](socketio.WebSocket))
	opts.SetReconnection(false)
	opts.SetForceNew(true)
	opts.SetMultiplex(false)
	opts.SetAutoConnect(false)
	opts.SetTimeout(timeout)
	auth := wire.HandshakeAuth(o.Token, o.Producer, o.SinceSeq, o.SessionID)
	opts.SetAuth(auth)

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	timedOut := func(stage string) error {
		return fmt.Errorf("connect to %s%s: no %s within %s", baseURL, namespace, stage, timeout)
	}

	// First the Engine.IO connection alone. Socket.Connect on a manager
	// that is still opening can send the namespace's CONNECT twice (once
	// from the manager's open event, once from its own state check); on
	// an open manager it sends it once.
	m := socketio.NewManager(baseURL, opts)
	opened := make(chan error, 1)
	m.Open(func(err error) {
		select {
		case opened <- err:
		default:
		}
	})
	closeManager := func() {
		if e := m.Engine(); e != nil {
			e.Close()
		}
	}
	// The library dials the transport and starts its reader inside
	// Manager.Open, before it listens for the transport's open event.
	// mpmd sends the Engine.IO open packet with the 101 response, so the
	// reader can emit "open" before anyone listens (about one dial in a
	// thousand here, more on a fast machine), and Open would hang. Spot an
	// engine that is open while the manager is not, and emit the lost
	// event again: the manager's listener is registered by then, and the
	// server sends nothing more until the namespace's CONNECT.
	tick := time.NewTicker(lostOpenPoll)
	var engineOpenSince time.Time
	replayed := false
wait:
	for {
		select {
		case err := <-opened:
			if err != nil {
				tick.Stop()
				closeManager()
				return nil, fmt.Errorf("connect to %s: %w", baseURL, err)
			}
			break wait
		case <-tick.C:
			e := m.Engine()
			if replayed || e == nil || e.ReadyState() != engine.SocketStateOpen {
				continue
			}
			if engineOpenSince.IsZero() {
				engineOpenSince = time.Now()
			} else if time.Since(engineOpenSince) >= lostOpenGrace {
				replayed = true
				e.Emit("open")
			}
		case <-deadline.C:
			tick.Stop()
			closeManager()
			return nil, timedOut("Engine.IO handshake")
		case <-ctx.Done():
			tick.Stop()
			closeManager()
			return nil, fmt.Errorf("connect to %s%s: %w", baseURL, namespace, ctx.Err())
		}
	}
	tick.Stop()

	// Then the namespace.
	s := m.Socket(namespace, opts)
	c := &Conn{ns: namespace, manager: m, sock: s, done: make(chan struct{})}
	result := make(chan error, 1)
	// The library loses the server's message of a connect_error packet
	// without a data field ("invalid type for 'data' field"), so read it
	// from the decoded packet, which the manager hands out first.
	var refusal atomic.Pointer[string]
	m.On("packet", func(args ...any) {
		for _, a := range args {
			if p, ok := a.(*parser.Packet); ok && p.Type == parser.CONNECT_ERROR && p.Nsp == namespace {
				msg := "connection refused"
				if d, ok := p.Data.(map[string]any); ok {
					if s, ok := d["message"].(string); ok {
						msg = s
					}
				}
				refusal.Store(&msg)
			}
		}
	})
	s.Once("connect", func(...any) {
		select {
		case result <- nil:
		default:
		}
	})
	s.Once("connect_error", func(args ...any) {
		err := connectErr(args)
		if msg := refusal.Load(); msg != nil {
			err = &ConnectError{Msg: *msg}
		}
		select {
		case result <- err:
		default:
		}
	})
	s.On("disconnect", func(args ...any) {
		reason := "disconnected"
		if len(args) > 0 {
			if r, ok := args[0].(string); ok {
				reason = r
			}
		}
		c.finish(reason)
		// A disconnect before the handshake finished is a failed connect.
		select {
		case result <- fmt.Errorf("connect to %s%s: %s", baseURL, namespace, reason):
		default:
		}
	})
	if o.OnEvent != nil {
		c.OnAny(o.OnEvent)
	}
	s.Connect()

	select {
	case err := <-result:
		if err != nil {
			c.Close()
			closeManager()
			return nil, err
		}
		return c, nil
	case <-deadline.C:
		c.Close()
		closeManager()
		return nil, timedOut("answer to the namespace handshake")
	case <-ctx.Done():
		c.Close()
		closeManager()
		return nil, fmt.Errorf("connect to %s%s: %w", baseURL, namespace, ctx.Err())
	}
}

// How the lost-open race of the library is spotted. The grace is what the
// manager gets to notice an open transport before its open event is emitted
// again; on a loaded machine (a -race test run beside others) its goroutine
// can take tens of milliseconds, and an emit while its listener still runs
// would open the manager twice.
const (
	lostOpenPoll  = 2 * time.Millisecond
	lostOpenGrace = 100 * time.Millisecond
)

// connectErr turns the library's connect_error arguments into an error. A
// packet from the server (an *ExtendedError or an error with the server's
// message) is a ConnectError; transport failures are plain errors.
func connectErr(args []any) error {
	if len(args) == 0 {
		return errors.New("connect failed")
	}
	switch e := args[0].(type) {
	case *types.ExtendedError:
		return &ConnectError{Msg: e.Message}
	case error:
		return fmt.Errorf("connect failed: %w", e)
	default:
		return fmt.Errorf("connect failed: %v", e)
	}
}

func (c *Conn) finish(reason string) {
	c.once.Do(func() {
		c.mu.Lock()
		c.reason = reason
		c.mu.Unlock()
		close(c.done)
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

// Close disconnects. It does not wait for the server.
func (c *Conn) Close() {
	c.sock.Disconnect()
	c.finish("closed")
}

// DefaultAckTimeout bounds Emit when ctx has no deadline.
const DefaultAckTimeout = 5 * time.Second

// Emit sends event with data and waits for mpmd's ack (until ctx ends, or
// DefaultAckTimeout when ctx has no deadline).
func (c *Conn) Emit(ctx context.Context, event string, data map[string]any) (Ack, error) {
	args, err := c.Request(ctx, event, data)
	if err != nil {
		return Ack{}, err
	}
	return wire.ParseAck(args)
}

// Request emits event with data and returns the ack's arguments as they
// came, for requests whose answer is not an Ack (/system get_status,
// get_history). It waits like Emit.
func (c *Conn) Request(ctx context.Context, event string, data any) ([]any, error) {
	timeout := DefaultAckTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return nil, context.DeadlineExceeded
		}
	}
	type result struct {
		args []any
		err  error
	}
	ch := make(chan result, 1)
	c.sock.Timeout(timeout).EmitWithAck(event, data)(func(args []any, err error) {
		select {
		case ch <- result{args, err}:
		default:
		}
	})
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("emit %s %s: %w", c.ns, event, r.err)
		}
		return r.args, nil
	case <-c.done:
		return nil, fmt.Errorf("emit %s %s: connection closed (%s)", c.ns, event, c.Reason())
	case <-ctx.Done():
		return nil, fmt.Errorf("emit %s %s: %w", c.ns, event, ctx.Err())
	}
}

// OnAny calls h for every event this connection receives from now on.
// Replayed events (DialOptions.SinceSeq) arrive right after the handshake, so
// pass the handler as DialOptions.OnEvent to be sure to see them.
func (c *Conn) OnAny(h Handler) {
	c.sock.OnAny(func(args ...any) {
		if len(args) == 0 {
			return
		}
		name, _ := args[0].(string)
		var data map[string]any
		if len(args) > 1 {
			data, _ = args[1].(map[string]any)
		}
		h(name, data)
	})
}

// probe checks that something listens at baseURL's host and port.
func probe(ctx context.Context, baseURL string, timeout time.Duration) error {
	u, err := url.Parse(baseURL)
	if err != nil {
		return fmt.Errorf("bad mpmd URL %q: %w", baseURL, err)
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return fmt.Errorf("%w: nothing listens at %s (%v)", ErrNoDaemon, u.Host, err)
	}
	return c.Close()
}
