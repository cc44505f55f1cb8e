package fault_test

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/mpmdtest"
)

// Slowloris: 200 TCP connections that send nothing or half a request and
// then sit there. mpmd keeps answering everyone else at once, and closes
// every one of them itself once its header timeout (10 s) passes, leaving no
// goroutine behind.
func TestSecuritySlowHeadersAreCutOff(t *testing.T) {
	d := mpmdtest.Start(t)
	base := settle(t, d)
	const n = 200
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", d.Port), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		switch i % 3 {
		case 1:
			fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n") // never ends the headers
		case 2:
			fmt.Fprintf(c, "POST /emit HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\nX-Slow: ")
		}
		conns = append(conns, c)
	}
	// Everyone else is still served promptly.
	for i := 0; i < 5; i++ {
		start := time.Now()
		d.Emit(t, "hook", "while_slowloris", map[string]any{})
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("/emit took %s with %d slow connections open", el, n)
		}
	}
	// mpmd hangs up on every one of them by itself.
	start := time.Now()
	for i, c := range conns {
		_ = c.SetReadDeadline(start.Add(20 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("connection %d was not closed by mpmd within 20 s: %v", i, err)
		}
	}
	t.Logf("mpmd closed all %d slow connections within %s", n, time.Since(start).Round(100*time.Millisecond))
	backToBaseline(t, d, base, "after the slow connections")
}
