// Command floorsio is a second floor for the hook benchmark: what a hook
// relay that speaks Socket.IO itself, with the standard library only (no
// net/http, no Socket.IO library), costs. It reads the hook input, opens a
// websocket to mpmd's /socket.io/, joins /hook as a producer, emits pre_tool
// with an ack, waits for the ack and exits. It is a measuring stick for
// docs/PERFORMANCE-hook.md, not a client: no reconnects, no binary packets,
// no ping handling beyond answering one.
package main

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "floorsio:", err)
		os.Exit(1)
	}
}

func run() error {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		return err
	}
	var data map[string]any
	if err := json.Unmarshal(in, &data); err != nil {
		return err
	}
	u, err := url.Parse(os.Args[1])
	if err != nil {
		return err
	}
	c, err := net.DialTimeout("tcp", u.Host, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	var key [16]byte
	rand.Read(key[:])
	fmt.Fprintf(c, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		u.Host, base64.StdEncoding.EncodeToString(key[:]))
	r := bufio.NewReader(c)
	status, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.Contains(status, " 101 ") {
		return fmt.Errorf("websocket upgrade refused: %s", strings.TrimSpace(status))
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" {
			break
		}
	}
	// Engine.IO open packet, then join /hook.
	if msg, err := readText(r, c); err != nil || !strings.HasPrefix(msg, "0") {
		return fmt.Errorf("no Engine.IO open packet (%q, %v)", msg, err)
	}
	if err := writeText(c, `40/hook,{"producer":true}`); err != nil {
		return err
	}
	if msg, err := readText(r, c); err != nil || !strings.HasPrefix(msg, "40/hook,") {
		return fmt.Errorf("namespace not joined (%q, %v)", msg, err)
	}
	ev, _ := json.Marshal([]any{"pre_tool", data})
	if err := writeText(c, "42/hook,1"+string(ev)); err != nil {
		return err
	}
	if msg, err := readText(r, c); err != nil || !strings.HasPrefix(msg, "43/hook,1") {
		return fmt.Errorf("no ack (%q, %v)", msg, err)
	}
	writeFrame(c, 0x8, nil) // close
	return nil
}

// readText returns the next text message, answering pings on the way.
func readText(r *bufio.Reader, c net.Conn) (string, error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return "", err
		}
		op, n := h[0]&0x0f, uint64(h[1]&0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return "", err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return "", err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			return "", err
		}
		switch op {
		case 0x1:
			if string(p) == "2" { // Engine.IO ping
				writeText(c, "3")
				continue
			}
			return string(p), nil
		case 0x8:
			return "", errors.New("closed by mpmd")
		case 0x9:
			writeFrame(c, 0xA, p)
		}
	}
}

func writeText(c net.Conn, s string) error { return writeFrame(c, 0x1, []byte(s)) }

// writeFrame writes one masked frame, as a client must.
func writeFrame(c net.Conn, op byte, p []byte) error {
	b := []byte{0x80 | op}
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
	rand.Read(mask[:])
	b = append(b, mask[:]...)
	for i, x := range p {
		b = append(b, x^mask[i%4])
	}
	_, err := c.Write(b)
	return err
}
