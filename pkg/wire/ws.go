package wire

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// websocket opcodes (RFC 6455 §5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey is the Sec-WebSocket-Accept a server must answer to key.
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// HandshakeError is a websocket upgrade the server answered with something
// other than 101 Switching Protocols.
type HandshakeError struct {
	Status string // "400 Bad Request"
	Body   string // the start of the answer's body (Engine.IO puts its reason there)
}

func (e *HandshakeError) Error() string {
	s := "websocket upgrade refused: " + e.Status
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// CloseError is a websocket closed by the server with a close frame.
type CloseError struct {
	Code   int // 1000 normal, 1001 going away, …; 1005 when the frame had none
	Reason string
}

func (e *CloseError) Error() string {
	s := fmt.Sprintf("websocket closed by the server (%d", e.Code)
	if e.Reason != "" {
		s += " " + e.Reason
	}
	return s + ")"
}

// errProtocol marks a frame that breaks RFC 6455.
var errProtocol = errors.New("websocket protocol error")

// wsConn is the client end of a websocket.
type wsConn struct {
	c          net.Conn
	r          *bufio.Reader
	maxMessage int64

	wmu    sync.Mutex
	closed bool // a close frame was sent
}

// wsHandshake upgrades c (already connected to t) to a websocket at path
// ("/socket.io/?…"), sending extra header lines ("Name: value"). maxMessage
// bounds every message read later.
func wsHandshake(c net.Conn, t target, path string, extra []string, maxMessage int64) (*wsConn, error) {
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	var b strings.Builder
	b.WriteString("GET " + path + " HTTP/1.1\r\nHost: " + t.host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\nUser-Agent: mpm\r\n")
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		return nil, err
	}
	r := newReader(c)
	h, err := readHead(r)
	if err != nil {
		return nil, err
	}
	if h.code != 101 {
		body, _ := readBody(r, h, 512)
		return nil, &HandshakeError{Status: h.status(), Body: strings.TrimSpace(string(body))}
	}
	if !strings.EqualFold(h.header["upgrade"], "websocket") || !hasToken(h.header["connection"], "upgrade") {
		return nil, fmt.Errorf("%w: the 101 answer lacks Upgrade: websocket / Connection: Upgrade", errProtocol)
	}
	if got := h.header["sec-websocket-accept"]; got != acceptKey(key) {
		return nil, fmt.Errorf("%w: Sec-WebSocket-Accept %q does not match the key", errProtocol, got)
	}
	if ext := h.header["sec-websocket-extensions"]; ext != "" {
		return nil, fmt.Errorf("%w: the server chose extensions (%s) the client did not offer", errProtocol, ext)
	}
	return &wsConn{c: c, r: r, maxMessage: maxMessage}, nil
}

func hasToken(list, tok string) bool {
	for p := range strings.SplitSeq(list, ",") {
		if strings.EqualFold(strings.TrimSpace(p), tok) {
			return true
		}
	}
	return false
}

// readMessage returns the next text or binary message, reassembled from its
// fragments. On the way it answers pings with pongs, skips pongs, and on a
// close frame answers it and returns a *CloseError.
func (w *wsConn) readMessage() (op byte, msg []byte, err error) {
	started := false
	for {
		fin, fop, p, err := w.readFrame(int64(len(msg)))
		if err != nil {
			return 0, nil, err
		}
		switch fop {
		case opPing:
			if err := w.writeFrame(opPong, p, time.Now().Add(time.Second)); err != nil {
				return 0, nil, err
			}
		case opPong:
		case opClose:
			ce := &CloseError{Code: 1005}
			if len(p) == 1 {
				return 0, nil, fmt.Errorf("%w: a close frame with a 1-byte payload", errProtocol)
			}
			if len(p) >= 2 {
				ce.Code = int(binary.BigEndian.Uint16(p))
				ce.Reason = string(p[2:])
			}
			_ = w.writeFrame(opClose, p[:min(len(p), 2)], time.Now().Add(100*time.Millisecond))
			return 0, nil, ce
		case opContinuation:
			if !started {
				return 0, nil, fmt.Errorf("%w: a continuation frame outside a message", errProtocol)
			}
			msg = append(msg, p...)
		case opText, opBinary:
			if started {
				return 0, nil, fmt.Errorf("%w: a new message inside a fragmented one", errProtocol)
			}
			started, op, msg = true, fop, p
		default:
			return 0, nil, fmt.Errorf("%w: reserved opcode %#x", errProtocol, fop)
		}
		if started && fin && fop < opClose {
			return op, msg, nil
		}
	}
}

// readFrame reads one frame; have is the size of the message so far, which
// with this frame must stay within maxMessage.
func (w *wsConn) readFrame(have int64) (fin bool, op byte, p []byte, err error) {
	var h [8]byte
	if _, err := io.ReadFull(w.r, h[:2]); err != nil {
		return false, 0, nil, err
	}
	fin, op = h[0]&0x80 != 0, h[0]&0x0f
	if h[0]&0x70 != 0 {
		return false, 0, nil, fmt.Errorf("%w: reserved bits set without an extension", errProtocol)
	}
	if h[1]&0x80 != 0 {
		return false, 0, nil, fmt.Errorf("%w: a masked frame from the server", errProtocol)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(w.r, h[:2]); err != nil {
			return false, 0, nil, unexpected(err)
		}
		n = uint64(binary.BigEndian.Uint16(h[:2]))
	case 127:
		if _, err := io.ReadFull(w.r, h[:8]); err != nil {
			return false, 0, nil, unexpected(err)
		}
		n = binary.BigEndian.Uint64(h[:8])
		if n>>63 != 0 {
			return false, 0, nil, fmt.Errorf("%w: a 64-bit length with the top bit set", errProtocol)
		}
	}
	if op >= opClose && (!fin || n > 125) {
		return false, 0, nil, fmt.Errorf("%w: a fragmented or long control frame", errProtocol)
	}
	if op < opClose && n > uint64(w.maxMessage-have) {
		return false, 0, nil, fmt.Errorf("%w: a message larger than %d bytes", ErrTooLarge, w.maxMessage)
	}
	p = make([]byte, n)
	if _, err := io.ReadFull(w.r, p); err != nil {
		return false, 0, nil, unexpected(err)
	}
	return fin, op, p, nil
}

// ErrTooLarge is a message from the server over the client's limit.
var ErrTooLarge = errors.New("message too large")

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// writeFrame sends one whole, masked frame (clients must mask, RFC 6455
// §5.3). A zero deadline means none.
func (w *wsConn) writeFrame(op byte, p []byte, deadline time.Time) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.closed {
		return net.ErrClosed
	}
	if op == opClose {
		w.closed = true
	}
	b := make([]byte, 0, len(p)+14)
	b = append(b, 0x80|op)
	switch n := len(p); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	b = append(b, mask[:]...)
	off := len(b)
	b = append(b, p...)
	for i := range p {
		b[off+i] ^= mask[i&3]
	}
	_ = w.c.SetWriteDeadline(deadline)
	_, err := w.c.Write(b)
	return err
}

// close sends a normal close frame (best effort, without waiting for the
// answer) and closes the connection.
func (w *wsConn) close() {
	_ = w.writeFrame(opClose, []byte{0x03, 0xe8}, time.Now().Add(50*time.Millisecond))
	_ = w.c.Close()
}
