package e2e_test

import (
	"encoding/json"
	"fmt"
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
	// join opens a plain websocket and joins /hook: the test sees mpmd's
	// frames themselves, not a client library's view of them.
	join := func() *websocket.Conn {
		w := mpmdtest.MustWS(t, d)
		if msg, err := w.Connect("/hook", map[string]any{}); err != nil || msg != "" {
			t.Fatalf("namespace connect: %q %v", msg, err)
		}
		return w.C
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

	const n = 3000
	start := time.Now()
	// The producers keep at most window events ahead of the reading client,
	// well under the backlog limit: a client that reads, however slowly,
	// must never be dropped, while the one that never reads piles up its
	// backlog and is.
	const window = 200
	stall := time.Now().Add(60 * time.Second)
	emitPadded(t, d, "flood", n, func(i int) {
		for got.Load() < int64(i-window) && time.Now().Before(stall) {
			time.Sleep(time.Millisecond)
		}
	})
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

// emitPadded emits n /hook events called name, each {"i": i, "pad": 4 KiB},
// from four producers at once, calling before(i), when set, ahead of event
// i; it returns when all are acked.
func emitPadded(t *testing.T, d *mpmdtest.Daemon, name string, n int, before func(i int)) {
	payload := strings.Repeat("x", 4096)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				if before != nil {
					before(i)
				}
				d.Emit(t, "hook", name, map[string]any{"i": i, "pad": payload})
			}
		}(w)
	}
	wg.Wait()
}

// A client that reconnects far behind (here: 3,000 events of 4 KiB, six
// times the backlog limit) catches up without being dropped for it: mpmd
// paces the replay to the client's reading, so the replay itself never
// fills the client's queue past the limit, and live events of its other
// namespaces keep flowing meanwhile. (Unpaced, the replay piled thousands
// of messages into the queue and the next live event dropped the client,
// which then reconnected and replayed again: a dashboard under a flood fell
// behind by a whole namespace.)
func TestReplayLargerThanBacklogIsPaced(t *testing.T) {
	d := mpmdtest.Start(t, mpmdtest.WithArgs("--max-backlog", "500"))
	const stored, live = 3000, 20
	emitPadded(t, d, "stored", stored, nil)

	// Over websocket from the start, and (the Node and Python clients'
	// default) over long-polling first: the replay starts paced by polls,
	// and must switch to the websocket's pace when the client upgrades.
	t.Run("websocket", func(t *testing.T) {
		w := mpmdtest.MustWS(t, d)
		if msg, err := w.Connect("/claude", map[string]any{}); err != nil || msg != "" {
			t.Fatalf("/claude connect: %q %v", msg, err)
		}
		if msg, err := w.Connect("/hook", map[string]any{"since_seq": 0}); err != nil || msg != "" {
			t.Fatalf("/hook connect: %q %v", msg, err)
		}
		catchUp(t, d, w.C, nil, stored, live)
	})
	t.Run("upgraded", func(t *testing.T) {
		w, early := upgradedJoin(t, d, "/hook", `{"since_seq":0}`)
		if msg, err := w.Connect("/claude", map[string]any{}, &early); err != nil || msg != "" {
			t.Fatalf("/claude connect: %q %v", msg, err)
		}
		catchUp(t, d, w.C, early, stored, live)
	})
}

