package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/admin"
	"github.com/redis/go-redis/v9"
)

// fakeHost is one node's local admin.Host: its sockets, the actions it
// was asked for, and the events it reports when told to.
type fakeHost struct {
	mu    sync.Mutex
	socks []admin.SocketInfo
	acts  []string
	subs  map[int]func(admin.Event)
	next  int
}

func newFakeHost(node string, n int) *fakeHost {
	h := &fakeHost{subs: map[int]func(admin.Event){}}
	for i := 0; i < n; i++ {
		h.socks = append(h.socks, admin.SocketInfo{ID: fmt.Sprintf("%s-%d", node, i), Nsp: "/log", Transport: "websocket",
			Data: map[string]any{"producer": false}, Handshake: admin.Handshake{Headers: map[string]any{"x-node": node}}})
	}
	return h
}

func (h *fakeHost) Namespaces() []admin.NamespaceInfo {
	return []admin.NamespaceInfo{{Name: "/log", SocketsCount: len(h.socks)}}
}
func (h *fakeHost) Sockets() []admin.SocketInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]admin.SocketInfo(nil), h.socks...)
}
func (h *fakeHost) Counts() admin.Counts { return admin.Counts{Clients: len(h.socks)} }
func (h *fakeHost) record(s string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.acts = append(h.acts, s)
	return nil
}
func (h *fakeHost) Emit(nsp, room, ev string, args []any) error {
	b, _ := json.Marshal(args)
	return h.record(fmt.Sprintf("emit %s %s %s %s", nsp, room, ev, b))
}
func (h *fakeHost) Join(nsp, room, filter string) error {
	return h.record(fmt.Sprintf("join %s %s %s", nsp, room, filter))
}
func (h *fakeHost) Leave(nsp, room, filter string) error {
	return h.record(fmt.Sprintf("leave %s %s %s", nsp, room, filter))
}
func (h *fakeHost) Disconnect(nsp string, c bool, filter string) error {
	return h.record(fmt.Sprintf("disconnect %s %v %s", nsp, c, filter))
}
func (h *fakeHost) Subscribe(fn func(admin.Event)) func() {
	h.mu.Lock()
	id := h.next
	h.next++
	h.subs[id] = fn
	h.mu.Unlock()
	return func() { h.mu.Lock(); delete(h.subs, id); h.mu.Unlock() }
}
func (h *fakeHost) fire(e admin.Event) {
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
func (h *fakeHost) actions() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.acts...)
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// adminNode is one node: its log, its fake local host, its AdminHost and
// what its log said.
type adminNode struct {
	id    string
	local *fakeHost
	ah    *AdminHost
	out   *syncBuf
}

func startAdminNode(t testing.TB, url, id string, socks int, cfg AdminConfig) *adminNode {
	t.Helper()
	out := &syncBuf{}
	l, err := Open(context.Background(), Config{URL: url, NodeID: id, Logger: slog.New(slog.NewTextHandler(out, nil))}, openStore(t))
	if err != nil {
		t.Fatal(err)
	}
	n := &adminNode{id: id, local: newFakeHost(id, socks), out: out}
	n.ah = l.AdminHost(cfg)
	n.ah.Wrap(n.local)
	t.Cleanup(func() { n.ah.Close(); l.Close() })
	return n
}

// peersKnown waits until every node has heard every other's heartbeat.
func peersKnown(t testing.TB, ns ...*adminNode) {
	t.Helper()
	waitFor(t, "every node to know the others", func() bool {
		for _, a := range ns {
			for _, b := range ns {
				if a != b && a.ah.live(b.id) == nil {
					return false
				}
			}
		}
		return true
	})
}

func rawClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func ids(socks []admin.SocketInfo) string {
	var out []string
	for _, s := range socks {
		out = append(out, s.ID)
	}
	return strings.Join(out, ",")
}

