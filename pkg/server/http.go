package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/store"
)

const (
	serverName   = "claude-mpm-socketio"
	defaultLimit = 1000
	maxJSONLimit = 10000
)

// routes registers the HTTP API beside the Socket.IO handler.
func (s *Server) routes(mux *http.ServeMux) {
	mux.Handle("/socket.io/", s.hub.Handler())
	mux.Handle("GET /health", s.cors(http.HandlerFunc(s.handleHealth)))
	mux.Handle("/emit", s.cors(s.auth(http.HandlerFunc(s.handleEmit))))
	mux.Handle("/api/events", s.cors(s.auth(http.HandlerFunc(s.handleEvents))))
	mux.Handle("GET /api/sessions", s.cors(s.auth(http.HandlerFunc(s.handleSessions))))
	mux.Handle("GET /api/sessions/{id}", s.cors(s.auth(http.HandlerFunc(s.handleSession))))
	mux.Handle("GET /api/sessions/{id}/transcript", s.cors(s.auth(http.HandlerFunc(s.handleTranscript))))
	mux.Handle("GET /api/sessions/{id}/tools", s.cors(s.auth(http.HandlerFunc(s.handleTools))))
	mux.Handle("GET /metrics", s.cors(s.auth(http.HandlerFunc(s.handleMetrics))))
	mux.Handle("/v1/logs", s.cors(s.auth(s.otlpHandler("logs"))))
	mux.Handle("/v1/metrics", s.cors(s.auth(s.otlpHandler("metrics"))))
	mux.Handle("/v1/traces", s.cors(s.auth(s.otlpHandler("traces"))))
	if s.cfg.Admin != nil {
		mux.Handle("GET /admin", http.RedirectHandler("/admin/", http.StatusMovedPermanently))
		ui := s.cfg.AdminUI
		if ui == nil {
			ui = http.HandlerFunc(s.handleNoAdminUI)
		}
		mux.Handle("/admin/", s.cors(http.StripPrefix("/admin", ui)))
	}
	if s.cfg.Dashboard != nil {
		mux.Handle("/", s.cors(s.cfg.Dashboard))
	} else {
		mux.Handle("/", s.cors(http.HandlerFunc(s.handleNoDashboard)))
	}
}

// writeJSON writes v with status code; the one place JSON responses are made.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes {"error": msg} with code.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// statusOf maps pipeline errors to HTTP statuses.
func statusOf(err error) int {
	var in *InputError
	var se *StoreError
	switch {
	case errors.As(err, &in):
		return http.StatusBadRequest
	case errors.As(err, &se), errors.Is(err, ErrOverloaded), errors.Is(err, ErrShuttingDown):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// handleHealth answers GET /health: liveness and what auto-detection keys on
// (the server field). It needs no token: it tells nothing secret.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if s.Degraded() != "" && s.store.Ping(r.Context()) == nil {
		s.setHealthy() // the disk came back; nobody has written since
	}
	h := map[string]any{
		"status":         s.healthStatus(),
		"server":         serverName,
		"timestamp":      event.FormatTime(time.Now()),
		"version":        s.cfg.Version,
		"pid":            os.Getpid(),
		"host":           s.cfg.Host,
		"port":           s.cfg.Port,
		"uptime_seconds": time.Since(s.started).Seconds(),
		"clients":        s.Clients(),
		"stored_events":  s.store.Count(),
		"last_seq":       s.store.LastSeq(),
		"token_required": s.cfg.Token != "",
	}
	if reason := s.Degraded(); reason != "" {
		h["reason"] = reason
	}
	if s.cfg.Log != nil {
		h["cluster"] = s.cfg.Log.Health()
	}
	if sess, ok := s.sessions.Latest(); ok {
		h["session_id"] = sess.ID
		h["claude_status"] = sess.Status
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *Server) healthStatus() string {
	if s.Degraded() != "" {
		return "degraded"
	}
	return "healthy"
}

// MaxBodyBytes bounds a POST /emit body.
const MaxBodyBytes = 1 << 20

// handleEmit answers POST /emit {"namespace","event","data"}: the event is
// stored and broadcast; the answer is its seq and event_id. The body is read
// as JSON whatever the Content-Type, so the guide's bare `curl -d` works.
func (s *Server) handleEmit(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "use POST /emit with a JSON body {\"namespace\": …, \"event\": …, \"data\": {…}}")
		return
	}
	raw := r.Body
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			// Read (a bounded amount of) the rest, so a client still sending
			// gets to read this answer instead of a reset connection.
			_, _ = io.CopyN(io.Discard, raw, 8*MaxBodyBytes)
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes))
			return
		}
		writeError(w, http.StatusBadRequest, "could not read the request body: "+err.Error())
		return
	}
	ev, err := parseEmit(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := s.Ingest(r.Context(), ev)
	if err != nil {
		writeJSON(w, statusOf(err), errorBody(err))
		return
	}
	writeResult(w, res)
}

