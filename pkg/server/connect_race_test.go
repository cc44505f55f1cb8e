package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/server"
)

func pollReq(c *http.Client, base, sid, post string) (int, string, error) {
	u := base + "/socket.io/?EIO=4&transport=polling"
	if sid != "" {
		u += "&sid=" + sid
	}
	var resp *http.Response
	var err error
	if post == "" {
		resp, err = c.Get(u)
	} else {
		resp, err = c.Post(u, "text/plain;charset=UTF-8", strings.NewReader(post))
	}
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// emitAtConnect opens a long-polling session, sends CONNECT to /hook and an
// EVENT with ack id 1 at once (one POST, or two back to back), and returns
// the seq the ack reports, or what went wrong.
func emitAtConnect(c *http.Client, base string, i int, twoPosts bool) (int64, string) {
	code, body, err := pollReq(c, base, "", "")
	if err != nil || code != http.StatusOK || !strings.HasPrefix(body, "0{") {
		return 0, fmt.Sprintf("handshake: %d %q %v", code, body, err)
	}
	var open struct{ Sid string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil {
		return 0, err.Error()
	}
	sid := open.Sid
	defer func() { _, _, _ = pollReq(c, base, sid, "1") }()
	connect := `40/hook,{"producer":true}`
	emit := fmt.Sprintf(`42/hook,1["race_test",{"session_id":"race","i":%d}]`, i)
	posts := []string{connect + "\x1e" + emit}
	if twoPosts {
		posts = []string{connect, emit}
	}
	for _, p := range posts {
		if code, body, err := pollReq(c, base, sid, p); err != nil || code != http.StatusOK || body != "ok" {
			return 0, fmt.Sprintf("POST %q: %d %q %v", p, code, body, err)
		}
	}
	var connected bool
	var seq int64
	var seen []string
	for try := 0; try < 5 && !(connected && seq > 0); try++ {
		code, body, err := pollReq(c, base, sid, "")
		if err != nil || code != http.StatusOK {
			return 0, fmt.Sprintf("poll: %d %q %v (so far %q)", code, body, err, seen)
		}
		for _, pkt := range strings.Split(body, "\x1e") {
			seen = append(seen, pkt)
			switch {
			case strings.HasPrefix(pkt, "40/hook,{"):
				connected = true
			case strings.HasPrefix(pkt, "43/hook,1["):
				var ack []server.Result
				if err := json.Unmarshal([]byte(strings.TrimPrefix(pkt, "43/hook,1")), &ack); err != nil || len(ack) != 1 || ack[0].Seq <= 0 {
					return 0, fmt.Sprintf("ack %q: %v", pkt, err)
				}
				seq = ack[0].Seq
			case pkt == "2" || pkt == "6":
			default:
				return 0, fmt.Sprintf("unexpected packet %q (so far %q)", pkt, seen)
			}
		}
	}
	if !connected || seq == 0 {
		return 0, fmt.Sprintf("connected %v, acked %v: got %q", connected, seq > 0, seen)
	}
	return seq, ""
}

// A producer that connects over long-polling and emits at once — CONNECT
// and EVENT in one POST, or in two back to back — gets the CONNECT's
// answer for /hook and the ack of its event, stored: every event is in
// the store once, with the seq its ack said (broadcast's
// TestPollingConnectThenEventAtOnce holds the transport to it on a bare
// hub).
func TestPollingEmitAtConnectStored(t *testing.T) {
	sessions := 1000
	if testing.Short() {
		sessions = 100
	}
	base := transportServer(t, server.Config{})
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	seqs := map[int64]bool{}
	var mu sync.Mutex
	var failures []string
	for _, twoPosts := range []bool{false, true} {
		work := make(chan int)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for i := range work {
					seq, msg := emitAtConnect(client, base, i, twoPosts)
					mu.Lock()
					if msg != "" {
						failures = append(failures, fmt.Sprintf("two POSTs %v, session %d: %s", twoPosts, i, msg))
					} else {
						seqs[seq] = true
					}
					mu.Unlock()
				}
			})
		}
		for i := range sessions {
			work <- i
		}
		close(work)
		wg.Wait()
	}
	for i, f := range failures {
		if i < 10 {
			t.Error(f)
		}
	}
	if len(failures) > 0 {
		t.Fatalf("%d of %d sessions failed", len(failures), 2*sessions)
	}
	if len(seqs) != 2*sessions {
		t.Errorf("%d distinct seqs acked, want %d", len(seqs), 2*sessions)
	}
	resp, err := client.Get(base + "/api/events?namespace=hook&event=race_test&limit=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Events []struct {
			Seq int64 `json:"seq"`
		} `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	stored := 0
	for _, e := range r.Events {
		if seqs[e.Seq] {
			stored++
		}
	}
	if stored != 2*sessions || len(r.Events) != 2*sessions {
		t.Errorf("%d events stored (%d of them acked), want %d", len(r.Events), stored, 2*sessions)
	}
}
