package admin_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/admin"
	"golang.org/x/crypto/bcrypt"
)

// PHP's manual examples of password_hash/password_verify: $2y$ hashes of
// "rasmuslerdorf" made by another implementation.
const (
	phpHash10 = "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a"
	phpHash07 = "$2y$07$BCryptRequires22Chrcte/VlQH0piJtjXl.0t1XkA8pw9dMXTpOq"
)

type call struct {
	op     string
	nsp    string
	a, b   string
	close  bool
	args   []any
	filter string
}

type fakeHost struct {
	counts atomic.Int64 // Counts calls
	mu     sync.Mutex
	calls  []call
	subs   map[int]func(admin.Event)
	next   int
}

func (h *fakeHost) Namespaces() []admin.NamespaceInfo {
	return []admin.NamespaceInfo{{Name: "/", SocketsCount: 0}, {Name: "/hook", SocketsCount: 2}, {Name: "/admin", SocketsCount: 1}}
}

func (h *fakeHost) Sockets() []admin.SocketInfo {
	return []admin.SocketInfo{{ID: "s1", ClientID: "c1", Transport: "websocket", Nsp: "/hook", Rooms: []string{"s1", "live"},
		Handshake: admin.Handshake{Address: "127.0.0.1", Headers: map[string]any{"user-agent": "test"}, Time: "now"}}}
}

func (h *fakeHost) Counts() admin.Counts {
	h.counts.Add(1)
	return admin.Counts{Clients: 3, PollingClients: 1}
}

func (h *fakeHost) record(c call) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, c)
	return nil
}

func (h *fakeHost) Emit(nsp, room, ev string, args []any) error {
	return h.record(call{op: "emit", nsp: nsp, filter: room, a: ev, args: args})
}
func (h *fakeHost) Join(nsp, room, filter string) error {
	return h.record(call{op: "join", nsp: nsp, a: room, filter: filter})
}
func (h *fakeHost) Leave(nsp, room, filter string) error {
	return h.record(call{op: "leave", nsp: nsp, a: room, filter: filter})
}
func (h *fakeHost) Disconnect(nsp string, close bool, filter string) error {
	return h.record(call{op: "disconnect", nsp: nsp, close: close, filter: filter})
}

func (h *fakeHost) Subscribe(fn func(admin.Event)) func() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs == nil {
		h.subs = map[int]func(admin.Event){}
	}
	id := h.next
	h.next++
	h.subs[id] = fn
	return func() { h.mu.Lock(); delete(h.subs, id); h.mu.Unlock() }
}

func (h *fakeHost) publish(e admin.Event) {
	h.mu.Lock()
	fns := make([]func(admin.Event), 0, len(h.subs))
	for _, f := range h.subs {
		fns = append(fns, f)
	}
	h.mu.Unlock()
	for _, f := range fns {
		f(e)
	}
}

func (h *fakeHost) subscribers() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.subs) }

func (h *fakeHost) taken() []call {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]call(nil), h.calls...)
}

type emitted struct {
	ev   string
	args []any
}

type fakeConn struct {
	mu  sync.Mutex
	got []emitted
}

func (c *fakeConn) Emit(ev string, args ...any) {
	// Every argument must be JSON as the Socket.IO encoder will write it.
	if _, err := json.Marshal(args); err != nil {
		panic(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, emitted{ev, args})
}

func (c *fakeConn) events(name string) [][]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][]any
	for _, e := range c.got {
		if e.ev == name {
			out = append(out, e.args)
		}
	}
	return out
}

func mustHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := admin.HashPassword(pw, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func newServer(t *testing.T, cfg admin.Config) (*admin.Server, *fakeHost) {
	t.Helper()
	h := &fakeHost{}
	s, err := admin.New(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	return s, h
}

func TestConfigValidate(t *testing.T) {
	good := mustHash(t, "pw")
	for _, tc := range []struct {
		cfg  admin.Config
		want string // "" valid
	}{
		{admin.Config{}, ""},
		{admin.Config{Username: "admin", PasswordHash: good}, ""},
		{admin.Config{Username: "admin", PasswordHash: phpHash10}, ""},
		{admin.Config{Username: "admin", PasswordHash: "$2b$" + good[4:]}, ""},
		{admin.Config{Username: "admin"}, "both"},
		{admin.Config{PasswordHash: good}, "both"},
		{admin.Config{Username: "admin", PasswordHash: "secret"}, "bcrypt hash"},
		{admin.Config{Username: "admin", PasswordHash: "$2a$10$tooshort"}, "not a valid bcrypt"},
		{admin.Config{Username: "admin", PasswordHash: "$2a$99$" + strings.Repeat("a", 53)}, "not a valid bcrypt"},
		{admin.Config{Mode: "staging"}, "mode"},
		{admin.Config{Mode: admin.ModeProduction}, ""},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil {
			t.Errorf("%+v: %v", tc.cfg, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want an error about %q", tc.cfg, err, tc.want)
		}
	}
}

func TestAuthenticate(t *testing.T) {
	hash := mustHash(t, "s3cret")
	s, _ := newServer(t, admin.Config{Username: "admin", PasswordHash: hash, Token: "tok"})
	php, _ := newServer(t, admin.Config{Username: "rasmus", PasswordHash: phpHash07})
	twoB, _ := newServer(t, admin.Config{Username: "admin", PasswordHash: "$2b$" + hash[4:]})
	for _, tc := range []struct {
		name string
		s    *admin.Server
		auth map[string]any
		ok   bool
	}{
		{"good", s, map[string]any{"username": "admin", "password": "s3cret"}, true},
		{"php $2y$", php, map[string]any{"username": "rasmus", "password": "rasmuslerdorf"}, true},
		{"$2b$", twoB, map[string]any{"username": "admin", "password": "s3cret"}, true},
		{"token as password", s, map[string]any{"username": "", "password": "tok"}, true},
		{"token as auth.token", s, map[string]any{"token": "tok"}, true},
		{"wrong password", s, map[string]any{"username": "admin", "password": "s3cret!"}, false},
		{"wrong user", s, map[string]any{"username": "root", "password": "s3cret"}, false},
		{"missing auth", s, map[string]any{}, false},
		{"nil auth", s, nil, false},
		{"non-string username", s, map[string]any{"username": []any{"admin"}, "password": "s3cret"}, false},
		{"numeric password", s, map[string]any{"username": "admin", "password": 123.0}, false},
		{"object password", s, map[string]any{"username": "admin", "password": map[string]any{"$ne": ""}}, false},
		{"empty password", s, map[string]any{"username": "admin", "password": ""}, false},
		{"huge password", s, map[string]any{"username": "admin", "password": strings.Repeat("s", 10<<20)}, false},
		{"password past 72 bytes", s, map[string]any{"username": "admin", "password": "s3cret" + strings.Repeat("x", 80)}, false},
		{"token prefix", s, map[string]any{"password": "to"}, false},
		{"unknown session", s, map[string]any{"sessionId": "deadbeef"}, false},
		{"non-string session", s, map[string]any{"sessionId": 1.0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			sess, err := tc.s.Authenticate(tc.auth, "10.0.0.1:5000")
			if tc.ok {
				if err != nil || len(sess) != 32 {
					t.Fatalf("refused: %v (session %q)", err, sess)
				}
				return
			}
			var ae *admin.AuthError
			if !errors.As(err, &ae) || ae.Message != "invalid credentials" {
				t.Fatalf("got session %q, err %v; want invalid credentials", sess, err)
			}
			if time.Since(start) > 2*time.Second {
				t.Errorf("refusing took %v", time.Since(start))
			}
		})
	}
}

func TestSessionReuse(t *testing.T) {
	s, _ := newServer(t, admin.Config{Username: "admin", PasswordHash: mustHash(t, "pw"), SessionTTL: 300 * time.Millisecond})
	id, err := s.Authenticate(map[string]any{"username": "admin", "password": "pw"}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Authenticate(map[string]any{"sessionId": id}, "127.0.0.1")
	if err != nil || again != "" {
		t.Fatalf("session id reuse: %q %v, want accepted with no new id", again, err)
	}
	other, _ := newServer(t, admin.Config{Username: "admin", PasswordHash: mustHash(t, "pw")})
	if _, err := other.Authenticate(map[string]any{"sessionId": id}, "127.0.0.1"); err == nil {
		t.Error("another server accepted the session id")
	}
	time.Sleep(400 * time.Millisecond)
	if _, err := s.Authenticate(map[string]any{"sessionId": id}, "127.0.0.1"); err == nil {
		t.Error("expired session id accepted")
	}
}

func TestNoCredentialsLoopbackOnly(t *testing.T) {
	s, _ := newServer(t, admin.Config{})
	if s.AuthRequired() {
		t.Fatal("AuthRequired with nothing configured")
	}
	for _, addr := range []string{"127.0.0.1", "127.0.0.1:4000", "[::1]:4000", "::1", "127.8.9.1"} {
		if _, err := s.Authenticate(nil, addr); err != nil {
			t.Errorf("%s refused: %v", addr, err)
		}
	}
	for _, addr := range []string{"10.0.0.1", "192.168.1.2:80", "[2001:db8::1]:80", "", "localhost", "garbage"} {
		_, err := s.Authenticate(map[string]any{"username": "x", "password": "y"}, addr)
		var ae *admin.AuthError
		if !errors.As(err, &ae) || !strings.Contains(ae.Message, "--admin-user") {
			t.Errorf("%q: %v, want a refusal naming --admin-user", addr, err)
		}
	}
}

func TestConnectSendsConfigStatsSockets(t *testing.T) {
	s, h := newServer(t, admin.Config{})
	c := &fakeConn{}
	_, closeFn := s.Connect(c, "abc")
	if got := c.events("session"); len(got) != 1 || got[0][0] != "abc" {
		t.Errorf("session: %v", got)
	}
	cfg := c.events("config")
	if len(cfg) != 1 {
		t.Fatalf("config: %v", cfg)
	}
	want := []any{"EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"}
	if got := cfg[0][0].(map[string]any)["supportedFeatures"]; !reflect.DeepEqual(got, want) {
		t.Errorf("supportedFeatures %v, want %v", got, want)
	}
	stats := c.events("server_stats")
	if len(stats) != 1 {
		t.Fatalf("server_stats: %v", stats)
	}
	st := stats[0][0].(map[string]any)
	for _, k := range []string{"serverId", "hostname", "pid", "uptime", "clientsCount", "pollingClientsCount", "aggregatedEvents", "namespaces"} {
		if _, ok := st[k]; !ok {
			t.Errorf("server_stats has no %s: %v", k, st)
		}
	}
	if st["clientsCount"] != 3 || st["pollingClientsCount"] != 1 {
		t.Errorf("counts: %v", st)
	}
	nsps := st["namespaces"].([]any)
	if len(nsps) != 3 || nsps[1].(map[string]any)["name"] != "/hook" || nsps[1].(map[string]any)["socketsCount"] != 2 {
		t.Errorf("namespaces: %v", nsps)
	}
	all := c.events("all_sockets")
	if len(all) != 1 {
		t.Fatalf("all_sockets: %v", all)
	}
	sock := all[0][0].([]any)[0].(map[string]any)
	if sock["id"] != "s1" || sock["nsp"] != "/hook" || sock["clientId"] != "c1" || sock["transport"] != "websocket" {
		t.Errorf("socket: %v", sock)
	}
	hs := sock["handshake"].(map[string]any)
	if hs["address"] != "127.0.0.1" || hs["headers"].(map[string]any)["user-agent"] != "test" {
		t.Errorf("handshake: %v", hs)
	}
	if _, ok := hs["auth"]; ok {
		t.Error("handshake shows auth")
	}
	if h.subscribers() != 1 {
		t.Errorf("%d subscriptions while connected", h.subscribers())
	}
	closeFn()
	closeFn()
	if h.subscribers() != 0 {
		t.Errorf("%d subscriptions after the last admin socket left", h.subscribers())
	}
}

func TestReadonly(t *testing.T) {
	s, h := newServer(t, admin.Config{Readonly: true})
	c := &fakeConn{}
	onEvent, _ := s.Connect(c, "")
	if got := c.events("session"); len(got) != 0 {
		t.Errorf("session sent without one: %v", got)
	}
	feats := c.events("config")[0][0].(map[string]any)["supportedFeatures"]
	if want := []any{"AGGREGATED_EVENTS", "ALL_EVENTS"}; !reflect.DeepEqual(feats, want) {
		t.Errorf("readonly features %v, want %v", feats, want)
	}
	onEvent([]any{"emit", "/hook", nil, "x", 1.0})
	onEvent([]any{"join", "/hook", "r", nil})
	onEvent([]any{"leave", "/hook", "r", nil})
	onEvent([]any{"_disconnect", "/hook", true, nil})
	if calls := h.taken(); len(calls) != 0 {
		t.Errorf("readonly ran actions: %+v", calls)
	}
}

func TestProductionMode(t *testing.T) {
	s, h := newServer(t, admin.Config{Mode: admin.ModeProduction})
	c := &fakeConn{}
	s.Connect(c, "")
	feats := c.events("config")[0][0].(map[string]any)["supportedFeatures"].([]any)
	if slices.Contains(feats, any("ALL_EVENTS")) {
		t.Errorf("production mode advertises ALL_EVENTS: %v", feats)
	}
	if len(c.events("all_sockets")) != 0 {
		t.Error("production mode sent all_sockets")
	}
	h.publish(admin.Event{Kind: admin.SocketConnected, Socket: &admin.SocketInfo{ID: "x", Nsp: "/hook"}})
	if len(c.events("socket_connected")) != 0 {
		t.Error("production mode sent socket_connected")
	}
}

func TestActions(t *testing.T) {
	s, h := newServer(t, admin.Config{})
	onEvent, _ := s.Connect(&fakeConn{}, "")
	ack := func([]any, error) {}
	msgs := [][]any{
		{"emit", "/hook", nil, "hello", "a", 2.0},
		{"emit", "/hook", "room1", "hello"},
		{"emit", "/hook", "", "bye", ack},
		{"join", "/hook", "r1"},
		{"join", "/hook", "r1", "sockA"},
		{"leave", "/system", "r2", "live"},
		{"_disconnect", "/hook", false},
		{"_disconnect", "/log", true, "sockB"},
		// refused: wrong types or missing fields, unknown messages
		{"emit", "/hook", 5.0, "x"},
		{"emit", "/hook", nil},
		{"emit", 3.0, nil, "x"},
		{"join", "/hook", map[string]any{}},
		{"join", "/hook", "r", 7.0},
		{"leave", "", "r"},
		{"_disconnect", "/hook", "yes"},
		{"_disconnect", "/hook", true, []any{"a"}},
		{"unknown", "/hook"},
		{42.0},
		{},
	}
	for _, m := range msgs {
		onEvent(m)
	}
	want := []call{
		{op: "emit", nsp: "/hook", a: "hello", args: []any{"a", 2.0}},
		{op: "emit", nsp: "/hook", filter: "room1", a: "hello"},
		{op: "emit", nsp: "/hook", a: "bye"},
		{op: "join", nsp: "/hook", a: "r1"},
		{op: "join", nsp: "/hook", a: "r1", filter: "sockA"},
		{op: "leave", nsp: "/system", a: "r2", filter: "live"},
		{op: "disconnect", nsp: "/hook"},
		{op: "disconnect", nsp: "/log", close: true, filter: "sockB"},
	}
	if got := h.taken(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls:\n got %+v\nwant %+v", got, want)
	}
}

func TestLiveFeed(t *testing.T) {
	s, h := newServer(t, admin.Config{})
	a, b := &fakeConn{}, &fakeConn{}
	s.Connect(a, "")
	_, closeB := s.Connect(b, "")
	at := time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC)
	h.publish(admin.Event{Kind: admin.SocketConnected, Time: at, Socket: &admin.SocketInfo{ID: "n1", Nsp: "/claude"}})
	h.publish(admin.Event{Kind: admin.SocketUpdated, Nsp: "/claude", SocketID: "n1", Transport: "websocket"})
	h.publish(admin.Event{Kind: admin.RoomJoined, Time: at, Nsp: "/claude", Room: "live", SocketID: "n1"})
	h.publish(admin.Event{Kind: admin.EventReceived, Time: at, Nsp: "/claude", SocketID: "n1", Args: []any{"ping", map[string]any{"x": 1.0}}})
	h.publish(admin.Event{Kind: admin.EventSent, Time: at, Nsp: "/claude", SocketID: "n1", Args: []any{"pong"}})
	h.publish(admin.Event{Kind: admin.RoomLeft, Time: at, Nsp: "/claude", Room: "live", SocketID: "n1"})
	h.publish(admin.Event{Kind: admin.SocketDisconnected, Time: at, Nsp: "/claude", SocketID: "n1", Reason: "client namespace disconnect"})
	closeB()
	h.publish(admin.Event{Kind: admin.RoomJoined, Nsp: "/claude", Room: "after", SocketID: "n2"})
	ts := "2025-01-02T03:04:05.006Z"
	for _, tc := range []struct {
		ev   string
		want []any
	}{
		{"room_joined", []any{"/claude", "live", "n1", ts}},
		{"room_left", []any{"/claude", "live", "n1", ts}},
		{"event_received", []any{"/claude", "n1", []any{"ping", map[string]any{"x": 1.0}}, ts}},
		{"event_sent", []any{"/claude", "n1", []any{"pong"}, ts}},
		{"socket_disconnected", []any{"/claude", "n1", "client namespace disconnect", ts}},
	} {
		for name, c := range map[string]*fakeConn{"a": a, "b": b} {
			got := c.events(tc.ev)
			if len(got) < 1 || !reflect.DeepEqual(got[0], tc.want) {
				t.Errorf("%s %s: %v, want %v", name, tc.ev, got, tc.want)
			}
		}
	}
	if got := a.events("socket_connected"); len(got) != 1 || got[0][0].(map[string]any)["id"] != "n1" || got[0][1] != ts {
		t.Errorf("socket_connected: %v", got)
	}
	if got := a.events("socket_updated"); len(got) != 1 || got[0][0].(map[string]any)["transport"] != "websocket" {
		t.Errorf("socket_updated: %v", got)
	}
	if len(a.events("room_joined")) != 2 || len(b.events("room_joined")) != 1 {
		t.Errorf("after b left: a has %d room_joined (want 2), b %d (want 1)", len(a.events("room_joined")), len(b.events("room_joined")))
	}
}

// With no admin socket connected, the periodic server_stats is not built:
// it walks every socket of the server.
func TestServerStatsIdleWithoutAdmins(t *testing.T) {
	s, h := newServer(t, admin.Config{StatsInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	time.Sleep(150 * time.Millisecond)
	if n := h.counts.Load(); n != 0 {
		t.Errorf("server_stats built %d times with no admin socket", n)
	}
	c := &fakeConn{}
	s.Connect(c, "")
	deadline := time.Now().Add(5 * time.Second)
	for len(c.events("server_stats")) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if n := len(c.events("server_stats")); n < 3 {
		t.Errorf("%d server_stats once an admin socket is connected, want ≥ 3", n)
	}
}

func TestServerStatsAggregates(t *testing.T) {
	s, h := newServer(t, admin.Config{StatsInterval: 50 * time.Millisecond})
	c := &fakeConn{}
	s.Connect(c, "")
	sec := time.Unix(1700000000, 0)
	h.publish(admin.Event{Kind: admin.Aggregate, Type: "rawConnection", Time: sec})
	h.publish(admin.Event{Kind: admin.Aggregate, Type: "rawConnection", Time: sec.Add(300 * time.Millisecond)})
	h.publish(admin.Event{Kind: admin.Aggregate, Type: "bytesIn", Count: 120, Time: sec})
	h.publish(admin.Event{Kind: admin.Aggregate, Type: "rawDisconnection", SubType: "transport close", Time: sec})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(c.events("server_stats")) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	stats := c.events("server_stats")
	if len(stats) < 3 {
		t.Fatalf("%d server_stats in 5 s at a 50 ms interval", len(stats))
	}
	agg := stats[1][0].(map[string]any)["aggregatedEvents"].([]any)
	want := []any{
		map[string]any{"timestamp": sec.UnixMilli(), "type": "rawConnection", "count": 2},
		map[string]any{"timestamp": sec.UnixMilli(), "type": "bytesIn", "count": 120},
		map[string]any{"timestamp": sec.UnixMilli(), "type": "rawDisconnection", "subType": "transport close", "count": 1},
	}
	if !reflect.DeepEqual(agg, want) {
		t.Errorf("aggregatedEvents %v, want %v", agg, want)
	}
	if next := stats[2][0].(map[string]any)["aggregatedEvents"].([]any); len(next) != 0 {
		t.Errorf("aggregated events sent twice: %v", next)
	}
}

func TestHashPassword(t *testing.T) {
	h, err := admin.HashPassword("correct horse", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := (admin.Config{Username: "u", PasswordHash: h}).Validate(); err != nil {
		t.Fatal(err)
	}
	if c, _ := bcrypt.Cost([]byte(h)); c != bcrypt.DefaultCost {
		t.Errorf("cost %d", c)
	}
	if _, err := admin.HashPassword("", 0); err == nil {
		t.Error("empty password hashed")
	}
	if _, err := admin.HashPassword(strings.Repeat("x", 73), 0); err == nil {
		t.Error("73-byte password hashed")
	}
}

// clusterHost is a ClusterHost: its fakeHost is the full subscription
// (this node's events and the others'), local the SubscribeLocal one.
type clusterHost struct {
	*fakeHost
	local    *fakeHost
	mu       sync.Mutex
	stats    []map[string]any
	remoteFn func(bool)
}

func (h *clusterHost) SubscribeLocal(fn func(admin.Event)) func() { return h.local.Subscribe(fn) }
func (h *clusterHost) PublishStats(st map[string]any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stats = append(h.stats, st)
}
func (h *clusterHost) OnRemoteWatch(fn func(bool)) { h.remoteFn = fn }
func (h *clusterHost) published() []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]map[string]any(nil), h.stats...)
}

// this node's event, as a ClusterHost reports it to both subscriptions
func (h *clusterHost) localEvent(e admin.Event) { h.fakeHost.publish(e); h.local.publish(e) }

func runFor(t *testing.T, s *admin.Server, until func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for !until() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

// On a cluster node: another node's server_stats reach the admin sockets
// as they are (in production mode too); this node's server_stats are
// published, their aggregated counts gathered once, also while only an
// Admin UI of another node watches.
func TestClusterHost(t *testing.T) {
	for _, mode := range []string{admin.ModeDevelopment, admin.ModeProduction} {
		t.Run(mode, func(t *testing.T) {
			h := &clusterHost{fakeHost: &fakeHost{}, local: &fakeHost{}}
			s, err := admin.New(admin.Config{StatsInterval: 30 * time.Millisecond, Mode: mode, ServerID: "A"}, h)
			if err != nil {
				t.Fatal(err)
			}
			if h.remoteFn == nil {
				t.Fatal("the Server did not ask to be told of remote Admin UIs")
			}
			// Only a remote Admin UI watches: the counts are gathered, nothing
			// else is subscribed.
			h.remoteFn(true)
			if h.fakeHost.subscribers() != 0 || h.local.subscribers() != 1 {
				t.Fatalf("subscriptions full %d local %d, want 0 1", h.fakeHost.subscribers(), h.local.subscribers())
			}
			sec := time.Unix(1700000000, 0)
			h.localEvent(admin.Event{Kind: admin.Aggregate, Type: "rawConnection", Time: sec})
			runFor(t, s, func() bool { return len(h.published()) >= 2 })
			pub := h.published()
			if len(pub) < 2 || pub[0]["serverId"] != "A" {
				t.Fatalf("published stats %v", pub)
			}
			if agg := pub[0]["aggregatedEvents"].([]any); len(agg) != 1 || agg[0].(map[string]any)["count"] != 1 {
				t.Errorf("aggregated events while watched remotely: %v", agg)
			}
			// An admin socket here: both subscriptions; a count reported on
			// both is counted once; another node's server_stats are shown.
			c := &fakeConn{}
			_, onClose := s.Connect(c, "")
			if h.fakeHost.subscribers() != 1 || h.local.subscribers() != 1 {
				t.Fatalf("subscriptions full %d local %d, want 1 1", h.fakeHost.subscribers(), h.local.subscribers())
			}
			h.localEvent(admin.Event{Kind: admin.Aggregate, Type: "bytesIn", Count: 10, Time: sec})
			h.fakeHost.publish(admin.Event{Kind: admin.ServerStats, Stats: map[string]any{"serverId": "B", "namespaces": []any{}}})
			before := len(h.published())
			runFor(t, s, func() bool { return len(h.published()) >= before+1 })
			var fromB int
			var bytesIn []any
			for _, st := range c.events("server_stats") {
				m := st[0].(map[string]any)
				if m["serverId"] == "B" {
					fromB++
				}
				agg, _ := m["aggregatedEvents"].([]any)
				for _, a := range agg {
					if a.(map[string]any)["type"] == "bytesIn" {
						bytesIn = append(bytesIn, a)
					}
				}
			}
			if fromB != 1 {
				t.Errorf("B's server_stats reached the admin socket %d times", fromB)
			}
			if len(bytesIn) != 1 || bytesIn[0].(map[string]any)["count"] != 10 {
				t.Errorf("bytesIn counted as %v, want once, 10", bytesIn)
			}
			h.remoteFn(false)
			onClose()
			if h.fakeHost.subscribers() != 0 || h.local.subscribers() != 0 {
				t.Errorf("subscriptions left: full %d local %d", h.fakeHost.subscribers(), h.local.subscribers())
			}
		})
	}
}
