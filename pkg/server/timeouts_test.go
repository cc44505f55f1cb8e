package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
	"github.com/mpm-dev/mpm/pkg/server"
	"github.com/mpm-dev/mpm/pkg/store"
)

// transportServer runs mpmd's server in the test process on a free
// loopback port with cfg's transport settings and returns its URL.
func transportServer(t *testing.T, cfg server.Config) string {
	t.Helper()
	st, err := store.Open(store.Memory)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Host = "127.0.0.1"
	cfg.Port = ln.Addr().(*net.TCPAddr).Port
	srv := server.New(cfg, st, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		st.Close()
	})
	return "http://" + ln.Addr().String()
}

// A request that is not a long poll, websocket or stream ends after the
// request timeout however the client behaves: here one that sends half a
// body and stalls. Its goroutine and connection go with it.
func TestStalledRequestIsCutOff(t *testing.T) {
	base := transportServer(t, server.Config{RequestTimeout: 300 * time.Millisecond})
	g0 := mpmdtest.Baseline(t, base)
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /emit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{\"namespace\":")
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(c) // until mpmd answers and closes, or drops the connection
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a stalled request took %v to end (answer %q); want about the 300 ms request timeout", took, b)
	}
	if g, _ := mpmdtest.Settle(t, http.DefaultClient, g0, 0, 2); g > g0+2 {
		buf := make([]byte, 1<<20)
		t.Errorf("goroutines %d → %d after the stalled request ended\n%s", g0, g, buf[:runtime.Stack(buf, true)])
	}
}
