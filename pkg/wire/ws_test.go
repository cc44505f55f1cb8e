package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// serverFrame is a frame as a server sends it: unmasked.
func serverFrame(fin bool, op byte, p []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(p); {
	case n < 126:
		b = append(b, byte(n))
	case n < 1<<16:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, p...)
}

// readClientFrame reads one frame as a server does: it must be masked.
func readClientFrame(r io.Reader) (fin bool, op byte, p []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return false, 0, nil, err
	}
	if h[1]&0x80 == 0 {
		return false, 0, nil, errors.New("client frame not masked")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return false, 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return false, 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	var mask [4]byte
	if _, err := io.ReadFull(r, mask[:]); err != nil {
		return false, 0, nil, err
	}
	p = make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		return false, 0, nil, err
	}
	for i := range p {
		p[i] ^= mask[i&3]
	}
	return h[0]&0x80 != 0, h[0] & 0x0f, p, nil
}

// pipeWS is a client wsConn over net.Pipe and the server end of it.
func pipeWS(t *testing.T, maxMessage int64) (*wsConn, net.Conn) {
	t.Helper()
	c, s := net.Pipe()
	t.Cleanup(func() { c.Close(); s.Close() })
	return &wsConn{c: c, r: newReader(c), maxMessage: maxMessage}, s
}

// feed writes raw bytes from the server end, then closes it when close is set.
func feed(s net.Conn, b []byte, close bool) {
	go func() {
		s.Write(b)
		if close {
			s.Close()
		}
	}()
}

func TestAcceptKey(t *testing.T) {
	// RFC 6455 §1.3's example.
	if got := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Errorf("acceptKey = %q", got)
	}
}

func TestReadFragmentedWithPing(t *testing.T) {
	w, s := pipeWS(t, 1<<20)
	var b []byte
	b = append(b, serverFrame(false, opText, []byte("42/hook,"))...)
	b = append(b, serverFrame(true, opPing, []byte("hi"))...)
	b = append(b, serverFrame(false, opContinuation, []byte(`["a",`))...)
	b = append(b, serverFrame(true, opContinuation, []byte(`{}]`))...)
	feed(s, b, false)
	pong := make(chan []byte, 1)
	go func() {
		_, op, p, err := readClientFrame(s)
		if err != nil || op != opPong {
			p = []byte("not a pong")
		}
		pong <- p
	}()
	op, msg, err := w.readMessage()
	if err != nil || op != opText || string(msg) != `42/hook,["a",{}]` {
		t.Fatalf("readMessage = %d %q %v", op, msg, err)
	}
	if p := <-pong; string(p) != "hi" {
		t.Errorf("pong payload %q, want hi", p)
	}
}

func TestReadLengths(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536, 300000} {
		w, s := pipeWS(t, 1<<20)
		p := bytes.Repeat([]byte{'x'}, n)
		feed(s, serverFrame(true, opText, p), false)
		_, msg, err := w.readMessage()
		if err != nil || len(msg) != n {
			t.Errorf("%d bytes: got %d, %v", n, len(msg), err)
		}
	}
}

