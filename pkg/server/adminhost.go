package server

import (
	"context"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpm-dev/mpm/pkg/admin"
	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/zishang520/socket.io/parsers/engine/v3/packet"
	engine "github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/socket/v3"
)

// AdminNamespace is where the Socket.IO Admin UI connects.
const AdminNamespace = "/admin"

// adminHost is the Socket.IO server as pkg/admin sees it (admin.Host): the
// one file that joins the Admin UI protocol to the library. The /admin
// namespace is not one of mpmd's event namespaces: nothing its sockets send
// is ingested or stored, and no event is broadcast to it but the protocol's.
//
// The live feed costs nothing while no Admin UI is connected: every hook
// first checks active (one atomic load).
type adminHost struct {
	s     *Server
	nsp   socket.Namespace
	proto *admin.Server

	mu     sync.Mutex
	subs   map[int]func(admin.Event)
	nextID int
	fns    atomic.Pointer[[]func(admin.Event)] // subs, copied on change
}

// setupAdmin creates the /admin namespace and its protocol. It runs after
// the engine exists (routes), since it listens to the engine's connections.
func (s *Server) setupAdmin(cfg admin.Config) error {
	if cfg.Token == "" {
		cfg.Token = s.cfg.Token
	}
	h := &adminHost{s: s, subs: map[int]func(admin.Event){}}
	proto, err := admin.New(cfg, h)
	if err != nil {
		return err
	}
	h.proto = proto
	h.nsp = s.io.Of(AdminNamespace, nil)
	h.nsp.Use(h.handshake)
	_ = h.nsp.On("connection", func(args ...any) {
		if sock, ok := args[0].(*socket.Socket); ok {
			h.onAdminConnect(sock)
		}
	})
	for _, nsp := range h.namespaces() {
		h.watchRooms(nsp)
	}
	if e := s.io.Engine(); e != nil {
		_ = e.On("connection", func(args ...any) {
			if conn, ok := args[0].(engine.Socket); ok {
				h.watchConn(conn)
			}
		})
	}
	s.admin = h
	return nil
}

// runAdmin sends server_stats until ctx ends.
func (s *Server) runAdmin(ctx context.Context) {
	if s.admin != nil {
		s.admin.proto.Run(ctx)
	}
}

// adminConn is one admin socket as pkg/admin sees it. The protocol emits
// from many goroutines (the hooks below run on every connection's); one at
// a time per socket keeps each packet whole and in the order of the calls.
type adminConn struct {
	mu   sync.Mutex
	sock *socket.Socket
}

func (c *adminConn) Emit(ev string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.sock.Emit(ev, args...)
}

// adminSession is what an admin socket's handshake established.
type adminSession struct{ id string }

func (h *adminHost) handshake(sock *socket.Socket, next func(*socket.ExtendedError)) {
	hs := sock.Handshake()
	addr := hs.Address
	if conn := sock.Conn(); conn != nil {
		addr = conn.RemoteAddress()
	}
	id, err := h.proto.Authenticate(hs.Auth, addr)
	if err != nil {
		code := "invalid_credentials"
		if ae, ok := err.(*admin.AuthError); ok {
			code = ae.Code
		}
		next(refusal(err.Error(), code))
		return
	}
	sock.SetData(&adminSession{id: id})
	next(nil)
}

func (h *adminHost) onAdminConnect(sock *socket.Socket) {
	h.socketConnected(h.nsp, sock)
	sess, _ := sock.Data().(*adminSession)
	id := ""
	if sess != nil {
		id = sess.id
	}
	onEvent, onClose := h.proto.Connect(&adminConn{sock: sock}, id)
	sock.OnAny(func(args ...any) { onEvent(args) })
	_ = sock.On("disconnect", func(...any) { onClose() })
	if !sock.Connected() {
		onClose() // gone before the listener was there
	}
}

// namespaces are every namespace mpmd serves: "/", the eight, /admin.
func (h *adminHost) namespaces() []socket.Namespace {
	out := make([]socket.Namespace, 0, len(event.Namespaces)+2)
	out = append(out, h.s.io.Sockets())
	for _, name := range event.Namespaces {
		out = append(out, h.s.nsps[name])
	}
	if h.nsp != nil {
		out = append(out, h.nsp)
	}
	return out
}

