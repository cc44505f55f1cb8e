// Package wire is mpm-hook's own Socket.IO client of mpmd, built on the
// standard library alone: a websocket client (RFC 6455: the upgrade with its
// Sec-WebSocket-Accept check, masked frames, fragmented messages, ping and
// close frames), Engine.IO v4 over it (the open packet, ping/pong, close) and
// the Socket.IO v5 packets mpmd speaks (CONNECT with auth, CONNECT_ERROR,
// EVENT, ACK, DISCONNECT). It also holds what every Go client of mpmd needs:
// finding the daemon (the discovery file, then GET /health on the configured
// port), and the meaning of its acks and refusals; pkg/client, the client
// built on the Socket.IO library, uses these too.
//
// Why not the library: a hook process lives for milliseconds, and the
// library's package initialisation alone (its engine client with QUIC and
// WebTransport, colour and HTTP helpers) cost mpm-hook about 7 ms before main,
// more than the whole latency budget of a hook (see docs/HOOKS.md).
//
// Only websocket is spoken (no long-polling), only plain http:// and ws://
// base URLs are accepted (mpmd serves no TLS), and binary packets are not
// supported (mpmd sends JSON only).
package wire

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mpm-dev/mpm/pkg/paths"
)

// DefaultPort is mpmd's port when neither --port nor SOCKETIO_PORT says otherwise.
const DefaultPort = 8765

// ServerName is the value of /health's "server" field that identifies mpmd.
const ServerName = "claude-mpm-socketio"

// ErrNoDaemon means no mpmd answered: no live discovery file and nothing that
// looks like mpmd on the configured port, or nothing listens where one was
// expected.
var ErrNoDaemon = errors.New("mpmd is not running")

// Options say where to look for mpmd and how to authenticate. The zero value
// looks at the discovery file of the current XDG dirs and then 127.0.0.1:8765
// (or SOCKETIO_PORT), without a token.
type Options struct {
	// Port is tried when the discovery file names no live daemon.
	// Zero means SOCKETIO_PORT, then DefaultPort.
	Port int
	// Host of the fallback address; default 127.0.0.1.
	Host string
	// Token is sent as Authorization: Bearer and in the Socket.IO auth.
	// Callers usually fill it from CLAUDE_MPM_SOCKETIO_TOKEN.
	Token string
	// DiscoveryFile overrides paths.Resolve().Discovery().
	DiscoveryFile string
	// HealthTimeout bounds each /health request; default 1s.
	HealthTimeout time.Duration
}

func (o Options) port() int {
	if o.Port > 0 {
		return o.Port
	}
	if p, err := strconv.Atoi(os.Getenv("SOCKETIO_PORT")); err == nil && p > 0 {
		return p
	}
	return DefaultPort
}

func (o Options) host() string {
	if o.Host != "" {
		return o.Host
	}
	return "127.0.0.1"
}

func (o Options) discoveryFile() string {
	if o.DiscoveryFile != "" {
		return o.DiscoveryFile
	}
	return paths.Resolve().Discovery()
}

// FallbackURL is the address tried when no discovery file names a daemon.
func (o Options) FallbackURL() string {
	return "http://" + net.JoinHostPort(o.host(), strconv.Itoa(o.port()))
}

// Candidate returns the URL a running mpmd most likely has, without any
// network traffic: the discovery file's address when it names a live process,
// else FallbackURL. The hook relay uses it to skip the /health round trip; a
// wrong guess fails at the Socket.IO handshake.
func Candidate(o Options) string {
	u, _ := CandidateFrom(o)
	return u
}

// CandidateFrom is Candidate that also says whether the URL came from a
// discovery file naming a live process (then mpmd is very likely up).
func CandidateFrom(o Options) (string, bool) {
	if d, err := paths.ReadDiscovery(o.discoveryFile()); err == nil {
		if u := discoveryURL(d); u != "" {
			return u, true
		}
	}
	return o.FallbackURL(), false
}