func TestReadBadFrames(t *testing.T) {
	long := serverFrame(true, opText, make([]byte, 200))
	masked := serverFrame(true, opText, []byte("x"))
	masked[1] |= 0x80
	rsv := serverFrame(true, opText, []byte("x"))
	rsv[0] |= 0x40
	bigPing := serverFrame(true, opPing, make([]byte, 126))
	fragPing := serverFrame(false, opPing, nil)
	top := []byte{0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 1}
	for _, tt := range []struct {
		name  string
		in    []byte
		want  error
		close bool
	}{
		{"empty stream", nil, io.EOF, true},
		{"truncated header", []byte{0x81}, io.ErrUnexpectedEOF, true},
		{"truncated length", []byte{0x81, 126, 0}, io.ErrUnexpectedEOF, true},
		{"truncated payload", long[:50], io.ErrUnexpectedEOF, true},
		{"oversize", serverFrame(true, opText, make([]byte, 2000)), ErrTooLarge, false},
		{"oversize in fragments", append(serverFrame(false, opText, make([]byte, 600)), serverFrame(true, opContinuation, make([]byte, 600))...), ErrTooLarge, false},
		{"masked by the server", masked, errProtocol, false},
		{"reserved bits", rsv, errProtocol, false},
		{"reserved opcode", serverFrame(true, 0x3, nil), errProtocol, false},
		{"long control frame", bigPing, errProtocol, false},
		{"fragmented control frame", fragPing, errProtocol, false},
		{"continuation first", serverFrame(true, opContinuation, []byte("x")), errProtocol, false},
		{"message inside a message", append(serverFrame(false, opText, []byte("a")), serverFrame(true, opText, []byte("b"))...), errProtocol, false},
		{"64-bit length top bit", top, errProtocol, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			w, s := pipeWS(t, 1000)
			feed(s, tt.in, tt.close)
			_, _, err := w.readMessage()
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestReadClose(t *testing.T) {
	w, s := pipeWS(t, 1000)
	feed(s, serverFrame(true, opClose, append([]byte{0x03, 0xe9}, "going away"...)), false)
	answered := make(chan []byte, 1)
	go func() { _, op, p, _ := readClientFrame(s); answered <- append([]byte{op}, p...) }()
	_, _, err := w.readMessage()
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != 1001 || ce.Reason != "going away" {
		t.Fatalf("err = %v, want a CloseError 1001 going away", err)
	}
	if a := <-answered; a[0] != opClose || binary.BigEndian.Uint16(a[1:]) != 1001 {
		t.Errorf("close answer %v", a)
	}
	if err := w.writeFrame(opText, []byte("x"), time.Time{}); err == nil {
		t.Error("a write after the close frame succeeded")
	}
}

func TestWriteFrameMasked(t *testing.T) {
	for _, n := range []int{0, 5, 125, 126, 300, 70000} {
		w, s := pipeWS(t, 1000)
		p := []byte(strings.Repeat("abcdefg", n/7+1)[:n])
		go w.writeFrame(opText, p, time.Time{})
		fin, op, got, err := readClientFrame(s)
		if err != nil || !fin || op != opText || !bytes.Equal(got, p) {
			t.Errorf("%d bytes: fin %v op %d, payload equal %v", n, fin, op, bytes.Equal(got, p))
		}
	}
}

func TestHandshakeAnswers(t *testing.T) {
	good := func(req string) string {
		key := ""
		for l := range strings.SplitSeq(req, "\r\n") {
			if k, v, ok := strings.Cut(l, ": "); ok && k == "Sec-WebSocket-Key" {
				key = v
			}
		}
		return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n\r\n"
	}
	for _, tt := range []struct {
		name   string
		answer func(req string) string
		want   string // "" = success
	}{
		{"101", good, ""},
		{"bad status", func(string) string {
			return "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 34\r\n\r\n{\"code\":3,\"message\":\"Bad request\"}"
		}, "websocket upgrade refused: 400 Bad Request: {\"code\":3,\"message\":\"Bad request\"}"},
		{"wrong accept", func(string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n"
		}, "does not match"},
		{"no upgrade header", func(req string) string { return strings.Replace(good(req), "Upgrade: websocket\r\n", "", 1) }, "lacks Upgrade"},
		{"not HTTP", func(string) string { return "SSH-2.0-OpenSSH\r\n\r\n" }, "not an HTTP answer"},
		{"bad header line", func(string) string { return "HTTP/1.1 101 Switching\r\nnonsense\r\n\r\n" }, "bad header line"},
		{"endless headers", func(string) string { return "HTTP/1.1 101 OK\r\n" + strings.Repeat("X-A: b\r\n", 10000) }, "headers longer"},
		{"cut short", func(string) string { return "HTTP/1.1 101 Swi" }, "unexpected EOF"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, s := net.Pipe()
			defer c.Close()
			go func() {
				defer s.Close()
				r := newReader(s)
				var req strings.Builder
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					req.WriteString(l)
					if l == "\r\n" {
						break
					}
				}
				io.WriteString(s, tt.answer(req.String()))
			}()
			_, err := wsHandshake(c, target{host: "h:1"}, "/socket.io/?EIO=4&transport=websocket", []string{"Authorization: Bearer t"}, 1000)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("err = %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want one with %q", err, tt.want)
			}
		})
	}
}

func TestParsePacket(t *testing.T) {
	for _, tt := range []struct {
		in, ns, data string
		typ          byte
		id           int64
		bad          bool
	}{
		{in: `0/hook,{"sid":"x"}`, typ: '0', ns: "/hook", id: -1, data: `{"sid":"x"}`},
		{in: `0{"sid":"x"}`, typ: '0', ns: "/", id: -1, data: `{"sid":"x"}`},
		{in: `3/hook,12[{"seq":1}]`, typ: '3', ns: "/hook", id: 12, data: `[{"seq":1}]`},
		{in: `2["a",{}]`, typ: '2', ns: "/", id: -1, data: `["a",{}]`},
		{in: `1/hook,`, typ: '1', ns: "/hook", id: -1},
		{in: `1/hook`, typ: '1', ns: "/hook", id: -1},
		{in: `4/hook,{"message":"no"}`, typ: '4', ns: "/hook", id: -1, data: `{"message":"no"}`},
		{in: ``, bad: true},
		{in: `9`, bad: true},
		{in: `51-/hook,["a",{"_placeholder":true,"num":0}]`, bad: true},
		{in: `3/hook,99999999999999999999[]`, bad: true},
	} {
		p, err := parsePacket([]byte(tt.in))
		if tt.bad {
			if err == nil {
				t.Errorf("%q: no error", tt.in)
			}
			continue
		}
		if err != nil || p.typ != tt.typ || p.ns != tt.ns || p.id != tt.id || string(p.data) != tt.data {
			t.Errorf("%q: %c %q %d %q %v", tt.in, p.typ, p.ns, p.id, p.data, err)
		}
	}
	if got := string(encodePacket(sioEvent, "/hook", 7, []byte(`["a"]`))); got != `42/hook,7["a"]` {
		t.Errorf("encodePacket = %q", got)
	}
	if got := string(encodePacket(sioConnect, "/", -1, []byte(`{}`))); got != `40{}` {
		t.Errorf("encodePacket = %q", got)
	}
}
