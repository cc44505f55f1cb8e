package server

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/mpm-dev/mpm/pkg/store"
)

// The ingest path's cost per event, for `make bench` (go test -bench
// -benchmem): a regression in allocations or time per stored and acked
// event shows here (docs/PERFORMANCE.md, "Ingest"). Both run producers in
// parallel, so the pipeline's group commit forms batches as under load, on
// a store file in a temp dir (WAL, as mpmd runs it), with no consumer.

// benchServer is a server on a fresh store file, stopped at the end.
func benchServer(b *testing.B) *Server {
	b.Helper()
	st, err := store.Open(filepath.Join(b.TempDir(), "events.db"))
	if err != nil {
		b.Fatal(err)
	}
	s := New(Config{Heartbeat: time.Hour}, st, nil)
	b.Cleanup(func() {
		s.closing.Store(true)
		close(s.stopped)
		<-s.pipelineDone
		st.Close()
	})
	return s
}

// benchPayload is the data of a PreToolUse hook event, as the benchmark's
// producers send it (~300 bytes), with a unique event_id.
func benchPayload(b []byte, seq int64) []byte {
	b = append(b, `{"event_id":"bench-`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `","session_id":"bench-session-0001","hook_event_name":"PreToolUse","tool_name":"Bash","tool_input":{"command":"go test -count=1 ./...","description":"Run the test suite"},"tool_use_id":"toolu_bench_`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `","cwd":"/home/dev/project","sent_ns":1764800000000000000}`...)
	return b
}

// nopWriter is the least a ResponseWriter can be, so the benchmark counts
// mpmd's allocations, not a recorder's.
type nopWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) WriteHeader(code int)        { w.code = code }
func (w *nopWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// The deadlines bounded sets on every request (net/http's answer is an
// error value made per call when they are missing).
func (w *nopWriter) SetReadDeadline(time.Time) error  { return nil }
func (w *nopWriter) SetWriteDeadline(time.Time) error { return nil }

// BenchmarkIngestEmit is one POST /emit through mpmd's whole handler
// (host check, CORS, auth, parse, pipeline, answer), without the network:
// what each request costs beyond net/http's own reading and writing. The
// request value and its body reader (3 allocations) are the benchmark's.
func BenchmarkIngestEmit(b *testing.B) {
	s := benchServer(b)
	h := s.Handler()
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16) // 16 × GOMAXPROCS requests in flight, as many HTTP producers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		body := make([]byte, 0, 512)
		w := &nopWriter{h: http.Header{}}
		for pb.Next() {
			body = append(body[:0], `{"namespace":"hook","event":"bench","data":`...)
			body = benchPayload(body, seq.Add(1))
			body = append(body, '}')
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://127.0.0.1/emit", bytes.NewReader(body))
			req.Host = "127.0.0.1"
			req.RemoteAddr = "127.0.0.1:40000"
			clear(w.h)
			w.code = 0
			h.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				b.Fatalf("status %d", w.code)
			}
		}
	})
}

// BenchmarkIngestHook is one event as a Socket.IO producer's emit reaches
// the server (data decoded by the library, then onClientEvent's ingest):
// admit, queue, store, commit, ack callback. The decoded map is the
// benchmark's (the library makes it).
func BenchmarkIngestHook(b *testing.B) {
	s := benchServer(b)
	var seq atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(64)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		done := make(chan error, 1)
		cb := func(_ Result, err error) { done <- err }
		for pb.Next() {
			n := seq.Add(1)
			data := map[string]any{
				"event_id": "bench-" + strconv.FormatInt(n, 10), "session_id": "bench-session-0001",
				"hook_event_name": "PreToolUse", "tool_name": "Bash",
				"tool_input":  map[string]any{"command": "go test -count=1 ./...", "description": "Run the test suite"},
				"tool_use_id": "toolu_bench", "cwd": "/home/dev/project", "sent_ns": 1.7648e18,
			}
			s.ingestAsync(&event.Event{Namespace: "/hook", Name: "bench", Data: data}, cb)
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
	})
}