func discoveryURL(d paths.Discovery) string {
	if d.URL != "" {
		return strings.TrimRight(d.URL, "/")
	}
	if d.Port > 0 {
		host := d.Host
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::", "[::]":
			host = "::1"
		}
		return "http://" + net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(d.Port))
	}
	return ""
}

// Health is mpmd's GET /health answer (the fields mpm-hook uses; mpmd sends more).
type Health struct {
	Status  string `json:"status"`
	Server  string `json:"server"`
	Version string `json:"version"`
	PID     int    `json:"pid"`
	Port    int    `json:"port"`
}

// Discover finds a running mpmd and returns its base URL ("http://host:port").
func Discover(ctx context.Context, o Options) (string, error) {
	u, _, err := DiscoverHealth(ctx, o)
	return u, err
}

// DiscoverHealth is Discover that also returns the daemon's /health answer.
// The discovery file is tried first, then the configured port. When neither
// answers as mpmd, the error wraps ErrNoDaemon and says where it looked.
func DiscoverHealth(ctx context.Context, o Options) (string, Health, error) {
	var tried []string
	if d, err := paths.ReadDiscovery(o.discoveryFile()); err == nil {
		if u := discoveryURL(d); u != "" {
			h, herr := CheckHealth(ctx, u, o)
			if herr == nil {
				return u, h, nil
			}
			tried = append(tried, fmt.Sprintf("%s (from the discovery file: %v)", u, herr))
		}
	}
	u := o.FallbackURL()
	h, err := CheckHealth(ctx, u, o)
	if err == nil {
		return u, h, nil
	}
	tried = append(tried, fmt.Sprintf("%s (%v)", u, err))
	msg := "no discovery file names a running mpmd"
	if len(tried) > 1 {
		msg = "the discovery file names one that does not answer"
	}
	return "", Health{}, fmt.Errorf("%w: %s, and nothing answered as mpmd at %s; start it with `mpmd start`", ErrNoDaemon, msg, strings.Join(tried, " or "))
}

// maxHealthBody bounds what CheckHealth reads of an answer.
const maxHealthBody = 1 << 20

// CheckHealth asks baseURL for GET /health and checks that it is mpmd. It
// speaks HTTP/1.0 by hand (one request, the server closes the connection
// after its answer, no chunked bodies): net/http would add to every hook's
// start-up for one small request that only doctor, emit and tail make.
func CheckHealth(ctx context.Context, baseURL string, o Options) (Health, error) {
	timeout := o.HealthTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t, err := parseTarget(baseURL)
	if err != nil {
		return Health{}, err
	}
	d := net.Dialer{}
	c, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" && ctx.Err() == nil {
			return Health{}, errors.New("connection refused")
		}
		return Health{}, err
	}
	defer c.Close()
	stop := deadlineFromContext(ctx, c)
	defer stop()
	req := "GET /health HTTP/1.0\r\nHost: " + t.host + "\r\nAccept: application/json\r\nUser-Agent: mpm\r\n"
	if o.Token != "" {
		req += "Authorization: Bearer " + o.Token + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		return Health{}, ctxErr(ctx, err)
	}
	r := newReader(c)
	head, err := readHead(r)
	if err != nil {
		return Health{}, ctxErr(ctx, err)
	}
	b, err := readBody(r, head, maxHealthBody)
	if err != nil {
		return Health{}, ctxErr(ctx, err)
	}
	var h Health
	if err := json.Unmarshal(b, &h); err != nil {
		return Health{}, fmt.Errorf("GET /health answered %s that is not JSON", head.status())
	}
	if h.Server != ServerName {
		return h, fmt.Errorf("GET /health answered server %q, not %q: another program has this port", h.Server, ServerName)
	}
	return h, nil
}

// ctxErr prefers the context's error (a deadline) to the I/O error it caused.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// deadlineFromContext makes c's reads and writes fail when ctx ends: they get
// ctx's deadline, and a cancellation moves it to the past. stop undoes the
// cancellation hook (not the deadline).
func deadlineFromContext(ctx context.Context, c net.Conn) (stop func() bool) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
}