// The socket list is every node's; a node known alive that does not
// answer costs the timeout, and the log names it.
func TestAdminSocketsOfEveryNode(t *testing.T) {
	url, _, _ := testRedis(t)
	a := startAdminNode(t, url, "A", 2, AdminConfig{Feed: true})
	b := startAdminNode(t, url, "B", 3, AdminConfig{Feed: true})
	peersKnown(t, a, b)
	start := time.Now()
	got := a.ah.Sockets()
	if took := time.Since(start); took > 300*time.Millisecond {
		t.Errorf("the socket list took %v with every node answering", took)
	}
	if ids(got) != "A-0,A-1,B-0,B-1,B-2" {
		t.Errorf("sockets %s", ids(got))
	}
	if h := got[2].Handshake.Headers["x-node"]; h != "B" {
		t.Errorf("B's socket came without its handshake: %+v", got[2])
	}
	// A node that heartbeats but never answers (an old mpmd, a stuck one).
	rc := rawClient(t, url)
	silent, _ := json.Marshal(adminMsg{V: adminVersion, T: "hb", Node: "Z", Inst: "x"})
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			rc.Publish(context.Background(), DefaultPrefix+"admin:all", silent)
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	waitFor(t, "A to know Z", func() bool { return a.ah.live("Z") != nil })
	start = time.Now()
	got = a.ah.Sockets()
	took := time.Since(start)
	if ids(got) != "A-0,A-1,B-0,B-1,B-2" {
		t.Errorf("sockets with Z silent: %s", ids(got))
	}
	if took < DefaultAdminTimeout || took > DefaultAdminTimeout+500*time.Millisecond {
		t.Errorf("with Z silent the list took %v, want about %v", took, DefaultAdminTimeout)
	}
	if !strings.Contains(a.out.String(), "did not answer") || !strings.Contains(a.out.String(), "nodes=[Z]") {
		t.Errorf("the log does not name Z:\n%s", a.out.String())
	}
}

// An action on one node reaches every other node's sockets; a readonly
// node publishes none, and an action claiming to come from a readonly or
// unknown node, or garbage, is refused with a log line.
func TestAdminActionsOnEveryNode(t *testing.T) {
	url, _, _ := testRedis(t)
	a := startAdminNode(t, url, "A", 1, AdminConfig{Feed: true})
	b := startAdminNode(t, url, "B", 1, AdminConfig{Feed: true})
	ro := startAdminNode(t, url, "R", 1, AdminConfig{Feed: true, Readonly: true})
	peersKnown(t, a, b, ro)

	_ = a.ah.Emit("/log", "B-0", "note", []any{map[string]any{"text": "hi"}})
	_ = a.ah.Join("/log", "team", "")
	_ = a.ah.Leave("/log", "team", "B-0")
	_ = a.ah.Disconnect("/log", true, "B-0")
	want := []string{`emit /log B-0 note [{"text":"hi"}]`, "join /log team ", "leave /log team B-0", "disconnect /log true B-0"}
	for _, n := range []*adminNode{a, b, ro} {
		waitFor(t, n.id+" to apply the four actions", func() bool { return len(n.local.actions()) >= 4 })
		if got := n.local.actions(); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s applied %q, want %q", n.id, got, want)
		}
	}
	// The readonly node applies locally what its Host is asked (the admin
	// protocol never asks it) but tells no one.
	_ = ro.ah.Emit("/log", "", "from_readonly", nil)
	time.Sleep(300 * time.Millisecond)
	for _, n := range []*adminNode{a, b} {
		if got := n.local.actions(); len(got) != 4 {
			t.Errorf("%s applied a readonly node's action: %q", n.id, got)
		}
	}

	// Forged and broken messages.
	rc := rawClient(t, url)
	pub := func(v any) {
		var b []byte
		if s, ok := v.(string); ok {
			b = []byte(s)
		} else {
			b, _ = json.Marshal(v)
		}
		if err := rc.Publish(context.Background(), DefaultPrefix+"admin:all", b).Err(); err != nil {
			t.Fatal(err)
		}
	}
	act := &wireAct{Op: "disconnect", Nsp: "/log"}
	pub(adminMsg{V: adminVersion, T: "act", Node: "R", Inst: ro.ah.inst, Act: act}) // R is readonly
	pub(adminMsg{V: adminVersion, T: "act", Node: "ghost", Act: act})               // never heard of
	for _, s := range []string{`not json`, `[1,2]`, `{"v":99,"t":"act","n":"A"}`, `{"v":1,"t":"act"}`,
		`{"v":1,"t":"act","n":"A","a":{"op":"emit","nsp":"/log"}}`, `{"v":1,"t":"act","n":"A","a":{"op":"rm -rf","nsp":"/log"}}`,
		`{"v":1,"t":"act","n":"A","a":{"op":"join","nsp":"/log"}}`, `{"v":1,"t":"act","n":"A","a":"x"}`,
		`{"v":1,"t":"ev","n":"A","e":[{"k":1,"ts":1,"nsp":"/log"},{"k":42,"ts":1,"nsp":"/"}]}`,
		`{"v":1,"t":"stats","n":"A","st":{"pid":1}}`, `{"v":1,"t":"what","n":"A"}`, `{"v":1,"t":"res","n":"A","id":"nope","s":[{}]}`,
		`{"v":1,"t":"hb","n":"B","i":"someone-else"}`} {
		pub(s)
	}
	time.Sleep(300 * time.Millisecond)
	if got := b.local.actions(); len(got) != 4 {
		t.Errorf("B applied a forged or broken action: %q", got)
	}
	log := b.out.String()
	for _, w := range []string{"readonly node", "sent no heartbeat", "cannot read", "protocol version 99", "without a valid node id",
		"without an event name", `action \"rm -rf\"`, "without a room", "unknown type", "another mpmd uses this node id"} {
		if !strings.Contains(log, w) {
			t.Errorf("B's log lacks %q:\n%s", w, log)
		}
	}
	// and B still works
	_ = a.ah.Emit("/log", "", "after", nil)
	waitFor(t, "B to apply an action after the garbage", func() bool { return len(b.local.actions()) == 5 })
}

