package broadcast_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/broadcast"
	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// hookHub serves /hook as mpmd does in shape: a handshake that reads the
// client's auth, and a connection handler that answers every event with
// an ack carrying the event's i. It counts the events it got.
func hookHub(got *atomic.Int64) func(*broadcast.Hub) {
	return func(h *broadcast.Hub) {
		h.Handle("/hook", func(c broadcast.Conn) error {
			c.SetData(c.Handshake().Auth["producer"])
			return nil
		}, func(c broadcast.Conn) {
			c.OnAny(func(ev string, args []any, ack broadcast.Ack) {
				got.Add(1)
				if ack == nil || len(args) != 1 {
					return
				}
				data, _ := args[0].(map[string]any)
				ack(map[string]any{"event": ev, "i": data["i"]})
			})
		})
	}
}

// connectAndEmit opens a long-polling session, sends a CONNECT to /hook
// and an EVENT with ack id 1 for it — in one POST, or in two back to
// back — and polls until it has the CONNECT's answer and the event's ack.
// It returns what went wrong, or "".
func connectAndEmit(c *http.Client, base string, i int, twoPosts bool) string {
	code, body, err := pollErr(c, base, "", "")
	if err != nil || code != http.StatusOK || !strings.HasPrefix(body, "0{") {
		return fmt.Sprintf("handshake: %d %q %v", code, body, err)
	}
	var open struct{ Sid string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil {
		return err.Error()
	}
	sid := open.Sid
	defer func() { _, _, _ = pollErr(c, base, sid, "1") }() // CLOSE
	connect := `40/hook,{"producer":true}`
	emit := fmt.Sprintf(`42/hook,1["evt",{"i":%d}]`, i)
	posts := []string{connect + "\x1e" + emit}
	if twoPosts {
		posts = []string{connect, emit}
	}
	for _, p := range posts {
		if code, body, err := pollErr(c, base, sid, p); err != nil || code != http.StatusOK || body != "ok" {
			return fmt.Sprintf("POST %q: %d %q %v", p, code, body, err)
		}
	}
	wantAck := fmt.Sprintf(`43/hook,1[{"event":"evt","i":%d}]`, i)
	var connected, acked bool
	var seen []string
	for try := 0; try < 5 && !(connected && acked); try++ {
		code, body, err := pollErr(c, base, sid, "\x00get")
		if err != nil || code != http.StatusOK {
			return fmt.Sprintf("poll: %d %q %v (so far %q)", code, body, err, seen)
		}
		for _, pkt := range strings.Split(body, "\x1e") {
			seen = append(seen, pkt)
			switch {
			case strings.HasPrefix(pkt, "40/hook,{"):
				connected = true
			case pkt == wantAck:
				acked = true
			case pkt == "2" || pkt == "6": // a ping, a noop
			default:
				return fmt.Sprintf("unexpected packet %q (so far %q)", pkt, seen)
			}
		}
	}
	if !connected || !acked {
		return fmt.Sprintf("connected %v, acked %v: got %q", connected, acked, seen)
	}
	return ""
}

// A long-polling client that sends its namespace CONNECT and an EVENT for
// that namespace at once — in one POST payload, or in two POSTs back to
// back — always gets the CONNECT's answer for that namespace and the
// event's ack. The library acknowledges the CONNECT before it records the
// join, and an EVENT read in between met "invalid state" and closed the
// connection; the polling transport now holds the next packet until the
// join is recorded, as the websocket one does (pollTransport.beginConnect).
// Thousands of sessions, and afterwards no goroutine or fd is left over.
func TestPollingConnectThenEventAtOnce(t *testing.T) {
	sessions := 3000
	if testing.Short() {
		sessions = 300
	}
	var got atomic.Int64
	base := transportServer(t, broadcast.Config{}, hookHub(&got))
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	for _, twoPosts := range []bool{false, true} {
		name := "one POST"
		if twoPosts {
			name = "two POSTs"
		}
		t.Run(name, func(t *testing.T) {
			// warm up, then take the baseline
			for i := range 10 {
				if msg := connectAndEmit(client, base, i, twoPosts); msg != "" {
					t.Fatal(msg)
				}
			}
			client.CloseIdleConnections()
			g0, f0 := mpmdtest.Baseline(t, base), mpmdtest.OpenFDs(t)
			got.Store(0)
			var failed atomic.Int64
			var mu sync.Mutex
			var failures []string
			work := make(chan int)
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for i := range work {
						if msg := connectAndEmit(client, base, i, twoPosts); msg != "" {
							failed.Add(1)
							mu.Lock()
							if len(failures) < 10 {
								failures = append(failures, fmt.Sprintf("session %d: %s", i, msg))
							}
							mu.Unlock()
						}
					}
				})
			}
			for i := range sessions {
				work <- i
			}
			close(work)
			wg.Wait()
			g1, f1 := mpmdtest.Settle(t, client, g0, f0, 5)
			t.Logf("%d sessions: %d failed, %d events handled; goroutines %d → %d, fds %d → %d",
				sessions, failed.Load(), got.Load(), g0, g1, f0, f1)
			for _, f := range failures {
				t.Error(f)
			}
			if n := got.Load(); n != int64(sessions) {
				t.Errorf("%d events handled, want %d", n, sessions)
			}
			if g1 > g0+5 || f1 > f0+5 {
				t.Errorf("goroutines %d → %d, open fds %d → %d: something leaked", g0, g1, f0, f1)
			}
		})
	}
}
