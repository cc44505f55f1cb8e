package relay_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/mpm-dev/mpm/pkg/relay"
	"github.com/mpm-dev/mpm/pkg/wire"
)

// TestRunRetriesOnAFreshConnection: a connection lost between the handshake
// and the ack (what mpmd's Socket.IO server library does now and then) gets
// one more try on a new connection, with the same event_id.
func TestRunRetriesOnAFreshConnection(t *testing.T) {
	var mu sync.Mutex
	var ids []string // event_id of every event received, in order
	up := websocket.Upgrader{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.WriteMessage(websocket.TextMessage, []byte(`0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
		if _, m, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(m), "40/hook,") {
			return
		}
		c.WriteMessage(websocket.TextMessage, []byte(`40/hook,{"sid":"x"}`))
		_, m, err := c.ReadMessage()
		if err != nil {
			return
		}
		// 42/hook,<id>["pre_tool",{…}]
		rest := strings.TrimPrefix(string(m), "42/hook,")
		i := strings.IndexByte(rest, '[')
		var args []map[string]any
		json.Unmarshal([]byte(strings.Replace(rest[i:], `"pre_tool",`, "", 1)), &args)
		id := ""
		if len(args) == 1 {
			id, _ = args[0]["event_id"].(string)
		}
		mu.Lock()
		ids = append(ids, id)
		first := len(ids) == 1
		mu.Unlock()
		if first {
			return // the first event's connection is lost before the ack
		}
		c.WriteMessage(websocket.TextMessage, []byte(`43/hook,`+rest[:i]+`[{"seq":7,"event_id":"x"}]`))
		c.ReadMessage()
	}))
	defer ts.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	p, _ := strconv.Atoi(port)
	out := relay.Run(relay.Config{
		Stdin:  strings.NewReader(input(1)),
		Client: wire.Options{Port: p},
		Dirs:   dirsOf(t.TempDir()),
	})
	mu.Lock()
	defer mu.Unlock()
	if out.Spooled && !out.Delivered {
		// A loaded machine may run out of the send budget before the
		// second try; then the event must be in the spool.
		t.Logf("spooled after %d sends: %v", len(ids), out.Err)
		return
	}
	if !out.Delivered || out.Seq != 7 {
		t.Fatalf("outcome %+v after %d sends", out, len(ids))
	}
	if len(ids) != 2 || ids[0] != ids[1] || ids[0] != out.EventID {
		t.Errorf("event_ids %v, want the same twice (%s)", ids, out.EventID)
	}
}
