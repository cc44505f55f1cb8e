// Package client is the Go client of mpmd: it finds a running daemon (the
// discovery file, then GET /health on the configured port), connects to one of
// its Socket.IO namespaces over websocket, emits events and waits for mpmd's
// acknowledgement, and subscribes to events with replay (since_seq) and a
// session filter.
//
// It wraps github.com/zishang520/socket.io/clients/socket/v3 and hides its
// pitfalls: the transport is always websocket alone (the library's default set
// includes WebTransport, which hangs against plain HTTP), reconnection is off
// and every Dial gets its own connection, connecting is bounded by a short
// timeout and retried (a small share of connects race inside the library), and
// Emit always waits for the ack (an emit followed at once by a disconnect can
// be lost otherwise).
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
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
// looks like mpmd on the configured port.
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
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		return "http://" + net.JoinHostPort(host, strconv.Itoa(d.Port))
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
	return "", Health{}, fmt.Errorf("%w: %s, and nothing answered as mpmd at %s; start it with `mpmd start`", ErrNoDaemon, msg, joinTried(tried))
}

func joinTried(t []string) string {
	s := ""
	for i, x := range t {
		if i > 0 {
			s += " or "
		}
		s += x
	}
	return s
}

// CheckHealth asks baseURL for GET /health and checks that it is mpmd.
func CheckHealth(ctx context.Context, baseURL string, o Options) (Health, error) {
	timeout := o.HealthTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, baseURL+"/health", nil)
	if err != nil {
		return Health{}, err
	}
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return Health{}, errors.New("connection refused")
		}
		return Health{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Health{}, err
	}
	var h Health
	if err := json.Unmarshal(b, &h); err != nil {
		return Health{}, fmt.Errorf("GET /health answered %s that is not JSON", resp.Status)
	}
	if h.Server != ServerName {
		return h, fmt.Errorf("GET /health answered server %q, not %q: another program has this port", h.Server, ServerName)
	}
	return h, nil
}
