package wire

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer is a scripted Engine.IO/Socket.IO server: script runs for every
// connection it accepts.
type fakeServer struct {
	URL   string
	conns atomic.Int32
}

type srvConn struct {
	t   *testing.T
	c   net.Conn
	r   *bufio.Reader
	req string // the upgrade request
}

func startServer(t *testing.T, network, addr string, script func(s *srvConn)) *fakeServer {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("listen %s %s: %v", network, addr, err)
	}
	f := &fakeServer{URL: "http://" + ln.Addr().String()}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			go func() {
				defer c.Close()
				script(&srvConn{t: t, c: c, r: bufio.NewReader(c)})
			}()
		}
	}()
	return f
}

// upgrade answers the websocket upgrade and sends the Engine.IO open packet.
func (s *srvConn) upgrade(pingInterval, pingTimeout int) bool {
	if !s.upgradeOnly() {
		return false
	}
	s.send(fmt.Sprintf(`0{"sid":"abc","upgrades":[],"pingInterval":%d,"pingTimeout":%d,"maxPayload":1000000}`, pingInterval, pingTimeout))
	return true
}

// upgradeOnly answers the websocket upgrade.
func (s *srvConn) upgradeOnly() bool {
	var req strings.Builder
	key := ""
	for {
		l, err := s.r.ReadString('\n')
		if err != nil {
			return false
		}
		req.WriteString(l)
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ": "); ok && strings.EqualFold(k, "Sec-WebSocket-Key") {
			key = v
		}
		if l == "\r\n" {
			break
		}
	}
	s.req = req.String()
	fmt.Fprintf(s.c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n", acceptKey(key))
	return true
}

func (s *srvConn) send(msg string) { s.c.Write(serverFrame(true, opText, []byte(msg))) }

// recv returns the client's next text message, or "" when it is gone.
func (s *srvConn) recv() string {
	for {
		_, op, p, err := readClientFrame(s.r)
		if err != nil || op == opClose {
			return ""
		}
		if op == opText {
			return string(p)
		}
	}
}

// join does the usual handshake and returns the CONNECT packet.
func (s *srvConn) join() string {
	if !s.upgrade(25000, 20000) {
		return ""
	}
	c := s.recv()
	s.send(`40/hook,{"sid":"nsid"}`)
	return c
}

