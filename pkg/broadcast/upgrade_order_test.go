package broadcast_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ws "github.com/gorilla/websocket"

	"github.com/mpm-dev/mpm/pkg/broadcast"
)

// A client that connects over polling and upgrades (as the official
// socket.io-client does) gets every broadcast once and in order across the
// upgrade: those the engine held back while upgrading, those sent while the
// UPGRADE packet is being handled, and those after, which come straight
// into the websocket's queue (wsTransport.upgradeDone).
func TestUpgradedWebsocketBroadcastsInOrder(t *testing.T) {
	var hub *broadcast.Hub
	joined := make(chan struct{}, 1)
	base := transportServer(t, broadcast.Config{}, func(h *broadcast.Hub) {
		hub = h
		h.Handle("/b", func(broadcast.Conn) error { return nil }, func(c broadcast.Conn) {
			c.Join("r")
			joined <- struct{}{}
		})
	})
	sid := handshake(t, base)
	pl := &poller{base: base, sid: sid}
	if code, _ := poll(t, base, sid, `40/b,{}`); code != 200 {
		t.Fatal(code)
	}
	pl.until(t, "40/b,{")
	<-joined
	c, err := dialUpgrade(base, sid)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !probe(c) {
		t.Fatal("probe not answered")
	}
	const held, total = 50, 3000
	var missed atomic.Int64
	send := func(i int) {
		if n := hub.Broadcast("/b", []string{"r"}, "news", map[string]any{"i": float64(i)}); n != 1 {
			missed.Add(1)
		}
	}
	for i := range held { // the engine holds these: the upgrade is under way
		send(i)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for i := held; i < total; i++ {
			send(i)
		}
	})
	if err := c.WriteMessage(ws.TextMessage, []byte("5")); err != nil {
		t.Fatal(err)
	}
	next := 0
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	for next < total {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d of %d broadcasts: %v", next, total, err)
		}
		s := string(msg)
		if !strings.HasPrefix(s, `42/b,["news",`) {
			continue // a ping, a noop
		}
		want := fmt.Sprintf(`42/b,["news",{"i":%d}]`, next)
		if s != want {
			t.Fatalf("broadcast %d arrived as %q", next, s)
		}
		next++
	}
	wg.Wait()
	if n := missed.Load(); n > 0 {
		t.Errorf("%d broadcasts did not reach the socket", n)
	}
}

// Broadcasts made under a WriteHold reach a websocket client only at
// Release, all of them, in order; a broadcast after Release goes out at once.
func TestWriteHold(t *testing.T) {
	var hub *broadcast.Hub
	joined := make(chan struct{}, 1)
	base := transportServer(t, broadcast.Config{}, func(h *broadcast.Hub) {
		hub = h
		h.Handle("/b", func(broadcast.Conn) error { return nil }, func(c broadcast.Conn) {
			c.Join("r")
			joined <- struct{}{}
		})
	})
	c, _, err := ws.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	read := func(d time.Duration) (string, error) {
		_ = c.SetReadDeadline(time.Now().Add(d))
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return "", err
			}
			if s := string(msg); strings.HasPrefix(s, "42/b,") {
				return s, nil
			}
		}
	}
	// Connected, and the CONNECT answer written: the client's writer is
	// idle (a running writer takes whatever is queued, held or not).
	connected := func() {
		_ = c.WriteMessage(ws.TextMessage, []byte("40/b,"))
		<-joined
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(string(msg), "40/b,") {
				break
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	connected()
	hold := hub.HoldWrites()
	for i := range 3 {
		hub.Broadcast("/b", []string{"r"}, "news", map[string]any{"i": float64(i)})
	}
	if msg, err := read(200 * time.Millisecond); err == nil {
		t.Fatalf("%q arrived while writes were held", msg)
	}
	// the failed read's deadline broke this connection (gorilla): a new one
	c.Close()
	c, _, err = ws.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	connected()
	hold.Release()
	hold = hub.HoldWrites()
	for i := range 3 {
		hub.Broadcast("/b", []string{"r"}, "news", map[string]any{"i": float64(i)})
	}
	hold.Release()
	hub.Broadcast("/b", []string{"r"}, "news", map[string]any{"i": float64(3)})
	for i := range 4 {
		msg, err := read(5 * time.Second)
		if want := fmt.Sprintf(`42/b,["news",{"i":%d}]`, i); err != nil || msg != want {
			t.Fatalf("message %d: %q %v, want %q", i, msg, err, want)
		}
	}
}

// A hold's Release writes each client's messages on the releasing
// goroutine with one write(2) that does not wait; a client that is not
// reading takes only part of them, and the rest must follow from its
// writer, whole, in order, ahead of what is broadcast after the Release.
func TestWriteHoldSlowReaderGetsEverything(t *testing.T) {
	var hub *broadcast.Hub
	joined := make(chan struct{}, 1)
	base := transportServer(t, broadcast.Config{PingInterval: time.Minute, PingTimeout: time.Minute, MaxBacklog: 1 << 20}, func(h *broadcast.Hub) {
		hub = h
		h.Handle("/b", nil, func(c broadcast.Conn) {
			c.Join("r")
			joined <- struct{}{}
		})
	})
	c, _, err := ws.DefaultDialer.Dial(strings.Replace(base, "http", "ws", 1)+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_ = c.WriteMessage(ws.TextMessage, []byte("40/b,"))
	<-joined
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(string(msg), "40/b,") {
			break
		}
	}
	time.Sleep(50 * time.Millisecond) // the CONNECT answer's writer is done
	// 12 MiB: more than a loopback socket's buffers take at once.
	const held, after, size = 48, 8, 256 << 10
	pad := strings.Repeat("x", size)
	hold := hub.HoldWrites()
	for i := range held {
		hub.Broadcast("/b", []string{"r"}, "news", map[string]any{"i": float64(i), "pad": pad})
	}
	hold.Release()
	for i := held; i < held+after; i++ {
		hub.Broadcast("/b", []string{"r"}, "news", map[string]any{"i": float64(i), "pad": pad})
	}
	for i := range held + after {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if want := fmt.Sprintf(`42/b,["news",{"i":%d,"pad":"%s"}]`, i, pad); string(msg) != want {
			head := msg[:min(len(msg), 40)]
			t.Fatalf("message %d: %d bytes starting %q, want event %d whole (%d bytes)", i, len(msg), head, i, len(want))
		}
	}
}
