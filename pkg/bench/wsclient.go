package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/clients/socket/v3"
)

// The load generator speaks Engine.IO 4 / Socket.IO 5 over a bare websocket
// (no polling, no upgrade) instead of using a full Socket.IO client: at
// N=1,000 it must read every delivery on the same two cores as the server,
// and a frame is handled here with one read and three substring scans, no
// JSON decoding and no per-event goroutine or callback. The subset it needs
// is small and fixed by the protocol:
//
//	server → "0{…}"                  open
//	client → "40/ns,{auth}"          connect to a namespace
//	server → "40/ns,{sid}"           connected ("44/ns,{message}" refused)
//	server → "2"  client → "3"       heartbeat
//	server → "42/ns,[name,{…}]"      event
//	client → "42/ns,ID[name,{…}]"    event with ack request
//	server → "43/ns,ID[{…}]"         ack

var dialer = websocket.Dialer{
	HandshakeTimeout: 10 * time.Second,
	ReadBufferSize:   32 << 10,
	WriteBufferSize:  8 << 10,
}

// wsURL turns http://host:port into the Engine.IO websocket endpoint.
func wsURL(base string) string {
	u := strings.TrimSuffix(base, "/")
	u = strings.Replace(u, "http://", "ws://", 1)
	return u + "/socket.io/?EIO=4&transport=websocket"
}

// sioConn is one Engine.IO connection joined to one namespace.
type sioConn struct {
	ws  *websocket.Conn
	ns  string
	wmu sync.Mutex
}

// dialNamespace opens a websocket and connects it to ns with the given auth
// object (JSON), returning once the server has accepted the namespace.
func dialNamespace(ctx context.Context, base, ns, authJSON string) (*sioConn, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ws, _, err := dialer.DialContext(ctx, wsURL(base), http.Header{})
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", base, err)
	}
	c := &sioConn{ws: ws, ns: ns}
	deadline, _ := ctx.Deadline()
	_ = ws.SetReadDeadline(deadline)
	_, msg, err := ws.ReadMessage()
	if err != nil || len(msg) == 0 || msg[0] != '0' {
		ws.Close()
		return nil, fmt.Errorf("engine.io open from %s: %q %v", base, msg, err)
	}
	if err := c.write("40" + ns + "," + authJSON); err != nil {
		ws.Close()
		return nil, err
	}
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return nil, fmt.Errorf("connect %s: %w", ns, err)
		}
		switch {
		case string(msg) == "2":
			_ = c.write("3")
		case bytes.HasPrefix(msg, []byte("40"+ns+",")):
			_ = ws.SetReadDeadline(time.Time{})
			return c, nil
		case bytes.HasPrefix(msg, []byte("44"+ns+",")):
			ws.Close()
			return nil, fmt.Errorf("namespace %s refused: %s", ns, msg[len(ns)+3:])
		}
	}
}

func (c *sioConn) write(s string) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, []byte(s))
}

func (c *sioConn) writeBytes(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *sioConn) close() {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	c.ws.Close()
}

// intAfter finds key (e.g. `"bench_seq":`) in b and parses the integer after it.
func intAfter(b []byte, key string) (int64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	j := i + len(key)
	for j < len(b) && b[j] == ' ' {
		j++
	}
	k := j
	if k < len(b) && b[k] == '-' {
		k++
	}
	for k < len(b) && b[k] >= '0' && b[k] <= '9' {
		k++
	}
	v, err := strconv.ParseInt(string(b[j:k]), 10, 64)
	return v, err == nil
}

// consumer is one receiving client. Its reader goroutine records every
// benchmark event of the current phase: which seq arrived (for loss and
// duplicates) and how long it took (sent_ns in the payload vs now; producer
// and consumer share this process's clock).
type consumer struct {
	c      *sioConn
	lib    *socket.Socket // set instead of c when the library client is measured
	idx    int
	phase  atomic.Pointer[phase]
	closed atomic.Bool
	pings  atomic.Int64 // the server's pings answered
	mu     sync.Mutex   // guards the phase's slot for this consumer
	done   chan struct{}
	errMu  sync.Mutex
	err    error
}

func (cs *consumer) run() {
	defer close(cs.done)
	evPrefix := []byte("42" + cs.c.ns + ",")
	for {
		_, msg, err := cs.c.ws.ReadMessage()
		if err != nil {
			cs.closed.Store(true)
			cs.errMu.Lock()
			cs.err = err
			cs.errMu.Unlock()
			return
		}
		now := time.Now()
		if len(msg) == 1 && msg[0] == '2' {
			_ = cs.c.write("3")
			cs.pings.Add(1)
			continue
		}
		if !bytes.HasPrefix(msg, evPrefix) {
			if bytes.HasPrefix(msg, []byte("41")) { // server-side namespace disconnect
				cs.closed.Store(true)
			}
			continue
		}
		ph := cs.phase.Load()
		if ph == nil {
			continue
		}
		pid, ok1 := intAfter(msg, `"bench_phase":`)
		seq, ok2 := intAfter(msg, `"bench_seq":`)
		sent, ok3 := intAfter(msg, `"sent_ns":`)
		if !ok1 || !ok2 || !ok3 || pid != ph.id {
			continue
		}
		cs.mu.Lock()
		ph.slots[cs.idx].record(seq, now.Sub(time.Unix(0, sent)))
		cs.mu.Unlock()
	}
}