// lookup finds a namespace mpmd serves, never creating one (io.Of would).
func (h *adminHost) lookup(name string) (socket.Namespace, error) {
	for _, n := range h.namespaces() {
		if n.Name() == name {
			return n, nil
		}
	}
	return nil, admin.ErrUnknownNamespace
}

// Namespaces implements admin.Host.
func (h *adminHost) Namespaces() []admin.NamespaceInfo {
	nsps := h.namespaces()
	out := make([]admin.NamespaceInfo, 0, len(nsps))
	for _, n := range nsps {
		c := 0
		n.Sockets().Range(func(_ socket.SocketId, sock *socket.Socket) bool {
			if !zombie(sock) {
				c++
			}
			return true
		})
		out = append(out, admin.NamespaceInfo{Name: n.Name(), SocketsCount: c})
	}
	return out
}

// Sockets implements admin.Host.
func (h *adminHost) Sockets() []admin.SocketInfo {
	var out []admin.SocketInfo
	for _, n := range h.namespaces() {
		n.Sockets().Range(func(_ socket.SocketId, sock *socket.Socket) bool {
			if !zombie(sock) {
				out = append(out, socketInfo(n.Name(), sock))
			}
			return true
		})
	}
	return out
}

// Counts implements admin.Host.
func (h *adminHost) Counts() admin.Counts {
	var c admin.Counts
	e := h.s.io.Engine()
	if e == nil {
		return c
	}
	c.Clients = int(e.ClientsCount())
	e.Clients().Range(func(_ string, conn engine.Socket) bool {
		if t := conn.Transport(); t != nil && t.Name() == "polling" {
			c.PollingClients++
		}
		return true
	})
	return c
}

// Emit implements admin.Host: the event goes to the sockets only (it is
// not stored, and carries no seq).
func (h *adminHost) Emit(nsp, room, ev string, args []any) error {
	n, err := h.lookup(nsp)
	if err != nil {
		return err
	}
	if room != "" {
		return n.To(socket.Room(room)).Emit(ev, args...)
	}
	return n.Emit(ev, args...)
}

// Join implements admin.Host.
func (h *adminHost) Join(nsp, room, filter string) error {
	n, err := h.lookup(nsp)
	if err != nil {
		return err
	}
	if filter != "" {
		n.In(socket.Room(filter)).SocketsJoin(socket.Room(room))
	} else {
		n.SocketsJoin(socket.Room(room))
	}
	return nil
}

// Leave implements admin.Host.
func (h *adminHost) Leave(nsp, room, filter string) error {
	n, err := h.lookup(nsp)
	if err != nil {
		return err
	}
	if filter != "" {
		n.In(socket.Room(filter)).SocketsLeave(socket.Room(room))
	} else {
		n.SocketsLeave(socket.Room(room))
	}
	return nil
}

// Disconnect implements admin.Host.
func (h *adminHost) Disconnect(nsp string, closeConn bool, filter string) error {
	n, err := h.lookup(nsp)
	if err != nil {
		return err
	}
	if filter != "" {
		n.In(socket.Room(filter)).DisconnectSockets(closeConn)
	} else {
		n.DisconnectSockets(closeConn)
	}
	return nil
}

// Subscribe implements admin.Host.
func (h *adminHost) Subscribe(fn func(admin.Event)) func() {
	h.mu.Lock()
	id := h.nextID
	h.nextID++
	h.subs[id] = fn
	h.publishSubs()
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.subs, id)
		h.publishSubs()
		h.mu.Unlock()
	}
}

func (h *adminHost) publishSubs() {
	fns := make([]func(admin.Event), 0, len(h.subs))
	for _, f := range h.subs {
		fns = append(fns, f)
	}
	h.fns.Store(&fns)
}

// active reports whether anyone listens; h may be nil (no Admin UI).
func (h *adminHost) active() bool {
	if h == nil {
		return false
	}
	p := h.fns.Load()
	return p != nil && len(*p) > 0
}