// catchUp has the client c (joined to /claude live and to /hook replaying
// stored events, some of which came already as early) read nothing for a
// second while live /claude events arrive, then read until it has every
// stored event in seq order and every live one, failing if mpmd drops it.
func catchUp(t *testing.T, d *mpmdtest.Daemon, c *websocket.Conn, early []string, stored, live int) {
	t.Helper()
	for i := 0; i < live; i++ {
		d.Emit(t, "claude", "live", map[string]any{"i": i})
		time.Sleep(50 * time.Millisecond)
	}
	var hookSeqs []int64
	liveGot := 0
	handle := func(m string) {
		switch {
		case m == "2":
			_ = c.WriteMessage(websocket.TextMessage, []byte("3"))
		case strings.HasPrefix(m, `42/claude,["live"`):
			liveGot++
		case strings.HasPrefix(m, `42/hook,["stored"`):
			var ev []json.RawMessage
			var data struct{ Seq int64 }
			if err := json.Unmarshal([]byte(m[len("42/hook,"):]), &ev); err != nil || len(ev) != 2 || json.Unmarshal(ev[1], &data) != nil {
				t.Fatalf("bad event message %.200q", m)
			}
			if n := len(hookSeqs); n > 0 && data.Seq <= hookSeqs[n-1] {
				t.Fatalf("replayed seq %d after %d", data.Seq, hookSeqs[n-1])
			}
			hookSeqs = append(hookSeqs, data.Seq)
		}
	}
	for _, m := range early {
		handle(m)
	}
	_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
	for len(hookSeqs) < stored || liveGot < live {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("after %d replayed and %d live events: %v (mpmd dropped the client?)", len(hookSeqs), liveGot, err)
		}
		handle(string(msg))
	}
	code, body := d.Do(t, http.MethodGet, "/metrics", nil)
	if code != 200 || !strings.Contains(string(body), "mpmd_slow_clients_dropped_total 0") {
		t.Errorf("a client that read everything was counted as dropped: %d\n%s", code, body)
	}
}

// A client may emit the moment it has asked to join a namespace: here the
// CONNECT and the first EVENT go out back to back, before mpmd's answer.
// The Socket.IO library acknowledges a CONNECT before it records the
// namespace as joined, and closes the whole connection ("invalid state")
// when an EVENT for the namespace is read in between — for a client that
// waits for the answer (mpm-hook emits as soon as it has it) that was a rare
// race on a busy machine; this makes it happen every time unless mpmd holds
// the connection's next packet until the join is recorded.
func TestEmitRightAfterConnect(t *testing.T) {
	d := mpmdtest.Start(t)
	for i := 0; i < 30; i++ {
		c := mpmdtest.MustWS(t, d).C
		ev := fmt.Sprintf(`42/hook,1["right_after",{"event_id":"rac-%d"}]`, i)
		if err := c.WriteMessage(websocket.TextMessage, []byte(`40/hook,{"producer":true}`)); err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte(ev)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var joined, acked bool
		for !joined || !acked {
			_, msg, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("connect %d: %v (joined %v, acked %v): mpmd closed the connection", i, err, joined, acked)
			}
			m := string(msg)
			switch {
			case strings.HasPrefix(m, "40/hook,"):
				joined = true
			case strings.HasPrefix(m, "43/hook,1["):
				if !strings.Contains(m, `"seq"`) {
					t.Fatalf("connect %d: ack %s, want a seq", i, m)
				}
				acked = true
			}
		}
		c.Close()
	}
	if n := len(d.Events(t, "namespace=hook&event=right_after")); n != 30 {
		t.Errorf("%d events stored, want 30", n)
	}
}

// A client that came as long-polling and upgraded to websocket (the Node
// and Python clients' default) and then stops reading is dropped like any
// other: its messages reach mpmd's websocket queue through the engine, and
// that queue is bounded by --max-backlog too.
func TestUpgradedSlowClientIsDropped(t *testing.T) {
	d := mpmdtest.Start(t, mpmdtest.WithArgs("--max-backlog", "500"))
	upgradedJoin(t, d, "/hook", "{}") // from here on this client never reads
	if got := d.Health(t)["clients"]; got != float64(1) {
		t.Fatalf("clients = %v, want 1", got)
	}
	payload := strings.Repeat("x", 4096)
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; d.Health(t)["clients"] != float64(0); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d events of 4 KiB the upgraded client that stopped reading was not dropped", i)
		}
		d.Emit(t, "hook", "flood", map[string]any{"i": i, "pad": payload})
	}
	code, body := d.Do(t, http.MethodGet, "/metrics", nil)
	if code != 200 || !strings.Contains(string(body), "mpmd_slow_clients_dropped_total 1") {
		t.Errorf("metrics do not count the drop: %d\n%s", code, body)
	}
}
