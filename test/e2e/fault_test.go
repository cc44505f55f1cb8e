package e2e_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
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
	raw, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, _, err := raw.ReadMessage(); err != nil { // Engine.IO open packet
		t.Fatal(err)
	}
	if err := raw.WriteMessage(websocket.TextMessage, []byte("40/hook,")); err != nil {
		t.Fatal(err)
	}
	if _, msg, err := raw.ReadMessage(); err != nil || !strings.HasPrefix(string(msg), "40/hook,") {
		t.Fatalf("namespace connect: %q %v", msg, err)
	}
	// From here on the raw client never reads.
	good, _ := dial(t, d, "/hook", dialOpts{})
	if got := d.Health(t)["clients"]; got != float64(2) {
		t.Fatalf("clients = %v, want 2", got)
	}

	payload := strings.Repeat("x", 4096)
	const n = 3000
	var wg sync.WaitGroup
	start := time.Now()
	// The producers keep at most window events ahead of the reading client,
	// well under the backlog limit: a client that reads, however slowly
	// (the race detector slows this one down), must never be dropped,
	// while the one that never reads piles up its backlog and is.
	const window = 200
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				for wait := time.Now().Add(30 * time.Second); good.count() < i-window && time.Now().Before(wait); {
					time.Sleep(time.Millisecond)
				}
				d.Emit(t, "hook", "flood", map[string]any{"i": i, "pad": payload})
			}
		}(w)
	}
	wg.Wait()
	good.waitFor(fmt.Sprintf("%d flood events at the reading client", n), 30*time.Second, func(evs []received) bool { return len(evs) >= n })
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