// Header values shared by every /emit answer (net/http only reads them).
var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
)

// writeResult answers a stored event: what writeJSON writes for res, byte
// for byte (tested), built without reflection and written with one Write —
// the answer every /emit request gets.
func writeResult(w http.ResponseWriter, res Result) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	var arr [160]byte
	b := appendResult(arr[:0], res)
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// appendResult appends res as json.Encoder writes it (with its newline).
func appendResult(b []byte, res Result) []byte {
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, res.Seq, 10)
	b = append(b, `,"event_id":`...)
	b, _ = event.AppendJSON(b, res.EventID)
	b = append(b, `,"duplicate":`...)
	b = strconv.AppendBool(b, res.Duplicate)
	if res.Pending {
		b = append(b, `,"pending":true`...)
	}
	return append(b, "}\n"...)
}

// parseEmit turns a /emit body into an event, or says what is wrong with it.
// The body is decoded once (numbers kept exact), straight into the map the
// event's data is taken from: the request's one pass of JSON decoding
// (docs/PERFORMANCE.md, "Ingest").
func parseEmit(body []byte) (*event.Event, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errors.New(`request body is empty: send {"namespace": "system", "event": "…", "data": {…}}`)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // keep large integers exact
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("request body is not valid JSON: %v", err)
	}
	// dec.More is false before a stray '}' or ']', so look at the bytes.
	if rest := bytes.TrimSpace(body[dec.InputOffset():]); len(rest) > 0 {
		return nil, errors.New("request body has data after the JSON object")
	}
	b, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New(`request body must be a JSON object {"namespace": …, "event": …, "data": {…}}`)
	}
	nsv, present := b["namespace"]
	if !present || nsv == nil || nsv == "" {
		return nil, fmt.Errorf(`"namespace" is required: one of %s`, strings.Join(event.Namespaces, ", "))
	}
	nss, ok := nsv.(string)
	if !ok {
		return nil, fmt.Errorf(`request body does not have the expected fields: "namespace" must be a string, got %s`, jsonType(nsv))
	}
	ns, err := event.NormalizeNamespace(nss)
	if err != nil {
		return nil, err
	}
	ev, present := b["event"]
	if !present || ev == nil {
		return nil, errors.New(`"event" is required: the event's name, a string`)
	}
	name, ok := ev.(string)
	if !ok {
		return nil, errors.New(`"event" must be a string`)
	}
	if err := event.ValidateName(name); err != nil {
		return nil, err
	}
	var id string
	if idv, present := b["event_id"]; present && idv != nil {
		if id, ok = idv.(string); !ok {
			return nil, fmt.Errorf(`request body does not have the expected fields: "event_id" must be a string, got %s`, jsonType(idv))
		}
	}
	data := map[string]any{}
	if dv, present := b["data"]; present {
		d, ok := dv.(map[string]any)
		if !ok {
			return nil, fmt.Errorf(`"data" must be a JSON object, got %s`, jsonType(dv))
		}
		data = d
	}
	return &event.Event{Namespace: ns, Name: name, Data: data, ID: id}, nil
}