func TestDialEmitAuth(t *testing.T) {
	type seen struct{ req, connect, event string }
	got := make(chan seen, 1)
	f := startServer(t, "tcp", "127.0.0.1:0", func(s *srvConn) {
		if !s.upgrade(25000, 20000) {
			return
		}
		connect := s.recv()
		// A ping before the CONNECT answer must be answered, too.
		s.send("2")
		if pong := s.recv(); pong != "3" {
			t.Errorf("pong %q", pong)
		}
		s.send(`40/hook,{"sid":"nsid"}`)
		ev := s.recv()
		s.send(`43/hook,0[{"seq":9007199254740993,"event_id":"e1","duplicate":true}]`)
		got <- seen{s.req, connect, ev}
		s.recv()
	})
	since := int64(9007199254740993)
	c, err := Dial(context.Background(), f.URL, "/hook", DialOptions{Token: "tok", Producer: true, SinceSeq: &since, SessionID: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ack, err := c.Emit(context.Background(), "pre_tool", map[string]any{"event_id": "e1", "n": 1})
	if err != nil {
		t.Fatal(err)
	}
	if ack.Seq != 9007199254740993 || ack.EventID != "e1" || !ack.Duplicate {
		t.Errorf("ack %+v", ack)
	}
	s := <-got
	if !strings.Contains(s.req, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n") || !strings.Contains(s.req, "Authorization: Bearer tok\r\n") {
		t.Errorf("upgrade request:\n%s", s.req)
	}
	var auth map[string]any
	if !strings.HasPrefix(s.connect, "40/hook,") || decodeJSON([]byte(strings.TrimPrefix(s.connect, "40/hook,")), &auth) != nil {
		t.Fatalf("CONNECT %q", s.connect)
	}
	if auth["token"] != "tok" || auth["producer"] != true || auth["session_id"] != "s1" || fmt.Sprint(auth["since_seq"]) != "9007199254740993" {
		t.Errorf("auth %v", auth)
	}
	if s.event != `42/hook,0["pre_tool",{"event_id":"e1","n":1}]` {
		t.Errorf("event %q", s.event)
	}
}

func TestRefusedAuth(t *testing.T) {
	for _, answer := range []string{
		`44/hook,{"message":"invalid authentication token: it does not match","data":{"code":"invalid_token"}}`,
		`44/hook,{"message":"invalid authentication token: it does not match"}`,
	} {
		f := startServer(t, "tcp", "127.0.0.1:0", func(s *srvConn) {
			if s.upgrade(25000, 20000) {
				s.recv()
				s.send(answer)
				s.recv()
			}
		})
		_, err := Dial(context.Background(), f.URL, "/hook", DialOptions{Token: "bad", Retries: 2})
		var ce *ConnectError
		if !errors.As(err, &ce) || !strings.HasPrefix(ce.Msg, "invalid authentication token") {
			t.Errorf("%s: err %v, want a ConnectError", answer, err)
		}
		if strings.Contains(answer, "code") && ce != nil && ce.Code != "invalid_token" {
			t.Errorf("code %q", ce.Code)
		}
		if n := f.conns.Load(); n != 1 {
			t.Errorf("a refused handshake was tried %d times", n)
		}
	}
}

func TestBadHandshakeStatus(t *testing.T) {
	f := startServer(t, "tcp", "127.0.0.1:0", func(s *srvConn) {
		s.r.ReadString('\n')
		body := `{"code":0,"message":"Transport unknown"}`
		fmt.Fprintf(s.c, "HTTP/1.1 400 Bad Request\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	})
	_, err := Dial(context.Background(), f.URL, "/hook", DialOptions{Retries: 1})
	var he *HandshakeError
	if !errors.As(err, &he) || he.Status != "400 Bad Request" || !strings.Contains(he.Body, "Transport unknown") {
		t.Errorf("err %v, want a HandshakeError", err)
	}
}

func TestServerClosesMidAck(t *testing.T) {
	f := startServer(t, "tcp", "127.0.0.1:0", func(s *srvConn) {
		s.join()
		s.recv() // the event; then the connection closes unanswered
	})
	c, err := Dial(context.Background(), f.URL, "/hook", DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Emit(context.Background(), "pre_tool", map[string]any{})
	var ae *AckError
	if err == nil || errors.As(err, &ae) || !strings.Contains(err.Error(), "connection closed") {
		t.Errorf("err %v, want connection closed", err)
	}
	<-c.Done()
	c.Close() // harmless after the end
}

func TestAckRefusal(t *testing.T) {
	f := startServer(t, "tcp", "127.0.0.1:0", func(s *srvConn) {
		s.join()
		s.recv()
		s.send(`43/hook,0[{"error":"bad event name","code":"invalid"}]`)
		s.recv()
	})
	c, err := Dial(context.Background(), f.URL, "hook", DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Emit(context.Background(), "x", nil)
	var ae *AckError
	if !errors.As(err, &ae) || ae.Transient() || ae.Msg != "bad event name" {
		t.Errorf("err %v, want a permanent AckError", err)
	}
}

func TestEventsPingDisconnect(t *testing.T) {
	acked := make(chan string, 1)
	f := startServer(t, "tcp", "127.0.0.1:0", func(s *srvConn) {
		s.join()
		s.send(`42/other,["ignored",{}]`)
		s.send(`42/hook,["pre_tool",{"seq":9007199254740993,"session_id":"s"}]`)
		s.send(`2`)
		if pong := s.recv(); pong != "3" {
			t.Errorf("pong %q", pong)
		}
		s.send(`42/hook,5["asks",{"seq":2}]`)
		acked <- s.recv()
		s.send(`42/hook,["not an object",[1]]`)
		s.send(`41/hook,`)
		s.recv()
	})
	type ev struct {
		name string
		seq  int64
	}
	evs := make(chan ev, 10)
	c, err := Dial(context.Background(), f.URL, "/hook", DialOptions{OnEvent: func(name string, data map[string]any) {
		seq, _ := Int64(data["seq"])
		evs <- ev{name, seq}
	}})
	if err != nil {
		t.Fatal(err)
	}
	<-c.Done()
	if r := c.Reason(); r != "io server disconnect" {
		t.Errorf("reason %q", r)
	}
	if a := <-acked; a != `43/hook,5[]` {
		t.Errorf("ack of a server event %q", a)
	}
	close(evs)
	var got []ev
	for e := range evs {
		got = append(got, e)
	}
	want := []ev{{"pre_tool", 9007199254740993}, {"asks", 2}, {"not an object", 0}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestPingTimeout(t *testing.T) {
	f := startServer(t, "tcp", "127.0.0.1:0", func(s *srvConn) {
		if s.upgrade(50, 50) {
			s.recv()
			s.send(`40/hook,{"sid":"x"}`)
			s.recv() // never pings
		}
	})
	c, err := Dial(context.Background(), f.URL, "/hook", DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("no end without pings")
	}
	if r := c.Reason(); r != "ping timeout" {
		t.Errorf("reason %q", r)
	}
}

func TestHandshakeTimeoutRetries(t *testing.T) {
	f := startServer(t, "tcp", "127.0.0.1:0", func(s *srvConn) {
		s.r.ReadString('\n')
		time.Sleep(3 * time.Second) // never answers in time
	})
	_, err := Dial(context.Background(), f.URL, "/hook", DialOptions{ConnectTimeout: 300 * time.Millisecond, Retries: 1})
	if err == nil || !strings.Contains(err.Error(), "no websocket upgrade within 300ms") {
		t.Errorf("err %v", err)
	}
	if n := f.conns.Load(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

func TestNotAnEngineIOServer(t *testing.T) {
	for name, script := range map[string]func(s *srvConn){
		"junk first message": func(s *srvConn) {
			if s.upgradeOnly() {
				s.send(`hello`)
				s.recv()
			}
		},
		"closes after the upgrade": func(s *srvConn) { s.upgradeOnly() },
		"closes mid-request":       func(s *srvConn) { s.r.ReadString('\n') },
		"closes mid-CONNECT": func(s *srvConn) {
			if s.upgrade(25000, 20000) {
				s.recv()
			}
		},
	} {
		f := startServer(t, "tcp", "127.0.0.1:0", script)
		_, err := Dial(context.Background(), f.URL, "/hook", DialOptions{Retries: 1})
		if err == nil || errors.Is(err, ErrNoDaemon) {
			t.Errorf("%s: err %v", name, err)
		}
		if name == "junk first message" && (err == nil || !strings.Contains(err.Error(), "not an Engine.IO open packet")) {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

func TestNoDaemon(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	_, err = Dial(context.Background(), url, "/hook", DialOptions{Retries: 2})
	if !errors.Is(err, ErrNoDaemon) {
		t.Errorf("err %v, want ErrNoDaemon", err)
	}
	if _, err := Dial(context.Background(), "https://127.0.0.1:1", "/hook", DialOptions{}); err == nil {
		t.Error("https accepted")
	}
}

func TestIPv6Loopback(t *testing.T) {
	f := startServer(t, "tcp6", "[::1]:0", func(s *srvConn) {
		s.join()
		s.recv()
		s.send(`43/hook,0[{"seq":1}]`)
		s.recv()
	})
	if !strings.HasPrefix(f.URL, "http://[::1]:") {
		t.Fatalf("URL %s", f.URL)
	}
	c, err := Dial(context.Background(), f.URL, "/hook", DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ack, err := c.Emit(context.Background(), "x", map[string]any{}); err != nil || ack.Seq != 1 {
		t.Errorf("ack %+v, %v", ack, err)
	}
}

func TestCheckHealth(t *testing.T) {
	var auth atomic.Value
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		json.NewEncoder(w).Encode(map[string]any{"status": "healthy", "server": ServerName, "version": "v9", "pid": 7, "port": 1, "pad": strings.Repeat("x", 10000)})
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	h, err := CheckHealth(context.Background(), ts.URL, Options{Token: "tok"})
	if err != nil || h.Version != "v9" || h.PID != 7 {
		t.Errorf("CheckHealth = %+v, %v", h, err)
	}
	if a := auth.Load(); a != "Bearer tok" {
		t.Errorf("Authorization %q", a)
	}
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	if _, err := CheckHealth(context.Background(), other.URL, Options{}); err == nil || !strings.Contains(err.Error(), "404 Not Found that is not JSON") {
		t.Errorf("not mpmd: %v", err)
	}
	// Discovery falls back to the port and says where it looked.
	_, err = Discover(context.Background(), Options{Port: portOf(t, other.URL), DiscoveryFile: filepath.Join(t.TempDir(), "none.json")})
	if !errors.Is(err, ErrNoDaemon) {
		t.Errorf("Discover: %v, want ErrNoDaemon", err)
	}
	u, err := Discover(context.Background(), Options{Port: portOf(t, ts.URL), DiscoveryFile: filepath.Join(t.TempDir(), "none.json")})
	if err != nil || u != ts.URL {
		t.Errorf("Discover = %q, %v", u, err)
	}
}

func portOf(t *testing.T, u string) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(u, "http://"))
	var n int
	fmt.Sscan(p, &n)
	return n
}

func TestEventOverMaxPayload(t *testing.T) {
	f := startServer(t, "tcp", "127.0.0.1:0", func(s *srvConn) {
		if !s.upgradeOnly() {
			return
		}
		s.send(`0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":200}`)
		s.recv()
		s.send(`40/hook,{"sid":"x"}`)
		msg := s.recv()
		if !strings.HasPrefix(msg, `42/hook,0["small"`) {
			t.Errorf("the first event mpmd saw: %q", msg)
		}
		s.send(`43/hook,0[{"seq":1}]`)
		s.recv()
	})
	c, err := Dial(context.Background(), f.URL, "/hook", DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Emit(context.Background(), "big", map[string]any{"x": strings.Repeat("a", 300)})
	var ae *AckError
	if !errors.As(err, &ae) || ae.Transient() || !strings.Contains(ae.Msg, "over the 200 bytes") {
		t.Errorf("err %v, want a permanent AckError about the size", err)
	}
	// Nothing was sent: the connection still works.
	if a, err := c.Emit(context.Background(), "small", map[string]any{}); err != nil || a.Seq != 1 {
		t.Errorf("after the refusal: %+v %v", a, err)
	}
}

// Send puts events on the wire without waiting: the server sees all three
// before it acks any (in reverse, even), and each Wait gets its own ack.
func TestSendPipelinesEvents(t *testing.T) {
	f := startServer(t, "tcp", "127.0.0.1:0", func(s *srvConn) {
		if s.join() == "" {
			return
		}
		var evs []string
		for range 3 {
			evs = append(evs, s.recv())
		}
		for i := 2; i >= 0; i-- {
			if want := fmt.Sprintf(`42/hook,%d["e",{"i":%d}]`, i, i); evs[i] != want {
				t.Errorf("event %d = %q, want %q", i, evs[i], want)
			}
			s.send(fmt.Sprintf(`43/hook,%d[{"seq":%d,"event_id":"e%d"}]`, i, 10+i, i))
		}
		s.recv()
	})
	c, err := Dial(context.Background(), f.URL, "/hook", DialOptions{Producer: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var ps []*Pending
	for i := range 3 {
		p, err := c.Send(ctx, "e", map[string]any{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	for i, p := range ps {
		ack, err := p.Wait(ctx)
		if err != nil || ack.Seq != int64(10+i) || ack.EventID != fmt.Sprintf("e%d", i) {
			t.Errorf("ack %d = %+v, %v", i, ack, err)
		}
	}
}
