package server

import (
	"net/http"
	"os"
	"time"

	"github.com/mpm-dev/mpm/pkg/broadcast"
	"github.com/mpm-dev/mpm/pkg/event"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are mpmd's Prometheus metrics, on a registry of mpmd's own (not
// the global one, so tests can run many servers in one process). Names
// follow the Socket.IO ecosystem's exporters where it has them
// (socket_io_connected, socket_io_events_received_total, …), mpmd_… for
// the rest.
type metrics struct {
	reg *prometheus.Registry

	received  *prometheus.CounterVec // events stored, by namespace (producers', hooks', transcripts')
	derived   *prometheus.CounterVec // events the session model derived and stored, by namespace
	dup       *prometheus.CounterVec // events refused as already stored (same event_id)
	broadcast *prometheus.CounterVec // events broadcast, by namespace
	sent      *prometheus.CounterVec // event packets written to clients, by namespace
	commit    prometheus.Histogram   // seconds from a batch's first write to its commit
	batch     prometheus.Histogram   // requests per batch
	otlp      *prometheus.CounterVec // OTLP records by signal and outcome
	handler   http.Handler
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "socket_io_events_received_total",
			Help: "Events stored from producers (hooks, /emit, clients' emits, transcripts, OTLP), by namespace."}, []string{"namespace"}),
		derived: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mpmd_events_derived_total",
			Help: "Events the session model derived and stored, by namespace."}, []string{"namespace"}),
		dup: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mpmd_events_deduplicated_total",
			Help: "Events not stored again because their event_id was (retries, re-read transcripts), by namespace."}, []string{"namespace"}),
		broadcast: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mpmd_events_broadcast_total",
			Help: "Stored events broadcast to their namespace's clients, by namespace."}, []string{"namespace"}),
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "socket_io_events_sent_total",
			Help: "Event packets written to clients (one per client an event reached), by namespace."}, []string{"namespace"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mpmd_store_commit_seconds",
			Help:    "Time to store one batch of events, from its first write to its commit.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2.5, 12)}),
		otlp: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "mpmd_otlp_records_total",
			Help: "OpenTelemetry records received on /v1/logs, /v1/metrics, /v1/traces: accepted (log records, metric points, spans), rejected (partial success), invalid (whole requests refused)."},
			[]string{"signal", "outcome"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "mpmd_pipeline_batch_size",
			Help: "Requests stored and broadcast in one batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.received, m.derived, m.dup, m.broadcast, m.sent, m.commit, m.batch, m.otlp,
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "mpmd_slow_clients_dropped_total",
			Help: "Clients disconnected because they did not read (they reconnect and resume by seq)."},
			func() float64 { return float64(s.hub.Dropped()) }),
		gauge("mpmd_up", "1 while mpmd serves.", func() float64 { return 1 }),
		gauge("mpmd_degraded", "1 while the event store cannot be written.", func() float64 {
			if s.Degraded() != "" {
				return 1
			}
			return 0
		}),
		gauge("mpmd_uptime_seconds", "Seconds since mpmd started.", func() float64 { return time.Since(s.started).Seconds() }),
		gauge("mpmd_store_events", "Events in the store.", func() float64 { return float64(s.store.Count()) }),
		gauge("mpmd_store_last_seq", "The highest seq assigned.", func() float64 { return float64(s.store.LastSeq()) }),
		gauge("mpmd_store_bytes", "Size of the store's files on disk (0 for an in-memory store).", s.storeBytes),
		gauge("mpmd_pipeline_queue_length", "Requests waiting for the pipeline.", func() float64 { return float64(len(s.in)) }),
		gauge("mpmd_clients", "Connected Socket.IO namespace clients (all namespaces and transports; socket_io_connected has them apart).", func() float64 { return float64(s.Clients()) }),
		gauge("mpmd_sessions", "Claude Code sessions in the session model.", func() float64 { return float64(len(s.sessions.List())) }),
		gauge("mpmd_session_model_seq", "The seq of the last event the session model applied.", func() float64 { return float64(s.sessions.Seq()) }),
		&clientsCollector{s: s, desc: prometheus.NewDesc("socket_io_connected",
			"Connected Socket.IO clients, by namespace and transport.", []string{"namespace", "transport"}, nil)},
	)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// Registry is mpmd's metrics registry, for more collectors (the spool
// drain, the transcript watcher) and for the /metrics handler.
func (s *Server) Registry() *prometheus.Registry { return s.metrics.reg }

func (s *Server) storeBytes() float64 {
	p := s.store.Path()
	var n int64
	for _, f := range []string{p, p + "-wal", p + "-shm"} {
		if st, err := os.Stat(f); err == nil {
			n += st.Size()
		}
	}
	return float64(n)
}

// clientsCollector counts the connected sockets at scrape time.
type clientsCollector struct {
	s    *Server
	desc *prometheus.Desc
}

func (c *clientsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *clientsCollector) Collect(ch chan<- prometheus.Metric) {
	type key struct{ ns, transport string }
	counts := map[key]int{}
	for _, name := range event.Namespaces {
		for _, tr := range []string{"websocket", "polling"} {
			counts[key{name, tr}] = 0
		}
	}
	c.s.hub.Each(func(conn broadcast.Conn) bool {
		if conn.Namespace() == AdminNamespace {
			return true
		}
		tr := conn.Transport()
		if tr == "" {
			tr = "polling"
		}
		counts[key{conn.Namespace(), tr}]++
		return true
	})
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), k.ns, k.transport)
	}
}

// handleMetrics answers GET /metrics in the Prometheus text format.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	s.metrics.handler.ServeHTTP(w, r)
}