func (h *adminHost) publish(e admin.Event) {
	p := h.fns.Load()
	if p == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	for _, f := range *p {
		f(e)
	}
}

// watchRooms reports the joins and leaves of nsp's rooms (the adapter's
// join-room and leave-room, as the reference listens to).
func (h *adminHost) watchRooms(nsp socket.Namespace) {
	a := nsp.Adapter()
	name := nsp.Name()
	_ = a.On("join-room", func(args ...any) {
		if h.active() && len(args) == 2 {
			h.publish(admin.Event{Kind: admin.RoomJoined, Nsp: name, Room: roomString(args[0]), SocketID: roomString(args[1])})
		}
	})
	_ = a.On("leave-room", func(args ...any) {
		if h.active() && len(args) == 2 {
			h.publish(admin.Event{Kind: admin.RoomLeft, Nsp: name, Room: roomString(args[0]), SocketID: roomString(args[1])})
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

// watchConn counts one Engine.IO connection's traffic for the Admin UI's
// charts (aggregated events).
func (h *adminHost) watchConn(conn engine.Socket) {
	if h.active() {
		h.publish(admin.Event{Kind: admin.Aggregate, Type: "rawConnection"})
	}
	_ = conn.On("packet", func(args ...any) { h.countPacket("In", args) })
	_ = conn.On("packetCreate", func(args ...any) { h.countPacket("Out", args) })
	_ = conn.On("close", func(args ...any) {
		if h.active() {
			reason := ""
			if len(args) > 0 {
				reason, _ = args[0].(string)
			}
			h.publish(admin.Event{Kind: admin.Aggregate, Type: "rawDisconnection", SubType: reason})
		}
	})
}

type sized interface{ Len() int }

func (h *adminHost) countPacket(dir string, args []any) {
	if !h.active() || len(args) == 0 {
		return
	}
	n := packetLen(args[0])
	if n <= 0 {
		return // pings and pongs carry no data
	}
	h.publish(admin.Event{Kind: admin.Aggregate, Type: "packets" + dir, Count: 1})
	h.publish(admin.Event{Kind: admin.Aggregate, Type: "bytes" + dir, Count: n})
}

// adminQueued counts an event message mpmd's websocket transport queued
// itself (fanOut), which the engine's packetCreate does not see.
func (h *adminHost) adminQueued(n int) {
	if h.active() {
		h.publish(admin.Event{Kind: admin.Aggregate, Type: "packetsOut", Count: 1})
		h.publish(admin.Event{Kind: admin.Aggregate, Type: "bytesOut", Count: n})
	}
}

// adminFannedOut reports an event mpmd broadcast (fanOut, which bypasses
// the library's outgoing listeners) as sent to each of ids.
func (h *adminHost) adminFannedOut(nsp string, ids []socket.SocketId, name string, payload map[string]any) {
	if !h.active() {
		return
	}
	args := []any{name, copyJSON(payload)}
	for _, id := range ids {
		h.publish(admin.Event{Kind: admin.EventSent, Nsp: nsp, SocketID: string(id), Args: args})
	}
}

// socketConnected follows one socket of nsp for the Admin UI: its
// connection, transport upgrade, events both ways, and disconnection. It
// runs for every socket (an Admin UI that connects later still hears of
// the disconnect).
func (h *adminHost) socketConnected(nsp socket.Namespace, sock *socket.Socket) {
	if h == nil {
		return
	}
	name := nsp.Name()
	id := string(sock.Id())
	if h.active() {
		info := socketInfo(name, sock)
		h.publish(admin.Event{Kind: admin.SocketConnected, Socket: &info})
	}
	if conn := sock.Conn(); conn != nil {
		_ = conn.On("upgrade", func(args ...any) {
			if h.active() {
				tr := "websocket"
				if t, ok := args[0].(interface{ Name() string }); ok && len(args) > 0 {
					tr = t.Name()
				}
				h.publish(admin.Event{Kind: admin.SocketUpdated, Nsp: name, SocketID: id, Transport: tr})
			}
		})
	}
	if name != AdminNamespace {
		// Before mpmd's own listener, which hands the data to the pipeline.
		sock.PrependAny(func(args ...any) {
			if h.active() {
				h.publish(admin.Event{Kind: admin.EventReceived, Nsp: name, SocketID: id, Args: copyArgs(args)})
			}
		})
		sock.OnAnyOutgoing(func(args ...any) {
			if h.active() {
				h.publish(admin.Event{Kind: admin.EventSent, Nsp: name, SocketID: id, Args: copyArgs(args)})
			}
		})
	}
	var gone atomic.Bool // the library may report a disconnect twice
	_ = sock.On("disconnect", func(args ...any) {
		if gone.Swap(true) || !h.active() {
			return
		}
		reason := ""
		if len(args) > 0 {
			reason, _ = args[0].(string)
		}
		h.publish(admin.Event{Kind: admin.SocketDisconnected, Nsp: name, SocketID: id, Reason: reason})
	})
}

// socketInfo is sock as the Admin UI lists it, without secrets: mpmd's
// token (in the query, the URL or the Authorization header) and cookies
// are left out, and auth is never shown.
func socketInfo(nsp string, sock *socket.Socket) admin.SocketInfo {
	info := admin.SocketInfo{ID: string(sock.Id()), Nsp: nsp, Data: map[string]any{}}
	if conn := sock.Conn(); conn != nil {
		cid := conn.Id()
		if len(cid) > 12 {
			cid = cid[:12]
		}
		info.ClientID = cid
		if t := conn.Transport(); t != nil {
			info.Transport = t.Name()
		}
	}
	if o, ok := sock.Data().(*connOpts); ok && o != nil {
		info.Data["producer"] = o.producer
		if o.session != "" {
			info.Data["session_id"] = o.session
		}
		if o.since >= 0 {
			info.Data["since_seq"] = o.since
		}
	}
	if hs := sock.Handshake(); hs != nil {
		info.Handshake = admin.Handshake{
			Address: hs.Address,
			Headers: redactHeaders(hs.Headers),
			Query:   redactQuery(hs.Query),
			Issued:  hs.Issued,
			Secure:  hs.Secure,
			Time:    hs.Time,
			URL:     redactURL(hs.Url),
			XDomain: hs.Xdomain,
		}
	}
	rooms := sock.Rooms().Keys()
	info.Rooms = make([]string, 0, len(rooms))
	for _, r := range rooms {
		info.Rooms = append(info.Rooms, string(r))
	}
	sort.Strings(info.Rooms)
	return info
}

const redacted = "[redacted]"

var secretHeaders = map[string]bool{"authorization": true, "cookie": true, "proxy-authorization": true}

// redactHeaders lowercases the names (as Node shows them), joins repeated
// values and hides the secret ones.
func redactHeaders(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		k = strings.ToLower(k)
		if secretHeaders[k] {
			out[k] = redacted
			continue
		}
		out[k] = joinValue(v)
	}
	return out
}

func redactQuery(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		if strings.EqualFold(k, "token") {
			out[k] = redacted
			continue
		}
		out[k] = joinValue(v)
	}
	return out
}

func redactURL(raw string) string {
	path, query, ok := strings.Cut(raw, "?")
	if !ok {
		return raw
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return path + "?" + redacted
	}
	for k := range q {
		if strings.EqualFold(k, "token") {
			q[k] = []string{redacted}
		}
	}
	return path + "?" + q.Encode()
}

func joinValue(v any) any {
	switch t := v.(type) {
	case []string:
		if len(t) == 1 {
			return t[0]
		}
		return strings.Join(t, ", ")
	case string:
		return t
	}
	return v
}

// copyArgs copies an event's arguments for the Admin UI, leaving out an
// ack function: mpmd's handlers go on with the originals.
func copyArgs(args []any) []any {
	out := make([]any, 0, len(args))
	for _, a := range args {
		if _, ok := a.(socket.Ack); ok {
			continue
		}
		out = append(out, copyJSON(a))
	}
	return out
}

// copyJSON copies the maps and slices of a decoded JSON value, so the
// Admin UI's copy is encoded while mpmd may change the original.
func copyJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = copyJSON(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = copyJSON(x)
		}
		return s
	}
	return v
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
