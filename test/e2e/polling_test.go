package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// pollClient is a plain Engine.IO v4 HTTP long-polling client joined to one
// namespace: the tests' long-polling client.
//
// The Go Socket.IO client library is not used for long-polling: its
// Socket.Connect on a manager that is still opening can send the
// namespace's CONNECT twice (mpmd, like every Socket.IO server, then closes
// the connection: the library's server answers a second CONNECT for a
// joined namespace with "invalid state"), and a namespace connected on an
// open manager never gets its answer over polling. Both made polling tests
// fail now and then (TestLiveFromConnectNoWindow: one connect in a few
// hundred on a busy machine). The wire format is small: packets in a
// response are separated by 0x1e; "2" is a ping (answered "3"), "1" close,
// "40<ns>,{…}" the namespace connect, "44<ns>,{message}" its refusal,
// "42<ns>,[name, data]" an event, "43<ns>,<id>[…]" an ack.
type pollClient struct {
	sid    string // the Engine.IO session
	url    string // with the session id
	ns     string
	hc     *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{} // the poll loop ended
	nextID atomic.Int64
	acks   sync.Map // id → chan []any
}

// dialPolling connects to ns over long-polling and waits for mpmd's answer
// (or, with expectErr, for the refusal, whose message it returns).
func dialPolling(tb testing.TB, d *mpmdtest.Daemon, ns string, o dialOpts) (*sub, string) {
	tb.Helper()
	auth := map[string]any{}
	for k, v := range o.auth {
		auth[k] = v
	}
	if _, ok := auth["token"]; !ok && d.Token != "" {
		auth["token"] = d.Token
	}
	a, _ := json.Marshal(auth)
	p := openPolling(tb, d, ns, string(a))
	s := &sub{t: tb, cond: make(chan struct{}, 1), poll: p}
	result := make(chan string, 1)
	go p.run(s, result)
	tb.Cleanup(p.close)
	select {
	case msg := <-result:
		switch {
		case msg != "" && !o.expectErr:
			tb.Fatalf("connect %s: %s", ns, msg)
		case msg == "" && o.expectErr:
			tb.Fatalf("connect %s: connected, want a connect_error", ns)
		}
		return s, msg
	case <-p.done:
		tb.Fatalf("connect %s: the connection ended before mpmd answered", ns)
	case <-time.After(10 * time.Second):
		tb.Fatalf("connect %s: no answer in 10 s", ns)
	}
	return nil, ""
}

