package broadcast_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	ws "github.com/gorilla/websocket"
	"github.com/mpm-dev/mpm/pkg/broadcast"
)

// A write of frames that fails part way (a client that stopped reading,
// cut off by a write deadline) leaves the half-written frame's length
// standing in the client's reader: any byte after it — the next event,
// a Pong, the Close frame — would be read as that frame's payload, a torn
// message the client cannot tell from a real one. After a torn write
// nothing more may be written; the connection is only closed.
func TestTornWriteEndsTheConnection(t *testing.T) {
	var mu sync.Mutex
	var cut []byte // what the torn write put on the wire
	broadcast.SetConnWrite(t, func(c net.Conn, b []byte) (int, error) {
		i := bytes.Index(b, []byte("TORN"))
		mu.Lock()
		done := cut != nil
		mu.Unlock()
		if i < 0 || done {
			return c.Write(b)
		}
		n, err := c.Write(b[:i]) // the frame header and part of its payload
		mu.Lock()
		cut = append([]byte{}, b[:n]...)
		mu.Unlock()
		if err != nil {
			return n, err
		}
		return n, errors.New("injected: write cut part way")
	})
	var hub *broadcast.Hub
	joined := make(chan struct{}, 1)
	base := transportServer(t, broadcast.Config{PingInterval: time.Minute, PingTimeout: time.Minute}, func(h *broadcast.Hub) {
		hub = h
		h.Handle("/", nil, func(c broadcast.Conn) {
			c.Join("r")
			joined <- struct{}{}
		})
	})
	c, _, err := ws.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), "0{") {
		t.Fatalf("open: %q %v", msg, err)
	}
	if err := c.WriteMessage(ws.TextMessage, []byte("40")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), "40") {
		t.Fatalf("namespace CONNECT answer: %q %v", msg, err)
	}
	select {
	case <-joined:
	case <-time.After(5 * time.Second):
		t.Fatal("no join")
	}
	if n := hub.Broadcast("/", []string{"r"}, "before", map[string]any{"x": "intact"}); n != 1 {
		t.Fatalf("broadcast reached %d sockets, want 1", n)
	}
	if _, msg, err := c.ReadMessage(); err != nil || !strings.Contains(string(msg), "intact") {
		t.Fatalf("first event: %q %v", msg, err)
	}
	hub.Broadcast("/", []string{"r"}, "torn", map[string]any{"x": strings.Repeat("TORN", 64)})
	// What follows the torn write on the wire. The client keeps sending
	// (a Ping the server would answer) while the server tries to send more.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		mu.Lock()
		done := cut != nil
		mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the torn write never happened")
		}
	}
	_ = c.WriteControl(ws.PingMessage, []byte("p"), time.Now().Add(time.Second))
	for range 3 {
		hub.Broadcast("/", []string{"r"}, "after", map[string]any{"x": "must not be written"})
	}
	raw := c.NetConn() // gorilla's reader holds nothing: every message so far was read whole
	_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := io.ReadAll(raw)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("the connection stayed open after a torn write (read %q)", got)
	}
	mu.Lock()
	want := cut
	mu.Unlock()
	if want == nil {
		t.Fatal("the torn write never happened")
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("after the torn write the client read %d bytes, want only the %d of the cut frame:\n got %q\nwant %q", len(got), len(want), got, want)
	}
}
