package server

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// How long requests may take. No request, however it races, may hold its
// goroutine and connection for longer than a poll cycle (the ping interval
// plus the ping timeout: a live long-polling session is always answered
// within it) or, for the rest, DefaultRequestTimeout.
const (
	// DefaultRequestTimeout bounds a request that is neither a long poll,
	// nor a websocket, nor a stream: reading it, handling it, writing the
	// answer.
	DefaultRequestTimeout = 30 * time.Second
	// streamIdle bounds each write of a stream (an /api/events export):
	// it may take as long as it needs while the client reads.
	streamIdle = 30 * time.Second
	// idleTimeout closes a keep-alive connection with no request.
	idleTimeout = 90 * time.Second
	// readHeaderTimeout cuts off a client that does not finish its headers.
	readHeaderTimeout = 10 * time.Second
)

// httpServer is the http.Server that serves h with mpmd's timeouts. The
// per-request bounds are in bounded: net/http's ReadTimeout and
// WriteTimeout would cut long polls and the handshakes of websockets.
func httpServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout}
}

// bounded gives every request its deadline, by kind:
//
//   - a websocket handshake: none here (the connection is hijacked; the
//     ping timeout ends a silent one);
//   - a long-polling GET: the poll cycle, after which its session is closed
//     as one whose client went away;
//   - a stream (format=jsonl export): streamIdle for each write;
//   - anything else, polling POSTs included: the request timeout, for
//     reading the body, handling and writing, and as the deadline of the
//     request's context (an /emit waiting for its ack answers 504).
func (s *Server) bounded(next http.Handler) http.Handler {
	cycle := s.cfg.PingInterval + s.cfg.PingTimeout
	limit := s.cfg.RequestTimeout
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var d time.Duration
		switch {
		case websocket.IsWebSocketUpgrade(r):
			next.ServeHTTP(w, r)
			return
		case r.Method == http.MethodGet && r.URL.Query().Get("transport") == "polling" && r.URL.Query().Has("sid"):
			d = cycle
		case r.URL.Path == "/api/events" && isStream(r.URL.Query().Get("format")):
			next.ServeHTTP(&idleWriter{ResponseWriter: w, rc: http.NewResponseController(w)}, r)
			return
		default:
			d = limit
		}
		deadline := time.Now().Add(d)
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(deadline)
		_ = rc.SetWriteDeadline(deadline.Add(time.Second)) // room to write the answer of a request timed out
		ctx, cancel := context.WithDeadline(r.Context(), deadline)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func isStream(format string) bool { return format == "jsonl" || format == "ndjson" }

// idleWriter gives each write of a stream streamIdle to complete.
type idleWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (w *idleWriter) Write(p []byte) (int, error) {
	_ = w.rc.SetWriteDeadline(time.Now().Add(streamIdle))
	return w.ResponseWriter.Write(p)
}

func (w *idleWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
