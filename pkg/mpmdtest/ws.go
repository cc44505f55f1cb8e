package mpmdtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// WS is a bare Engine.IO v4 websocket to mpmd: the test writes and reads
// the Socket.IO packets itself, so it sees mpmd's frames as they are and can
// send what no well-behaved client would.
type WS struct {
	C  *websocket.Conn
	tb testing.TB
	wm sync.Mutex // one writer at a time: Read answers pings
}

// WSURL is the address of d's Engine.IO websocket endpoint, with query
// (may be empty) appended.
func WSURL(d *Daemon, query string) string {
	u := strings.Replace(d.URL, "http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
	if query != "" {
		u += "&" + query
	}
	return u
}

// DialWS opens the websocket and reads the Engine.IO open packet. It returns
// the handshake's HTTP response and error instead of failing when the server
// refuses the upgrade. The connection is closed when the test ends.
func DialWS(tb testing.TB, d *Daemon, query string, hdr http.Header) (*WS, *http.Response, error) {
	tb.Helper()
	dialer := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, resp, err := dialer.Dial(WSURL(d, query), hdr)
	if err != nil {
		return nil, resp, err
	}
	w := NewWS(tb, c)
	msg, err := w.Read(5 * time.Second)
	if err != nil {
		return nil, resp, fmt.Errorf("no open packet: %w", err)
	}
	if !strings.HasPrefix(msg, "0{") {
		return nil, resp, fmt.Errorf("first packet %q is not an Engine.IO open packet", msg)
	}
	return w, resp, nil
}

// MustWS is DialWS that fails the test on error.
func MustWS(tb testing.TB, d *Daemon) *WS {
	tb.Helper()
	w, _, err := DialWS(tb, d, "", nil)
	if err != nil {
		tb.Fatalf("websocket: %v", err)
	}
	return w
}

// NewWS wraps a websocket already past the Engine.IO open (an upgraded
// connection, say); it is closed when the test ends.
func NewWS(tb testing.TB, c *websocket.Conn) *WS {
	tb.Cleanup(func() { c.Close() })
	return &WS{C: c, tb: tb}
}

// Read returns the next text message, answering Engine.IO pings on the way.
// The timeout ends with it: a read of C afterwards has no deadline.
func (w *WS) Read(timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	defer w.C.SetReadDeadline(time.Time{})
	for {
		_ = w.C.SetReadDeadline(deadline)
		_, b, err := w.C.ReadMessage()
		if err != nil {
			return "", err
		}
		if string(b) == "2" {
			_ = w.Send("3")
			continue
		}
		return string(b), nil
	}
}

// Send writes one text message.
func (w *WS) Send(msg string) error {
	w.wm.Lock()
	defer w.wm.Unlock()
	_ = w.C.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return w.C.WriteMessage(websocket.TextMessage, []byte(msg))
}

// nsPrefix is how a Socket.IO packet names its namespace ("" for "/").
func nsPrefix(ns string) string {
	if ns == "/" {
		return ""
	}
	return ns + ","
}

// Connect sends a Socket.IO CONNECT for ns with auth and returns the answer:
// "" when connected, else the connect_error message. Other messages before
// the answer (events of namespaces already joined) are skipped, or added to
// *before when before is given.
func (w *WS) Connect(ns string, auth map[string]any, before ...*[]string) (string, error) {
	w.tb.Helper()
	a, _ := json.Marshal(auth)
	if err := w.Send("40" + nsPrefix(ns) + string(a)); err != nil {
		return "", err
	}
	p := nsPrefix(ns)
	for {
		msg, err := w.Read(5 * time.Second)
		if err != nil {
			return "", err
		}
		switch {
		case strings.HasPrefix(msg, "40"+p):
			return "", nil
		case strings.HasPrefix(msg, "44"+p):
			var e struct {
				Message string `json:"message"`
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(msg, "44"+p)), &e); err != nil || e.Message == "" {
				return msg, nil
			}
			return e.Message, nil
		}
		if len(before) > 0 {
			*before[0] = append(*before[0], msg)
		}
	}
}

// Disconnect sends a Socket.IO DISCONNECT for ns: the client leaves that
// namespace politely.
func (w *WS) Disconnect(ns string) error { return w.Send("41" + nsPrefix(ns)) }

// EmitAck emits a Socket.IO EVENT with args and ack id on ns and returns
// the ack's first argument.
func (w *WS) EmitAck(ns string, id int, args ...any) (map[string]any, error) {
	w.tb.Helper()
	b, _ := json.Marshal(args)
	if err := w.Send("42" + nsPrefix(ns) + strconv.Itoa(id) + string(b)); err != nil {
		return nil, err
	}
	want := "43" + nsPrefix(ns) + strconv.Itoa(id)
	for {
		msg, err := w.Read(5 * time.Second)
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(msg, want+"[") {
			continue
		}
		var out []map[string]any
		if err := json.Unmarshal([]byte(strings.TrimPrefix(msg, want)), &out); err != nil || len(out) == 0 {
			return nil, fmt.Errorf("ack %q: %v", msg, err)
		}
		return out[0], nil
	}
}
