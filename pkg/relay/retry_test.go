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
	"time"

	"github.com/mpm-dev/mpm/pkg/relay"
	"github.com/mpm-dev/mpm/pkg/wire"
)

// TestRunRetriesOnAFreshConnection: a connection lost before mpmd's answer
// to the POST /emit gets one more try on a new connection, with the same
// event_id (mpmd drops the duplicate if the first one was stored).
func TestRunRetriesOnAFreshConnection(t *testing.T) {
	var mu sync.Mutex
	var ids []string // event_id of every event received, in order
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/emit" {
			http.Error(w, "not /emit", http.StatusNotFound)
			return
		}
		var body struct {
			Namespace, Event string
			Data             map[string]any
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || strings.TrimPrefix(body.Namespace, "/") != "hook" || body.Event != "pre_tool" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		id, _ := body.Data["event_id"].(string)
		mu.Lock()
		ids = append(ids, id)
		first := len(ids) == 1
		mu.Unlock()
		if first {
			// the first event's connection is lost before the answer
			c, _, _ := w.(http.Hijacker).Hijack()
			c.Close()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"seq":7,"event_id":"` + id + `","duplicate":false}`))
	}))
	defer ts.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(ts.URL, "http://"))
	p, _ := strconv.Atoi(port)
	out := relay.Run(relay.Config{
		Stdin:  strings.NewReader(input(1)),
		Client: wire.Options{Port: p},
		Dirs:   dirsOf(t.TempDir()),
		// budgets a loaded machine cannot run out of
		SendTimeout: 3 * time.Second, Deadline: 4 * time.Second,
	})
	mu.Lock()
	defer mu.Unlock()
	if !out.Delivered || out.Seq != 7 {
		t.Fatalf("outcome %+v after %d sends", out, len(ids))
	}
	if len(ids) != 2 || ids[0] != ids[1] || ids[0] != out.EventID {
		t.Errorf("event_ids %v, want the same twice (%s)", ids, out.EventID)
	}
}