// handleEvents answers GET /api/events: stored events by filter, as
// {"events": […]} or, with format=jsonl, one JSON object a line (export).
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, "use GET /api/events")
		return
	}
	q := r.URL.Query()
	f, err := parseFilter(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch q.Get("format") {
	case "", "json":
	case "jsonl", "ndjson":
		// The headers go with the first line: a query that fails before
		// it is answered with an error, never an empty 200.
		var line []byte
		written := false
		err := s.store.EachRaw(r.Context(), f, func(e *store.Raw) error {
			var err error
			if line, err = appendRawEvent(line[:0], e); err != nil {
				return err
			}
			if !written {
				w.Header().Set("Content-Type", "application/x-ndjson")
				w.Header().Set("Content-Disposition", `attachment; filename="mpm-events.jsonl"`)
				written = true
			}
			_, err = w.Write(append(line, '\n'))
			return err
		})
		switch {
		case err == nil && !written:
			w.Header().Set("Content-Type", "application/x-ndjson")
			w.Header().Set("Content-Disposition", `attachment; filename="mpm-events.jsonl"`)
			w.WriteHeader(http.StatusOK)
		case err != nil && !written:
			s.log.Warn("export failed", "err", err)
			writeQueryError(w, r, err)
		case err != nil:
			// Part of it is sent: break the response off (no final
			// chunk), so the client sees an export cut short, not a
			// complete one.
			s.log.Warn("export stopped", "err", err)
			panic(http.ErrAbortHandler)
		}
		return
	default:
		writeError(w, http.StatusBadRequest, "format must be json or jsonl")
		return
	}
	if f.Limit == 0 {
		f.Limit = defaultLimit
	}
	if f.Limit > maxJSONLimit {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("limit must be at most %d; use format=jsonl to export more", maxJSONLimit))
		return
	}
	// The events' JSON one after another, and where each ends: a page
	// asked newest first is written oldest first.
	bp := pageBufs.Get().(*pageBuf)
	defer pageBufs.Put(bp)
	body, ends := bp.body[:0], bp.ends[:0]
	err = s.store.EachRaw(r.Context(), f, func(e *store.Raw) error {
		var err error
		body, err = appendRawEvent(body, e)
		ends = append(ends, len(body))
		return err
	})
	if cap(body) <= 4<<20 { // keep a usual page's buffers, not an outsized one
		bp.body, bp.ends = body, ends
	}
	if err != nil {
		writeQueryError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(`{"events":[`)
	for i := range ends {
		j := i
		if f.Desc {
			j = len(ends) - 1 - i
		}
		lo := 0
		if j > 0 {
			lo = ends[j-1]
		}
		if i > 0 {
			bw.WriteByte(',')
		}
		bw.Write(body[lo:ends[j]])
	}
	bw.WriteString(`],"last_seq":`)
	bw.WriteString(strconv.FormatInt(s.store.LastSeq(), 10))
	bw.WriteString("}\n")
	_ = bw.Flush()
}

// writeQueryError answers a history query that failed: 503 when it ran
// out of the request's time (its statement interrupted), 500 otherwise.
func writeQueryError(w http.ResponseWriter, r *http.Request, err error) {
	// (The request's context may be cancelled rather than past its
	// deadline: the connection's read deadline, the same instant, ends it.)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || r.Context().Err() != nil {
		writeError(w, http.StatusServiceUnavailable, "the query took longer than a request may (it was stopped): narrow it with session_id, since_seq/until_seq or a time range, or retry")
		return
	}
	writeError(w, http.StatusInternalServerError, "could not read the event store: "+err.Error())
}

// pageBuf holds one /api/events page as it is written.
type pageBuf struct {
	body []byte
	ends []int
}

var pageBufs = sync.Pool{New: func() any { return &pageBuf{body: make([]byte, 0, 1<<20), ends: make([]int, 0, 1024)} }}

// parseFilter reads the history filter from query parameters.
func parseFilter(q url.Values) (store.Filter, error) {
	var f store.Filter
	if ns := q.Get("namespace"); ns != "" {
		n, err := event.NormalizeNamespace(ns)
		if err != nil {
			return f, err
		}
		f.Namespace = n
	}
	f.Event = q.Get("event")
	f.SessionID = q.Get("session_id")
	f.Q = q.Get("q")
	var err error
	intParam := func(name string, dst *int64) {
		if v := q.Get(name); v != "" && err == nil {
			n, perr := strconv.ParseInt(v, 10, 64)
			if perr != nil || n < 0 {
				err = fmt.Errorf("%s must be a non-negative integer, got %q", name, v)
				return
			}
			*dst = n
		}
	}
	timeParam := func(name string, dst *time.Time) {
		if v := q.Get(name); v != "" && err == nil {
			t, perr := time.Parse(time.RFC3339Nano, v)
			if perr != nil {
				err = fmt.Errorf("%s must be an RFC 3339 time such as 2025-01-31T14:30:52Z, got %q", name, v)
				return
			}
			*dst = t
		}
	}
	var limit int64
	intParam("since_seq", &f.SinceSeq)
	intParam("until_seq", &f.UntilSeq)
	intParam("limit", &limit)
	timeParam("since", &f.Since)
	timeParam("until", &f.Until)
	if err != nil {
		return f, err
	}
	f.Limit = int(limit)
	switch q.Get("order") {
	case "", "asc":
	case "desc":
		f.Desc = true
	default:
		return f, fmt.Errorf("order must be asc or desc, got %q", q.Get("order"))
	}
	return f, nil
}

func (s *Server) handleNoDashboard(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		writeError(w, http.StatusNotFound, "no such route: "+r.URL.Path)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintln(w, "mpmd is running, but this binary was built without the dashboard: run `make build` to build it.")
}

func (s *Server) handleNoAdminUI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintln(w, "mpmd is running, but this binary was built without the Admin UI: run `make build` to build it.")
}
