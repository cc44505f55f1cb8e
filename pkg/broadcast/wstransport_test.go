package broadcast

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	ws "github.com/gorilla/websocket"
)

// Frames built by appendFrame, several in one write, read back by gorilla
// as separate messages: every length encoding (7-bit, 16-bit, 64-bit).
func TestAppendFrameReadByGorilla(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 127, 65535, 65536, 70000}
	var buf []byte
	for i, n := range sizes {
		mt := ws.TextMessage
		if i%2 == 1 {
			mt = ws.BinaryMessage
		}
		buf = appendFrame(buf, mt, bytes.Repeat([]byte{'a' + byte(i)}, n))
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := (&ws.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		_, _ = c.NetConn().Write(buf) // as wsTransport.send does
		_, _, _ = c.ReadMessage()     // until the client closes
		c.Close()
	}))
	defer hs.Close()
	c, _, err := ws.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadLimit(1 << 20)
	for i, n := range sizes {
		mt, r, err := c.NextReader()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		b, _ := io.ReadAll(r)
		want := ws.TextMessage
		if i%2 == 1 {
			want = ws.BinaryMessage
		}
		if mt != want || len(b) != n || strings.Trim(string(b), string(rune('a'+i))) != "" {
			t.Fatalf("message %d: type %d, %d bytes; want type %d, %d bytes of %c", i, mt, len(b), want, n, 'a'+i)
		}
	}
}