// openPolling does the Engine.IO long-polling handshake and sends the
// CONNECT for ns with auth (a JSON object); mpmd's answer comes with the
// next poll. The client's requests end with the test at the latest.
func openPolling(tb testing.TB, d *mpmdtest.Daemon, ns, auth string) *pollClient {
	tb.Helper()
	base := d.URL + "/socket.io/?EIO=4&transport=polling"
	ctx, cancel := context.WithCancel(context.Background())
	tb.Cleanup(cancel)
	p := &pollClient{ns: ns, hc: &http.Client{}, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	open, err := p.do(http.MethodGet, base, "")
	var hs struct{ Sid string }
	if err != nil || !strings.HasPrefix(open, "0") || json.Unmarshal([]byte(open[1:]), &hs) != nil || hs.Sid == "" {
		tb.Fatalf("polling handshake: %q %v", open, err)
	}
	p.sid, p.url = hs.Sid, base+"&sid="+hs.Sid
	if _, err := p.do(http.MethodPost, p.url, "40"+ns+","+auth); err != nil {
		tb.Fatalf("polling connect %s: %v", ns, err)
	}
	return p
}

// do sends one request and returns the response body.
func (p *pollClient) do(method, url, body string) (string, error) {
	req, err := http.NewRequestWithContext(p.ctx, method, url, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("%s: %d %s", method, resp.StatusCode, b)
	}
	return string(b), err
}

// run polls until the connection ends, recording the namespace's events
// into s and reporting the connect answer on result.
func (p *pollClient) run(s *sub, result chan<- string) {
	defer close(p.done)
	prefix := func(t string) string { return t + p.ns + "," }
	answer := func(msg string) {
		select {
		case result <- msg:
		default: // only the first answer counts
		}
	}
	for {
		body, err := p.do(http.MethodGet, p.url, "")
		if err != nil {
			return
		}
		for _, pkt := range strings.Split(body, "\x1e") {
			switch {
			case pkt == "2":
				go p.do(http.MethodPost, p.url, "3") //nolint:errcheck // a lost pong ends the connection, which the test sees
			case pkt == "1":
				return
			case strings.HasPrefix(pkt, prefix("40")):
				answer("")
			case strings.HasPrefix(pkt, prefix("44")):
				var e struct{ Message string }
				_ = json.Unmarshal([]byte(pkt[len(prefix("44")):]), &e)
				answer(e.Message)
			case strings.HasPrefix(pkt, prefix("42")):
				var args []json.RawMessage
				var name string
				var data map[string]any
				if json.Unmarshal([]byte(pkt[len(prefix("42")):]), &args) == nil && len(args) > 0 && json.Unmarshal(args[0], &name) == nil {
					if len(args) > 1 {
						_ = json.Unmarshal(args[1], &data)
					}
					s.add(name, data)
				}
			case strings.HasPrefix(pkt, prefix("43")):
				rest := pkt[len(prefix("43")):]
				i := strings.IndexByte(rest, '[')
				id, err := strconv.ParseInt(rest[:max(i, 0)], 10, 64)
				var args []any
				if i < 0 || err != nil || json.Unmarshal([]byte(rest[i:]), &args) != nil {
					continue
				}
				if ch, ok := p.acks.LoadAndDelete(id); ok {
					ch.(chan []any) <- args
				}
			}
		}
	}
}

// request emits name with data and waits for mpmd's ack.
func (p *pollClient) request(name string, data any) ([]any, error) {
	id := p.nextID.Add(1)
	ch := make(chan []any, 1)
	p.acks.Store(id, ch)
	defer p.acks.Delete(id)
	msg, err := json.Marshal([]any{name, data})
	if err != nil {
		return nil, err
	}
	if _, err := p.do(http.MethodPost, p.url, "42"+p.ns+","+strconv.FormatInt(id, 10)+string(msg)); err != nil {
		return nil, err
	}
	select {
	case a := <-ch:
		return a, nil
	case <-p.done:
		return nil, fmt.Errorf("emit %s: the connection ended", name)
	case <-time.After(5 * time.Second):
		return nil, fmt.Errorf("emit %s: no ack in 5 s", name)
	}
}

// close says goodbye (an Engine.IO close packet) and stops polling.
func (p *pollClient) close() {
	select {
	case <-p.done:
	default:
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, strings.NewReader("1")); err == nil {
			if resp, err := p.hc.Do(req); err == nil {
				resp.Body.Close()
			}
		}
	}
	p.cancel()
	<-p.done
}

// upgradedJoin connects the way the Node and Python clients do by default:
// long-polling first, joins ns with auth (a JSON object), then upgrades the
// connection to websocket (probe "2probe"/"3probe", then "5"). It returns
// the websocket, on which the connection's packets now come, and the
// packets that came over polling after the join's answer.
func upgradedJoin(tb testing.TB, d *mpmdtest.Daemon, ns, auth string) (*mpmdtest.WS, []string) {
	tb.Helper()
	p := openPolling(tb, d, ns, auth)
	msg, err := p.do(http.MethodGet, p.url, "")
	if err != nil || !strings.HasPrefix(msg, "40"+ns+",") {
		tb.Fatalf("polling connect %s: %.200q %v", ns, msg, err)
	}
	early := strings.Split(msg, "\x1e")[1:]
	c, _, err := websocket.DefaultDialer.Dial(mpmdtest.WSURL(d, "sid="+p.sid), nil)
	if err != nil {
		tb.Fatal(err)
	}
	w := mpmdtest.NewWS(tb, c)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	if err := c.WriteMessage(websocket.TextMessage, []byte("2probe")); err != nil {
		tb.Fatal(err)
	}
	if _, msg, err := c.ReadMessage(); err != nil || string(msg) != "3probe" {
		tb.Fatalf("upgrade probe: %q %v", msg, err)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("5")); err != nil {
		tb.Fatal(err)
	}
	return w, early
}
