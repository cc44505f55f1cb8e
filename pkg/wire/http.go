package wire

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// target is where a base URL points.
type target struct {
	host string // for the Host header: "127.0.0.1:8765", "[::1]:8765"
	addr string // for net.Dial
}

// parseTarget accepts http:// and ws:// base URLs (a path is ignored: mpmd
// serves Socket.IO at /socket.io/ and /health at the root).
func parseTarget(baseURL string) (target, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return target{}, fmt.Errorf("bad mpmd URL %q: %w", baseURL, err)
	}
	switch u.Scheme {
	case "http", "ws":
	default:
		return target{}, fmt.Errorf("bad mpmd URL %q: only http:// is supported", baseURL)
	}
	if u.Hostname() == "" {
		return target{}, fmt.Errorf("bad mpmd URL %q: no host", baseURL)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return target{host: u.Host, addr: net.JoinHostPort(u.Hostname(), port)}, nil
}

// maxHead bounds the status line and headers of an HTTP answer.
const maxHead = 32 << 10

func newReader(r io.Reader) *bufio.Reader { return bufio.NewReaderSize(r, 16<<10) }

// head is an HTTP answer's status line and headers.
type head struct {
	code   int
	text   string
	header map[string]string // lower-case names; repeated headers joined with ", "
}

func (h head) status() string { return strings.TrimSpace(strconv.Itoa(h.code) + " " + h.text) }

var errBadHTTP = errors.New("not an HTTP answer")

// readHead reads an HTTP answer up to the blank line after its headers.
func readHead(r *bufio.Reader) (head, error) {
	budget := maxHead
	line, err := readLine(r, &budget)
	if err != nil {
		return head{}, err
	}
	proto, rest, _ := strings.Cut(line, " ")
	code, text, _ := strings.Cut(rest, " ")
	if !strings.HasPrefix(proto, "HTTP/1.") || len(code) != 3 {
		return head{}, fmt.Errorf("%w: %q", errBadHTTP, short(line))
	}
	h := head{text: text, header: map[string]string{}}
	if h.code, err = strconv.Atoi(code); err != nil {
		return head{}, fmt.Errorf("%w: %q", errBadHTTP, short(line))
	}
	for {
		line, err := readLine(r, &budget)
		if err != nil {
			return head{}, err
		}
		if line == "" {
			return h, nil
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return head{}, fmt.Errorf("%w: bad header line %q", errBadHTTP, short(line))
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if old, ok := h.header[k]; ok {
			v = old + ", " + v
		}
		h.header[k] = v
	}
}

func readLine(r *bufio.Reader, budget *int) (string, error) {
	var b []byte
	for {
		frag, err := r.ReadSlice('\n')
		*budget -= len(frag)
		if *budget < 0 {
			return "", fmt.Errorf("%w: headers longer than %d bytes", errBadHTTP, maxHead)
		}
		b = append(b, frag...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return "", fmt.Errorf("reading the HTTP answer: %w", err)
		}
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// readBody reads the body of an answer to an HTTP/1.0 request: Content-Length
// bytes when given, else up to the end of the connection; at most limit bytes.
func readBody(r *bufio.Reader, h head, limit int64) ([]byte, error) {
	if cl, ok := h.header["content-length"]; ok {
		n, err := strconv.ParseInt(cl, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%w: bad Content-Length %q", errBadHTTP, cl)
		}
		if n > limit {
			return nil, fmt.Errorf("the answer's body (%d bytes) is larger than %d bytes", n, limit)
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, fmt.Errorf("reading the HTTP answer's body: %w", err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("the answer's body is larger than %d bytes", limit)
	}
	return b, nil
}

func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