// While an Admin UI watches on A, B publishes its live feed and its
// server_stats, each reaching A's subscriber once; A's own events are not
// echoed back; B stops when A's Admin UI is gone.
func TestAdminFeedAndStatsOfEveryNode(t *testing.T) {
	url, _, _ := testRedis(t)
	a := startAdminNode(t, url, "A", 0, AdminConfig{Feed: true})
	b := startAdminNode(t, url, "B", 0, AdminConfig{Feed: true})
	peersKnown(t, a, b)
	var mu sync.Mutex
	var remote []bool
	b.ah.OnRemoteWatch(func(on bool) { mu.Lock(); remote = append(remote, on); mu.Unlock() })
	a.ah.OnRemoteWatch(func(on bool) { t.Errorf("A was told a remote Admin UI watches: %v", on) })
	b.ah.PublishStats(map[string]any{"serverId": "B", "namespaces": []any{}}) // nobody watches: not sent

	var got []admin.Event
	off := a.ah.Subscribe(func(e admin.Event) { mu.Lock(); got = append(got, e); mu.Unlock() })
	waitFor(t, "B to be told A watches", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(remote) == 1 && remote[0]
	})
	if b.local.subscribers() != 1 {
		t.Errorf("B's feed subscription: %d subscribers", b.local.subscribers())
	}
	b.local.fire(admin.Event{Kind: admin.SocketConnected, Socket: &admin.SocketInfo{ID: "s1", Nsp: "/log", Rooms: []string{"s1"}}})
	b.local.fire(admin.Event{Kind: admin.EventSent, Nsp: "/log", SocketID: "s1", Args: []any{"message", map[string]any{"n": 1.0}}})
	b.local.fire(admin.Event{Kind: admin.Aggregate, Type: "packetsOut", Count: 1}) // B's own server_stats carry it
	b.local.fire(admin.Event{Kind: admin.SocketDisconnected, Nsp: "/log", SocketID: "s1", Reason: "transport close"})
	b.ah.PublishStats(map[string]any{"serverId": "B", "pid": 7.0, "namespaces": []any{}, "secret": "x"})
	a.local.fire(admin.Event{Kind: admin.RoomJoined, Nsp: "/log", Room: "r", SocketID: "a1"})
	waitFor(t, "B's events and stats at A", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= 5
	})
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	t.Logf("A got %+v", got)
	kinds := map[admin.Kind]int{}
	for _, e := range got {
		kinds[e.Kind]++
		switch e.Kind {
		case admin.SocketConnected:
			if e.Socket == nil || e.Socket.ID != "s1" || e.Socket.Rooms[0] != "s1" {
				t.Errorf("socket_connected %+v", e)
			}
		case admin.EventSent:
			if e.Args[0] != "message" || e.SocketID != "s1" {
				t.Errorf("event_sent %+v", e)
			}
		case admin.ServerStats:
			if e.Stats["serverId"] != "B" || e.Stats["pid"] != 7.0 || e.Stats["secret"] != nil {
				t.Errorf("server_stats %v", e.Stats)
			}
		}
	}
	mu.Unlock()
	want := map[admin.Kind]int{admin.SocketConnected: 1, admin.EventSent: 1, admin.SocketDisconnected: 1, admin.ServerStats: 1, admin.RoomJoined: 1}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("A's subscriber got %v, want %v", kinds, want)
	}
	off()
	waitFor(t, "B to be told no Admin UI watches", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(remote) == 2 && !remote[1]
	})
	if b.local.subscribers() != 0 {
		t.Errorf("B still publishes its feed: %d subscribers", b.local.subscribers())
	}
}

