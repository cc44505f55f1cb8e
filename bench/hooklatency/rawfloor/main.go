// Command rawfloor is the benchmark's lowest bound for a hook that waits for
// mpmd's ack: it reads the hook input, wraps it into a /emit body by string
// concatenation (no JSON decoding or encoding), writes one hand-made
// HTTP/1.0 POST /emit on a raw loopback TCP connection (package net, nothing
// else) and waits for the answer, which mpmd sends once the event is stored.
// No discovery, no spool, no event building: what any acked Go hook costs at
// least on the machine, next to the empty program's spawn cost.
package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	in, _ := io.ReadAll(os.Stdin)
	in = bytes.TrimSpace(in)
	// A unique event_id, so mpmd does not drop the event as a duplicate.
	id := strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(int64(len(in)), 10) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	data := append([]byte(`{"event_id":"rawfloor-`+id+`",`), in[1:]...)
	body := append(append([]byte(`{"namespace":"hook","event":"pre_tool","data":`), data...), '}')
	host := strings.TrimPrefix(os.Args[1], "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		os.Exit(1)
	}
	req := "POST /emit HTTP/1.0\r\nHost: " + host + "\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := c.Write(append([]byte(req), body...)); err != nil {
		os.Exit(1)
	}
	ans, _ := io.ReadAll(c)
	if !bytes.HasPrefix(ans, []byte("HTTP/1.0 200")) && !bytes.HasPrefix(ans, []byte("HTTP/1.1 200")) {
		os.Stderr.Write(ans)
		os.Exit(1)
	}
}
