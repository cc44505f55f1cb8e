package server

import (
	"fmt"
	"net/http"
	"runtime"
	"time"
)

// handleMetrics answers GET /metrics in the Prometheus text format.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	degraded := 0
	if s.Degraded() != "" {
		degraded = 1
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	metric := func(name, typ, help string, v any) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, help, name, typ, name, v)
	}
	metric("mpmd_up", "gauge", "1 while mpmd serves.", 1)
	metric("mpmd_degraded", "gauge", "1 while the event store cannot be written.", degraded)
	metric("mpmd_uptime_seconds", "gauge", "Seconds since mpmd started.", time.Since(s.started).Seconds())
	metric("mpmd_clients", "gauge", "Connected Socket.IO namespace clients.", s.Clients())
	metric("mpmd_stored_events", "gauge", "Events in the store.", s.store.Count())
	metric("mpmd_last_seq", "counter", "Highest seq assigned.", s.store.LastSeq())
	metric("mpmd_events_broadcast_total", "counter", "Events broadcast since start.", s.delivered.Load())
	metric("mpmd_ingest_queue_length", "gauge", "Events waiting for the pipeline.", len(s.in))
	metric("mpmd_slow_clients_dropped_total", "counter", "Clients dropped for not reading.", s.dropped.Load())
	metric("mpmd_goroutines", "gauge", "Goroutines.", runtime.NumGoroutine())
	metric("mpmd_heap_alloc_bytes", "gauge", "Bytes of allocated heap objects.", ms.HeapAlloc)
}