func (cs *consumer) stop() {
	if cs.lib != nil {
		cs.lib.Disconnect()
		return
	}
	cs.c.close()
	<-cs.done
}

// fleet is the N connected consumers, kept across phases.
type fleet struct {
	cons []*consumer
	lib  bool // connect with the Socket.IO client library, not the raw reader
}

// connectFleet connects n consumers to ns, 32 at a time.
func connectFleet(ctx context.Context, base, ns string, n int) (*fleet, error) {
	f := &fleet{}
	if err := f.grow(ctx, base, ns, n); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// grow connects more consumers until the fleet has n.
func (f *fleet) grow(ctx context.Context, base, ns string, n int) error {
	from := len(f.cons)
	if n <= from {
		return nil
	}
	f.cons = append(f.cons, make([]*consumer, n-from)...)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for i := from; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			if f.lib {
				cs, err := dialLibConsumer(ctx, base, ns, i)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				f.cons[i] = cs
				return
			}
			c, err := dialNamespace(ctx, base, ns, `{}`)
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			cs := &consumer{c: c, idx: i, done: make(chan struct{})}
			f.cons[i] = cs
			go cs.run()
		}(i)
	}
	wg.Wait()
	if e, _ := firstErr.Load().(error); e != nil {
		return fmt.Errorf("connect %d clients to %s: %w", n, ns, e)
	}
	return nil
}

func (f *fleet) close() {
	var wg sync.WaitGroup
	for _, cs := range f.cons {
		if cs == nil {
			continue
		}
		wg.Add(1)
		go func(cs *consumer) { defer wg.Done(); cs.stop() }(cs)
	}
	wg.Wait()
}

func (f *fleet) setPhase(ph *phase) {
	for _, cs := range f.cons {
		cs.phase.Store(ph)
	}
}

// pings is how many of the server's pings the consumers have answered.
func (f *fleet) pings() int64 {
	var n int64
	for _, cs := range f.cons {
		if cs != nil {
			n += cs.pings.Load()
		}
	}
	return n
}

// closedCount is how many consumers the server has dropped.
func (f *fleet) closedCount() int {
	n := 0
	for _, cs := range f.cons {
		if cs != nil && cs.closed.Load() {
			n++
		}
	}
	return n
}

// minReceived is the fewest events any still-connected consumer has
// received in ph; a dropped consumer is left out (its loss is counted later).
func (f *fleet) minReceived(ph *phase) int64 {
	m := int64(-1)
	for i, cs := range f.cons {
		if cs.closed.Load() {
			continue
		}
		r := ph.slots[i].recv.Load()
		if m < 0 || r < m {
			m = r
		}
	}
	if m < 0 {
		return 0
	}
	return m
}

// producer is one /hook-style Socket.IO producer: it emits with an ack
// request and at most window emits unacknowledged.
type producer struct {
	c      *sioConn
	window chan struct{}
	mu     sync.Mutex
	ids    map[int64]int64 // ack id → bench seq
	nextID int64
	onAck  func(seq int64, ok bool)
	done   chan struct{}
}

var errProducerClosed = errors.New("producer connection closed")

func newProducer(ctx context.Context, base, ns string, window int, onAck func(seq int64, ok bool)) (*producer, error) {
	c, err := dialNamespace(ctx, base, ns, `{"producer":true}`)
	if err != nil {
		return nil, err
	}
	p := &producer{c: c, window: make(chan struct{}, window), ids: map[int64]int64{}, onAck: onAck, done: make(chan struct{})}
	go p.readAcks()
	return p, nil
}

func (p *producer) readAcks() {
	defer close(p.done)
	ackPrefix := []byte("43" + p.c.ns + ",")
	for {
		_, msg, err := p.c.ws.ReadMessage()
		if err != nil {
			return
		}
		if len(msg) == 1 && msg[0] == '2' {
			_ = p.c.write("3")
			continue
		}
		if !bytes.HasPrefix(msg, ackPrefix) {
			continue
		}
		rest := msg[len(ackPrefix):]
		k := 0
		for k < len(rest) && rest[k] >= '0' && rest[k] <= '9' {
			k++
		}
		id, err := strconv.ParseInt(string(rest[:k]), 10, 64)
		if err != nil {
			continue
		}
		p.mu.Lock()
		seq, ok := p.ids[id]
		delete(p.ids, id)
		p.mu.Unlock()
		if !ok {
			continue
		}
		accepted := !bytes.Contains(rest[k:], []byte(`"error"`))
		p.onAck(seq, accepted)
		<-p.window
	}
}

// emit sends one event and returns once it is written; the ack arrives
// later through onAck. It blocks while window emits are unacknowledged.
func (p *producer) emit(ctx context.Context, seq int64, frame func(id int64) []byte) error {
	select {
	case p.window <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return errProducerClosed
	}
	p.mu.Lock()
	p.nextID++
	id := p.nextID
	p.ids[id] = seq
	p.mu.Unlock()
	return p.c.writeBytes(frame(id))
}

// drainAcks waits until every emit has been acknowledged or d has passed.
func (p *producer) drainAcks(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		n := len(p.ids)
		p.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (p *producer) close() {
	p.c.close()
	<-p.done
}
