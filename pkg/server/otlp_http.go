package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/otlp"
	"github.com/mpm-dev/mpm/pkg/store"
)

// Limits of an OTLP/HTTP request body: as sent, and once decompressed.
// Claude Code's batches are a few KiB to some hundred KiB.
const (
	MaxOTLPBodyBytes    = 4 << 20
	MaxOTLPDecodedBytes = 16 << 20
)

// otlpHandler answers POST /v1/{logs,metrics,traces}: Claude Code's
// OpenTelemetry export (pkg/otlp) becomes /claude events, stored through
// the pipeline like any other.
type otlpHandler struct {
	s      *Server
	signal otlp.Signal
	dec    otlp.Decoder
	acc    *otlp.Accumulator // metrics only
}

// otlpHandler returns the handler of one signal's route: logs, metrics or traces.
func (s *Server) otlpHandler(signal string) http.Handler {
	sig := otlp.Signal(signal)
	h := &otlpHandler{s: s, signal: sig}
	if sig == otlp.Metrics {
		h.acc = &otlp.Accumulator{Seed: s.lastMetrics}
	}
	return h
}

func (h *otlpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "use POST /v1/"+string(h.signal)+" with an OTLP export request (application/x-protobuf or application/json)")
		return
	}
	enc, err := otlp.EncodingOf(r.Header.Get("Content-Type"))
	if err != nil {
		writeError(w, http.StatusUnsupportedMediaType, err.Error())
		return
	}
	body, err := otlp.ReadBody(http.MaxBytesReader(w, r.Body, MaxOTLPBodyBytes+1), r.Header.Get("Content-Encoding"), MaxOTLPBodyBytes, MaxOTLPDecodedBytes)
	if err != nil {
		h.fail(w, enc, err)
		return
	}
	evs, rej, err := h.events(body, enc)
	if err != nil {
		h.s.metrics.otlp.WithLabelValues(string(h.signal), "invalid").Inc()
		h.fail(w, enc, err)
		return
	}
	m := h.s.metrics.otlp
	m.WithLabelValues(string(h.signal), "accepted").Add(float64(len(evs.events) + len(evs.points)))
	m.WithLabelValues(string(h.signal), "rejected").Add(float64(rej.N))
	if h.acc != nil {
		var more otlp.Rejects
		more, err = h.acc.Add(evs.points, func(mevs []*event.Event) error { return h.s.ingestMany(r.Context(), mevs, &rej) })
		rej.Add(more.N, more.Msg)
	} else {
		err = h.s.ingestMany(r.Context(), evs.events, &rej)
	}
	if err != nil {
		h.fail(w, enc, err)
		return
	}
	w.Header().Set("Content-Type", enc.ContentType())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(otlp.Response(h.signal, enc, rej))
}

// decoded is what a request body holds: events (logs, traces) or points
// for the accumulator (metrics).
type decoded struct {
	events []*event.Event
	points []otlp.Point
}

// events decodes body and makes its events, counting the records that
// make none; at most Limits.MaxRecords are taken.
func (h *otlpHandler) events(body []byte, enc otlp.Encoding) (decoded, otlp.Rejects, error) {
	var out decoded
	var rej otlp.Rejects
	limit := otlp.DefaultLimits.MaxRecords
	tooMany := fmt.Sprintf("mpmd takes at most %d records per request", limit)
	add := func(ev *event.Event, err error) {
		switch {
		case err != nil:
			rej.Add(1, err.Error())
		case len(out.events) >= limit:
			rej.Add(1, tooMany)
		default:
			out.events = append(out.events, ev)
		}
	}
	switch h.signal {
	case otlp.Logs:
		recs, err := h.dec.Logs(body, enc)
		if err != nil {
			return out, rej, err
		}
		for _, rec := range recs {
			add(rec.Event())
		}
	case otlp.Traces:
		spans, err := h.dec.Traces(body, enc)
		if err != nil {
			return out, rej, err
		}
		for _, sp := range spans {
			add(sp.Event())
		}
	case otlp.Metrics:
		pts, prej, err := h.dec.Metrics(body, enc)
		if err != nil {
			return out, rej, err
		}
		rej = prej
		if len(pts) > limit {
			rej.Add(int64(len(pts)-limit), tooMany)
			pts = pts[:limit]
		}
		out.points = pts
	}
	return out, rej, nil
}

// fail answers an error the OTLP way: a google.rpc.Status in the request's
// encoding, with the status code OTLP exporters act on (400 and 413 are
// not retried; 503 is, after Retry-After).
func (h *otlpHandler) fail(w http.ResponseWriter, enc otlp.Encoding, err error) {
	code, rpc := http.StatusInternalServerError, otlp.CodeInternal
	var tl *otlp.TooLargeError
	var mbe *http.MaxBytesError
	var inv *otlp.InvalidError
	switch {
	case errors.As(err, &tl), errors.As(err, &mbe):
		code, rpc = http.StatusRequestEntityTooLarge, otlp.CodeInvalidArgument
		if mbe != nil {
			err = &otlp.TooLargeError{Limit: MaxOTLPBodyBytes}
		}
	case errors.Is(err, otlp.ErrUnsupportedMediaType):
		code, rpc = http.StatusUnsupportedMediaType, otlp.CodeInvalidArgument
	case errors.As(err, &inv):
		if inv.Signal == "" {
			inv.Signal = h.signal
		}
		code, rpc = http.StatusBadRequest, otlp.CodeInvalidArgument
	default:
		code = statusOf(err)
		if code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout {
			rpc = otlp.CodeUnavailable
			code = http.StatusServiceUnavailable // what OTLP exporters retry
			w.Header().Set("Retry-After", "2")
		}
		err = errors.New(describe(err))
	}
	// The exporter drops or retries the request; either way its records are
	// not here, which the user sees only in this line.
	h.s.log.Warn("OTLP export request refused", "signal", string(h.signal), "status", code, "err", err.Error())
	w.Header().Set("Content-Type", enc.ContentType())
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(otlp.Status(enc, rpc, err.Error()))
}

// ingestMany runs evs through the pipeline, queued in their order so that
// they are stored in few transactions, and waits for all of them. An event
// refused for what it is counts in rej; the first other error (the store
// failing, the queue full) is returned: the exporter should send the whole
// request again, and the events already stored are not stored twice (their
// ids come from the records).
func (s *Server) ingestMany(ctx context.Context, evs []*event.Event, rej *otlp.Rejects) error {
	if len(evs) == 0 {
		return nil
	}
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	wg.Add(len(evs))
	for _, ev := range evs {
		if ctx.Err() != nil {
			wg.Done()
			continue
		}
		s.ingestAsync(ev, func(_ Result, err error) {
			defer wg.Done()
			if err == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			var in *InputError
			if errors.As(err, &in) {
				rej.Add(1, err.Error())
			} else if firstErr == nil {
				firstErr = err
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return firstErr
}

// lastMetrics is the data of the last /claude metrics event stored for a
// session: where the accumulator's totals go on from after a restart.
func (s *Server) lastMetrics(sessionID string) map[string]any {
	f := store.Filter{Namespace: otlp.Namespace, Event: "metrics", SessionID: sessionID, Desc: true, Limit: 1}
	evs, err := s.store.Query(context.Background(), f)
	if err != nil {
		s.log.Warn("could not read the last metrics of a session; its totals start again", "session_id", sessionID, "err", err)
	}
	if len(evs) == 0 {
		return nil
	}
	return evs[0].Data
}
