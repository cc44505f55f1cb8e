package broadcast_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/broadcast"
)

// recorder is an Observer that keeps every event.
type recorder struct {
	mu  sync.Mutex
	evs []broadcast.Event
}

func (r *recorder) Active() bool { return true }
func (r *recorder) Observe(e broadcast.Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

// wait waits for an event of kind on nsp, and returns it.
func (r *recorder) wait(t *testing.T, kind broadcast.EventKind, nsp string) broadcast.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, e := range r.evs {
			if e.Kind == kind && e.Nsp == nsp {
				r.mu.Unlock()
				return e
			}
		}
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no event of kind %d on %s", kind, nsp)
	return broadcast.Event{}
}

// poller reads one long-polling session's packets in order.
type poller struct {
	base, sid string
	buf       []string
}

// until returns the first packet starting with prefix, polling for more
// as needed; the packets before it are passed over.
func (p *poller) until(t *testing.T, prefix string) string {
	t.Helper()
	var seen []string
	for try := 0; try < 6; try++ {
		for len(p.buf) > 0 {
			pkt := p.buf[0]
			p.buf = p.buf[1:]
			if strings.HasPrefix(pkt, prefix) {
				return pkt
			}
			seen = append(seen, pkt)
		}
		code, body := poll(t, p.base, p.sid, "")
		if code != 200 {
			t.Fatalf("poll: %d %q", code, body)
		}
		p.buf = strings.Split(body, "\x1e")
	}
	t.Fatalf("no packet %q*: got %q", prefix, seen)
	return ""
}

// The hub's face: a refused handshake is a connect_error with a code; a
// connected socket is listed, observed, reached by Broadcast in its room,
// and disconnected by a namespace-wide Disconnect; an unknown namespace is
// refused, never created.
func TestHubFace(t *testing.T) {
	rec := &recorder{}
	var hub *broadcast.Hub
	base := transportServer(t, broadcast.Config{}, func(h *broadcast.Hub) {
		hub = h
		h.Handle("/locked", func(broadcast.Conn) error { return broadcast.Refuse("go away", "nope") }, nil)
		h.Handle("/b", func(c broadcast.Conn) error {
			c.SetData(c.Handshake().Auth["name"])
			return nil
		}, func(c broadcast.Conn) {
			c.Join("r")
			c.On("hello", func(args []any, ack broadcast.Ack) {
				if ack != nil {
					ack("hi", args[0])
				}
			})
		})
		h.Observe(rec)
	})

	if got, want := hub.Namespaces(), []string{"/", "/locked", "/b"}; !slices.Equal(got, want) {
		t.Errorf("Namespaces() = %q, want %q", got, want)
	}
	for _, err := range []error{hub.Emit("/nope", "", "x"), hub.Join("/nope", "r", ""), hub.Leave("/nope", "r", ""), hub.Disconnect("/nope", false, "")} {
		if !errors.Is(err, broadcast.ErrUnknownNamespace) {
			t.Errorf("an unknown namespace: %v, want ErrUnknownNamespace", err)
		}
	}

	sid := handshake(t, base)
	pl := &poller{base: base, sid: sid}
	if code, _ := poll(t, base, sid, `40/locked,{}`); code != 200 {
		t.Fatal(code)
	}
	if p := pl.until(t, "44/locked,"); p != `44/locked,{"data":{"code":"nope"},"message":"go away"}` &&
		p != `44/locked,{"message":"go away","data":{"code":"nope"}}` {
		t.Errorf("refused CONNECT answered %q", p)
	}

	if code, _ := poll(t, base, sid, `40/b,{"name":"bee"}`+"\x1e"+`42/b,7["hello",{"n":1}]`); code != 200 {
		t.Fatal(code)
	}
	pl.until(t, "40/b,{")
	if p := pl.until(t, "43/b,7"); p != `43/b,7["hi",{"n":1}]` {
		t.Errorf("ack %q", p)
	}
	conn := rec.wait(t, broadcast.Connected, "/b").Conn
	if conn.Data() != "bee" || conn.Transport() != "polling" || conn.Namespace() != "/b" {
		t.Errorf("connected: data %v, transport %q, namespace %q", conn.Data(), conn.Transport(), conn.Namespace())
	}
	if e := rec.wait(t, broadcast.Received, "/b"); len(e.Args) != 2 || e.Args[0] != "hello" {
		t.Errorf("received %v, want [hello {n:1}] without the ack", e.Args)
	}
	rec.wait(t, broadcast.RoomJoined, "/b")

	var listed []broadcast.Conn
	hub.Each(func(c broadcast.Conn) bool { listed = append(listed, c); return true })
	if len(listed) != 1 || listed[0].ID() != conn.ID() || !slices.Contains(listed[0].Rooms(), "r") {
		t.Errorf("Each listed %d sockets, want the one in /b in room r", len(listed))
	}
	if clients, polling := hub.Counts(); clients != 1 || polling != 1 {
		t.Errorf("Counts() = %d, %d, want 1, 1", clients, polling)
	}

	if n := hub.Broadcast("/b", []string{"r"}, "news", map[string]any{"seq": 1.0}); n != 1 {
		t.Errorf("Broadcast reached %d sockets, want 1", n)
	}
	if n := hub.Broadcast("/b", []string{"elsewhere"}, "news", map[string]any{}); n != 0 {
		t.Errorf("Broadcast to an empty room reached %d", n)
	}
	if p := pl.until(t, "42/b,"); p != `42/b,["news",{"seq":1}]` {
		t.Errorf("broadcast arrived as %q", p)
	}
	if e := rec.wait(t, broadcast.Broadcasted, "/b"); !slices.Equal(e.SocketIDs, []string{conn.ID()}) {
		t.Errorf("broadcast observed to %q", e.SocketIDs)
	}

	if err := hub.Disconnect("/b", false, "r"); err != nil {
		t.Fatal(err)
	}
	rec.wait(t, broadcast.Disconnected, "/b")
	pl.until(t, "41/b")
}
