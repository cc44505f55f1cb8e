package wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"
)

// PostConn is a TCP connection to mpmd opened for one POST /emit: the
// cheapest way to hand mpmd an event and get its ack. mpmd answers /emit once
// the event is stored, with the same {"seq", "event_id", "duplicate"} (or
// {"error", "code"}) a Socket.IO emit's ack carries, so the answer means what
// the ack means — in one round trip instead of the three a Socket.IO
// connection takes (upgrade and open packet, namespace CONNECT, EVENT and
// ack). mpm-hook's relay uses it for every hook event while the spool is
// empty (docs/HOOKS.md).
//
// The connection is opened first (DialPost) so that it can be set up while
// the hook's stdin is still being read; Post then writes the request and
// reads the answer, and the connection is closed.
type PostConn struct {
	t       target
	baseURL string
	nc      net.Conn
}

// maxPostAnswer bounds the body of mpmd's answer to POST /emit.
const maxPostAnswer = 64 << 10

// DialPost opens the TCP connection for a Post to baseURL (an http:// URL).
// When nothing listens there the error wraps ErrNoDaemon.
func DialPost(ctx context.Context, baseURL string) (*PostConn, error) {
	t, err := parseTarget(baseURL)
	if err != nil {
		return nil, err
	}
	nc, err := dialTCP(ctx, t, false)
	if err != nil {
		if errors.Is(err, ErrNoDaemon) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connect to %s: %w", baseURL, ctx.Err())
		}
		return nil, fmt.Errorf("connect to %s: %w", baseURL, err)
	}
	return &PostConn{t: t, baseURL: baseURL, nc: nc}, nil
}

// dialTCP opens a TCP connection to t with Nagle off (Go's default for TCP);
// a refused connection wraps ErrNoDaemon. keepAlive turns on TCP keep-alive
// probes, which only a connection that lives for minutes needs: setting them
// up is four system calls a POST that lives for a millisecond does without.
func dialTCP(ctx context.Context, t target, keepAlive bool) (net.Conn, error) {
	var d net.Dialer
	if !keepAlive {
		d.KeepAlive = -1
	}
	nc, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w: nothing listens at %s (%v)", ErrNoDaemon, t.host, err)
		}
		return nil, err
	}
	return nc, nil
}

// Close closes the connection; Post does too.
func (c *PostConn) Close() error { return c.nc.Close() }

// Post sends {"namespace", "event", "data"} with POST /emit and returns mpmd's
// ack. A refusal (an answer that is not 200: a bad event, a wrong token, a
// store that cannot take it) is an *AckError; Transient says whether a later
// try may succeed. Any other error means the answer was not read, so the
// event may or may not be stored: trying again with the same event_id is
// safe, mpmd drops the duplicate. Post closes the connection.
func (c *PostConn) Post(ctx context.Context, token, namespace, event string, data map[string]any) (Ack, error) {
	defer c.nc.Close()
	body, err := json.Marshal(struct {
		Namespace string         `json:"namespace"`
		Event     string         `json:"event"`
		Data      map[string]any `json:"data"`
	}{namespace, event, data})
	if err != nil {
		return Ack{}, fmt.Errorf("encode the event: %w", err)
	}
	stop := deadlineFromContext(ctx, c.nc)
	defer stop()
	// HTTP/1.0: the answer has a Content-Length or ends with the
	// connection, never chunked.
	req := make([]byte, 0, 160+len(token)+len(body))
	req = append(req, "POST /emit HTTP/1.0\r\nHost: "...)
	req = append(req, c.t.host...)
	req = append(req, "\r\nContent-Type: application/json\r\nUser-Agent: mpm-hook\r\nContent-Length: "...)
	req = strconv.AppendInt(req, int64(len(body)), 10)
	if token != "" {
		req = append(req, "\r\nAuthorization: Bearer "...)
		req = append(req, token...)
	}
	req = append(req, "\r\n\r\n"...)
	req = append(req, body...)
	if _, err := c.nc.Write(req); err != nil {
		return Ack{}, fmt.Errorf("POST %s/emit: %w", c.baseURL, ctxErr(ctx, err))
	}
	r := newReader(c.nc)
	h, err := readHead(r)
	if err != nil {
		return Ack{}, fmt.Errorf("POST %s/emit: %w", c.baseURL, ctxErr(ctx, err))
	}
	b, err := readBody(r, h, maxPostAnswer)
	if err != nil {
		return Ack{}, fmt.Errorf("POST %s/emit: %w", c.baseURL, ctxErr(ctx, err))
	}
	return parsePostAnswer(h, b)
}

// parsePostAnswer reads mpmd's answer to POST /emit.
func parsePostAnswer(h head, b []byte) (Ack, error) {
	var m map[string]any
	jerr := decodeJSON(b, &m)
	if h.code == 200 {
		if jerr != nil || m == nil {
			return Ack{}, fmt.Errorf("POST /emit answered %s with a body that is not a JSON object: %q", h.status(), shortBytes(b))
		}
		return ParseAck([]any{m})
	}
	msg, _ := m["error"].(string)
	code, _ := m["code"].(string)
	if msg == "" {
		msg = fmt.Sprintf("POST /emit answered %s: %q", h.status(), shortBytes(b))
	}
	if code == "" && h.code >= 500 {
		// mpmd's state, not the event: 503 (overloaded, stopping).
		code = "unavailable"
	}
	return Ack{}, &AckError{Msg: msg, Code: code}
}
