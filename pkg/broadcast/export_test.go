package broadcast

import (
	"net"
	"testing"
)

// SetConnWrite replaces how websocket frames are written to the
// connection for the rest of tb (a fault injected by the test), and puts
// the real one back when tb ends. Tests that use it must not run in
// parallel.
func SetConnWrite(tb testing.TB, f func(c net.Conn, b []byte) (int, error)) {
	old := connWrite
	connWrite = f
	tb.Cleanup(func() { connWrite = old })
}