// A node that stops says so: the others do not wait for it.
func TestAdminNodeGoneIsNotWaitedFor(t *testing.T) {
	url, _, _ := testRedis(t)
	a := startAdminNode(t, url, "A", 1, AdminConfig{})
	b := startAdminNode(t, url, "B", 1, AdminConfig{})
	peersKnown(t, a, b)
	b.ah.Close()
	waitFor(t, "A to forget B", func() bool { return a.ah.live("B") == nil })
	start := time.Now()
	if got := ids(a.ah.Sockets()); got != "A-0" {
		t.Errorf("sockets %s", got)
	}
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("the list waited %v for a node that said bye", took)
	}
}

// A flood of heartbeats of made-up nodes is bounded: the node keeps track
// of adminMaxPeers at most, says so, and its own peers still count.
func TestAdminPeersBounded(t *testing.T) {
	url, _, _ := testRedis(t)
	a := startAdminNode(t, url, "A", 1, AdminConfig{})
	b := startAdminNode(t, url, "B", 1, AdminConfig{})
	peersKnown(t, a, b)
	rc := rawClient(t, url)
	pipe := rc.Pipeline()
	for i := 0; i < adminMaxPeers+50; i++ {
		m, _ := json.Marshal(adminMsg{V: adminVersion, T: "hb", Node: fmt.Sprintf("fake-%d", i), Inst: "x"})
		pipe.Publish(context.Background(), DefaultPrefix+"admin:all", m)
	}
	if _, err := pipe.Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A to refuse more peers", func() bool { return strings.Contains(a.out.String(), "already keeps track of 256 nodes") })
	a.ah.mu.Lock()
	n := len(a.ah.peers)
	a.ah.mu.Unlock()
	if n > adminMaxPeers {
		t.Errorf("A keeps %d peers", n)
	}
	if a.ah.live("B") == nil {
		t.Error("A forgot B")
	}
}

// BenchmarkAdminSockets: one socket list across three nodes of 1,000
// sockets each (go test ./pkg/cluster -run '^$' -bench AdminSockets).
func BenchmarkAdminSockets(b *testing.B) {
	url, _, _ := testRedis(b)
	a := startAdminNode(b, url, "A", 1000, AdminConfig{})
	n2 := startAdminNode(b, url, "B", 1000, AdminConfig{})
	n3 := startAdminNode(b, url, "C", 1000, AdminConfig{})
	peersKnown(b, a, n2, n3)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n := len(a.ah.Sockets()); n != 3000 {
			b.Fatalf("%d sockets", n)
		}
	}
}

// While Redis is away the socket list is this node's (quickly, with a log
// line); when Redis is back the nodes find each other again.
func TestAdminAcrossRedisRestart(t *testing.T) {
	url, start, stop := testRedis(t)
	a := startAdminNode(t, url, "A", 1, AdminConfig{})
	b := startAdminNode(t, url, "B", 1, AdminConfig{})
	peersKnown(t, a, b)
	stop()
	begin := time.Now()
	if got := ids(a.ah.Sockets()); got != "A-0" {
		t.Errorf("sockets with Redis away: %s", got)
	}
	if took := time.Since(begin); took > 3*time.Second {
		t.Errorf("the list took %v with Redis away", took)
	}
	waitFor(t, "A to say why", func() bool {
		return strings.Contains(a.out.String(), "cannot ask the other nodes") || strings.Contains(a.out.String(), "did not answer")
	})
	start()
	waitFor(t, "the socket list to span both nodes again", func() bool {
		peersKnown(t, a, b)
		return ids(a.ah.Sockets()) == "A-0,B-0"
	})
}
