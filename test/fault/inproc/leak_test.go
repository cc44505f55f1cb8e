// Package inproc_test runs mpmd's server in this process — server.New on an
// in-memory store, Run on 127.0.0.1:0 — exercises it over websocket,
// polling and HTTP, stops it, and checks with goleak that every goroutine it
// started is gone. It lives in its own package so that no other test's
// goroutines are counted.
package inproc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/mpm-dev/mpm/pkg/server"
	"github.com/mpm-dev/mpm/pkg/store"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestServerStopsEveryGoroutine(t *testing.T) {
	st, err := store.Open(store.Memory)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := server.New(server.Config{Host: "127.0.0.1", Version: "test", Heartbeat: 50 * time.Millisecond}, st,
		slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()

	hc := &http.Client{Transport: &http.Transport{}, Timeout: 5 * time.Second}
	defer hc.CloseIdleConnections()
	emit := func(body string) {
		resp, err := hc.Post(base+"/emit", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/emit: %d %s", resp.StatusCode, b)
		}
	}
	for i := 0; i < 50; i++ {
		emit(`{"namespace":"hook","event":"pre_tool","data":{"hook_event_name":"PreToolUse","session_id":"s","tool_name":"Task","tool_input":{"subagent_type":"x"}}}`)
	}

	ws := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket"
	dialer := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	var open []*websocket.Conn
	for i := 0; i < 200; i++ {
		c, _, err := dialer.Dial(ws, nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, _, err := c.ReadMessage(); err != nil { // open packet
			t.Fatal(err)
		}
		ns := []string{"/hook", "/system", "/agent", "/nope"}[i%4]
		auth := `{}`
		if i%8 == 1 {
			auth = `{"since_seq":0}`
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte("40"+ns+","+auth)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil { // connect answer
			t.Fatal(err)
		}
		if i%10 == 0 {
			open = append(open, c) // still connected when the server stops
			continue
		}
		if i%3 == 0 {
			_ = c.WriteMessage(websocket.TextMessage, []byte("1"))
		}
		c.Close()
	}
	// A long-polling session, left open too.
	resp, err := hc.Get(base + "/socket.io/?EIO=4&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var hs struct {
		SID string `json:"sid"`
	}
	if i := bytes.IndexByte(b, '{'); i < 0 || json.Unmarshal(b[i:], &hs) != nil || hs.SID == "" {
		t.Fatalf("polling handshake: %s", b)
	}
	for _, path := range []string{"/health", "/metrics", "/api/events?limit=10", "/api/events?format=jsonl", "/"} {
		resp, err := hc.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	time.Sleep(150 * time.Millisecond) // a few heartbeats go out to the open /system clients

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(server.ShutdownTimeout + 2*time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	for _, c := range open {
		c.Close()
	}
	hc.CloseIdleConnections()
	// TestMain's goleak.VerifyTestMain checks that nothing is left running.
}
