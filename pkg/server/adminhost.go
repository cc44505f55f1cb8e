package server

import (
	"context"
	"errors"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpm-dev/mpm/pkg/admin"
	"github.com/mpm-dev/mpm/pkg/broadcast"
)

// AdminNamespace is where the Socket.IO Admin UI connects.
const AdminNamespace = "/admin"

// adminHost is the Socket.IO server as pkg/admin sees it (admin.Host),
// built on the hub's face (pkg/broadcast: namespace and socket listings,
// the namespace-wide actions, and its Observer for the live feed). The
// /admin namespace is not one of mpmd's event namespaces: nothing its
// sockets send is ingested or stored, and no event is broadcast to it but
// the protocol's.
//
// The live feed costs nothing while no Admin UI is connected: every hook
// first checks Active (one atomic load).
type adminHost struct {
	s     *Server
	proto *admin.Server

	mu     sync.Mutex
	subs   map[int]func(admin.Event)
	nextID int
	fns    atomic.Pointer[[]func(admin.Event)] // subs, copied on change
}

// setupAdmin serves the /admin namespace and its protocol, and observes
// the hub for the live feed.
func (s *Server) setupAdmin(cfg admin.Config) error {
	if cfg.Token == "" {
		cfg.Token = s.cfg.Token
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	h := &adminHost{s: s, subs: map[int]func(admin.Event){}}
	var host admin.Host = h
	if s.cfg.AdminCluster != nil {
		host = s.cfg.AdminCluster(h)
	}
	proto, err := admin.New(cfg, host)
	if err != nil {
		return err
	}
	h.proto = proto
	s.hub.Handle(AdminNamespace, h.handshake, h.onAdminConnect)
	s.hub.Observe(h)
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
	mu sync.Mutex
	c  broadcast.Conn
}

func (c *adminConn) Emit(ev string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.c.Emit(ev, args...)
}

// adminSession is what an admin socket's handshake established.
type adminSession struct{ id string }

func (h *adminHost) handshake(c broadcast.Conn) error {
	id, err := h.proto.Authenticate(c.Handshake().Auth, c.RemoteAddr())
	if err != nil {
		code := "invalid_credentials"
		if ae, ok := err.(*admin.AuthError); ok {
			code = ae.Code
		}
		return broadcast.Refuse(err.Error(), code)
	}
	c.SetData(&adminSession{id: id})
	return nil
}

func (h *adminHost) onAdminConnect(c broadcast.Conn) {
	id := ""
	if sess, _ := c.Data().(*adminSession); sess != nil {
		id = sess.id
	}
	onEvent, onClose := h.proto.Connect(&adminConn{c: c}, id)
	c.OnAny(func(ev string, args []any, _ broadcast.Ack) { onEvent(append([]any{ev}, args...)) })
	c.OnDisconnect(func(string) { onClose() })
}

// adminError is err as pkg/admin knows it.
func adminError(err error) error {
	if errors.Is(err, broadcast.ErrUnknownNamespace) {
		return admin.ErrUnknownNamespace
	}
	return err
}

// Namespaces implements admin.Host: "/", the eight, /admin.
func (h *adminHost) Namespaces() []admin.NamespaceInfo {
	names := h.s.hub.Namespaces()
	counts := make(map[string]int, len(names))
	h.s.hub.Each(func(c broadcast.Conn) bool { counts[c.Namespace()]++; return true })
	out := make([]admin.NamespaceInfo, 0, len(names))
	for _, n := range names {
		out = append(out, admin.NamespaceInfo{Name: n, SocketsCount: counts[n]})
	}
	return out
}

// Sockets implements admin.Host.
func (h *adminHost) Sockets() []admin.SocketInfo {
	var out []admin.SocketInfo
	h.s.hub.Each(func(c broadcast.Conn) bool {
		out = append(out, socketInfo(c))
		return true
	})
	return out
}

// Counts implements admin.Host.
func (h *adminHost) Counts() admin.Counts {
	clients, polling := h.s.hub.Counts()
	return admin.Counts{Clients: clients, PollingClients: polling}
}

// Emit implements admin.Host: the event goes to the sockets only (it is
// not stored, and carries no seq).
func (h *adminHost) Emit(nsp, room, ev string, args []any) error {
	return adminError(h.s.hub.Emit(nsp, room, ev, args...))
}

// Join implements admin.Host.
func (h *adminHost) Join(nsp, room, filter string) error {
	return adminError(h.s.hub.Join(nsp, room, filter))
}

// Leave implements admin.Host.
func (h *adminHost) Leave(nsp, room, filter string) error {
	return adminError(h.s.hub.Leave(nsp, room, filter))
}

// Disconnect implements admin.Host.
func (h *adminHost) Disconnect(nsp string, closeConn bool, filter string) error {
	return adminError(h.s.hub.Disconnect(nsp, closeConn, filter))
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

// Active implements broadcast.Observer: whether an Admin UI listens.
func (h *adminHost) Active() bool {
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

// Observe implements broadcast.Observer: the hub's events as the Admin
// UI's. The Admin UI's own events (on /admin) are not in its feed.
func (h *adminHost) Observe(e broadcast.Event) {
	switch e.Kind {
	case broadcast.Connected:
		info := socketInfo(e.Conn)
		h.publish(admin.Event{Kind: admin.SocketConnected, Socket: &info})
	case broadcast.Upgraded:
		h.publish(admin.Event{Kind: admin.SocketUpdated, Nsp: e.Nsp, SocketID: e.SocketID, Transport: e.Transport})
	case broadcast.Disconnected:
		h.publish(admin.Event{Kind: admin.SocketDisconnected, Nsp: e.Nsp, SocketID: e.SocketID, Reason: e.Reason})
	case broadcast.RoomJoined:
		h.publish(admin.Event{Kind: admin.RoomJoined, Nsp: e.Nsp, Room: e.Room, SocketID: e.SocketID})
	case broadcast.RoomLeft:
		h.publish(admin.Event{Kind: admin.RoomLeft, Nsp: e.Nsp, Room: e.Room, SocketID: e.SocketID})
	case broadcast.Received:
		if e.Nsp != AdminNamespace {
			h.publish(admin.Event{Kind: admin.EventReceived, Nsp: e.Nsp, SocketID: e.SocketID, Args: copyArgs(e.Args)})
		}
	case broadcast.Sent:
		if e.Nsp != AdminNamespace {
			h.publish(admin.Event{Kind: admin.EventSent, Nsp: e.Nsp, SocketID: e.SocketID, Args: copyArgs(e.Args)})
		}
	case broadcast.Broadcasted:
		// mpmd's fan-out bypasses the library's outgoing listeners: one
		// copy for all the sockets it reached
		args := copyArgs(e.Args)
		for _, id := range e.SocketIDs {
			h.publish(admin.Event{Kind: admin.EventSent, Nsp: e.Nsp, SocketID: id, Args: args})
		}
	case broadcast.RawConnection:
		h.publish(admin.Event{Kind: admin.Aggregate, Type: "rawConnection"})
	case broadcast.RawDisconnection:
		h.publish(admin.Event{Kind: admin.Aggregate, Type: "rawDisconnection", SubType: e.Reason})
	case broadcast.PacketIn, broadcast.PacketOut:
		dir := "In"
		if e.Kind == broadcast.PacketOut {
			dir = "Out"
		}
		h.publish(admin.Event{Kind: admin.Aggregate, Type: "packets" + dir, Count: 1})
		h.publish(admin.Event{Kind: admin.Aggregate, Type: "bytes" + dir, Count: e.Bytes})
	}
}

// socketInfo is c as the Admin UI lists it, without secrets: mpmd's
// token (in the query, the URL or the Authorization header) and cookies
// are left out, and auth is never shown.
func socketInfo(c broadcast.Conn) admin.SocketInfo {
	info := admin.SocketInfo{ID: c.ID(), Nsp: c.Namespace(), Data: map[string]any{}, Transport: c.Transport()}
	cid := c.ConnID()
	if len(cid) > 12 {
		cid = cid[:12]
	}
	info.ClientID = cid
	if o, ok := c.Data().(*connOpts); ok && o != nil {
		info.Data["producer"] = o.producer
		if o.session != "" {
			info.Data["session_id"] = o.session
		}
		if o.since >= 0 {
			info.Data["since_seq"] = o.since
		}
	}
	hs := c.Handshake()
	info.Handshake = admin.Handshake{
		Address: hs.Address,
		Headers: redactHeaders(hs.Headers),
		Query:   redactQuery(hs.Query),
		Issued:  hs.Issued,
		Secure:  hs.Secure,
		Time:    hs.Time,
		URL:     redactURL(hs.URL),
		XDomain: hs.XDomain,
	}
	info.Rooms = c.Rooms()
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

// copyArgs copies an event's arguments for the Admin UI (the hub leaves
// out ack functions): mpmd's handlers go on with the originals.
func copyArgs(args []any) []any {
	out := make([]any, 0, len(args))
	for _, a := range args {
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
