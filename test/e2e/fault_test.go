package e2e_test

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// A client that stops reading must not hold up the others, and is dropped
// once its backlog passes the limit.
func TestSlowClientIsDroppedOthersUnaffected(t *testing.T) {
	d := mpmdtest.Start(t, mpmdtest.WithArgs("--max-backlog", "500"))
	url := strings.Replace(d.URL, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
	// join opens a plain websocket and joins /hook: the test sees mpmd's
	// frames themselves, not a client library's view of them.
	join := func() *websocket.Conn {
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if _, _, err := c.ReadMessage(); err != nil { // Engine.IO open packet
			t.Fatal(err)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte("40/hook,")); err != nil {
			t.Fatal(err)
		}
		if _, msg, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), "40/hook,") {
			t.Fatalf("namespace connect: %q %v", msg, err)
		}
		return c
	}
	join() // from here on this client never reads
	// The reading client counts the flood events and answers pings.
	good := join()
	var got atomic.Int64
	readErr := make(chan error, 1)
	go func() {
		for {
			_, msg, err := good.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			switch {
			case string(msg) == "2":
				_ = good.WriteMessage(websocket.TextMessage, []byte("3"))
			case strings.HasPrefix(string(msg), `42/hook,["flood"`):
				got.Add(1)
			}
		}
	}()
	if got := d.Health(t)["clients"]; got != float64(2) {
		t.Fatalf("clients = %v, want 2", got)
	}

	payload := strings.Repeat("x", 4096)
	const n = 3000
	var wg sync.WaitGroup
	start := time.Now()
	// The producers keep at most window events ahead of the reading client,
	// well under the backlog limit: a client that reads, however slowly,
	// must never be dropped, while the one that never reads piles up its
	// backlog and is.
	const window = 200
	stall := time.Now().Add(60 * time.Second)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				for got.Load() < int64(i-window) && time.Now().Before(stall) {
					time.Sleep(time.Millisecond)
				}
				d.Emit(t, "hook", "flood", map[string]any{"i": i, "pad": payload})
			}
		}(w)
	}
	wg.Wait()
	for got.Load() < n {
		select {
		case err := <-readErr:
			t.Fatalf("the reading client got %d of %d events, then: %v", got.Load(), n, err)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(stall) {
			t.Fatalf("the reading client got %d of %d events in 60 s", got.Load(), n)
		}
	}
	t.Logf("%d events of 4 KiB reached the reading client in %s", n, time.Since(start))

	deadline := time.Now().Add(10 * time.Second)
	for d.Health(t)["clients"] != float64(1) {
		if time.Now().After(deadline) {
			t.Fatalf("the client that stopped reading was not dropped: clients = %v", d.Health(t)["clients"])
		}
		time.Sleep(50 * time.Millisecond)
	}
	code, body := d.Do(t, http.MethodGet, "/metrics", nil)
	if code != 200 || !strings.Contains(string(body), "mpmd_slow_clients_dropped_total 1") {
		t.Errorf("metrics do not count the drop: %d\n%s", code, body)
	}
}
