// Package server is mpmd: the Socket.IO server with its eight namespaces, the
// event pipeline every producer goes through (validate → seq → store → derive
// → broadcast), replay and session rooms, the HTTP API (/health, /emit,
// /api/events), authentication and the origin policy. It speaks Socket.IO
// only through pkg/broadcast, mpmd's one seam to the Socket.IO library.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mpm-dev/mpm/pkg/admin"
	"github.com/mpm-dev/mpm/pkg/broadcast"
	"github.com/mpm-dev/mpm/pkg/session"
	"github.com/mpm-dev/mpm/pkg/store"
)

// Config is what mpmd is told at start.
type Config struct {
	Host        string   // for reporting (status, /health)
	Port        int      // for reporting
	Token       string   // when set, every namespace and API route requires it
	CORSOrigins []string // browser origins allowed besides loopback ones; "*" allows all
	Version     string

	Heartbeat      time.Duration // /system heartbeat interval (0: 30 s)
	RetentionAge   time.Duration // delete events older than this (0: keep)
	RetentionCount int64         // keep at most this many events (0: no limit)

	Dashboard http.Handler // served at /; nil serves a note on how to build it

	// Admin, when set, serves the Socket.IO Admin UI: its protocol on the
	// /admin namespace (pkg/admin; Admin.Token defaults to Token) and
	// AdminUI, its page, at /admin/. It must Validate; New leaves the
	// Admin UI out, with an error logged, when it does not.
	Admin   *admin.Config
	AdminUI http.Handler // nil serves a note on how to build it
	// AdminCluster, in a cluster, wraps this node's Admin UI host into one
	// that sees and acts on every node (pkg/cluster's AdminHost.Wrap); nil:
	// this node alone.
	AdminCluster func(local admin.Host) admin.Host

	MaxBacklog int // packets waiting for one client before it is dropped (0: DefaultMaxBacklog)

	Pricer      session.Pricer     // prices API usage for the session model (nil: costs unknown unless Claude Code reports them)
	Transcripts TranscriptFollower // told of every transcript a session names (nil: none are read)
	Log         EventLog           // the cluster log (pkg/cluster) that gives seqs; nil: the local store does (eventlog.go)

	// ModelBuild names the code that derives the session model (mpmd's
	// version and binary, the prices): when set, the model is saved in the
	// store now and then and when mpmd stops, and a start with the same
	// ModelBuild restores it and replays only the events after it instead
	// of every stored event (sessionfeed.go). Empty: always replay.
	ModelBuild string

	// Engine.IO and Socket.IO transport settings (0: the default named).
	PingInterval   time.Duration // between the server's pings (DefaultPingInterval)
	PingTimeout    time.Duration // how long a pong may take (DefaultPingTimeout)
	MaxPayload     int64         // bytes of one message or polling POST from a client (DefaultMaxPayload)
	ConnectTimeout time.Duration // how long a connection may stay without a namespace (DefaultConnectTimeout)
	RequestTimeout time.Duration // bounds an HTTP request that is not a long poll, websocket or stream (DefaultRequestTimeout)

	// Setup, when set, is called once with the Socket.IO hub after mpmd
	// has set up its namespaces: a program that embeds mpmd's server (the
	// protocol test server, test/protocol) adds its own handlers there
	// (Hub.Handle).
	Setup func(hub *broadcast.Hub)
}

// Server is a running mpmd. Create it with New; serve with Run.
type Server struct {
	cfg      Config
	log      *slog.Logger
	store    *store.Store
	sessions *session.Model
	stream   stream
	metrics  *metrics

	hub   *broadcast.Hub // Socket.IO: every use of the library is behind it
	admin *adminHost     // the Admin UI's namespace (adminhost.go); nil without one
	mux   *http.ServeMux

	in           chan *request
	stopped      chan struct{} // closed when the pipeline must drain and stop
	pipelineDone chan struct{}
	acks         chan []ack // answers of committed batches, for the acker (pipeline.go)
	ackerDone    chan struct{}
	bmu          sync.Mutex // held by the pipeline from commit through broadcast
	closing      atomic.Bool

	started   time.Time
	delivered atomic.Int64
	degraded  atomic.Pointer[string]

	snapBroken atomic.Bool // an event's derived events were not stored: no snapshot of the model this run
}

// New builds a server on an open store. It does not listen; see Run.
func New(cfg Config, st *store.Store, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	if cfg.MaxBacklog <= 0 {
		cfg.MaxBacklog = DefaultMaxBacklog
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 30 * time.Second
	}
	cfg = cfg.withTransportDefaults()
	s := &Server{
		cfg:          cfg,
		log:          log,
		store:        st,
		in:           make(chan *request, queueSize),
		stopped:      make(chan struct{}),
		pipelineDone: make(chan struct{}),
		acks:         make(chan []ack, ackQueue),
		ackerDone:    make(chan struct{}),
		started:      time.Now(),
	}
	s.sessions = session.New(cfg.Pricer, session.Limits{})
	s.metrics = newMetrics(s)

	s.hub = broadcast.New(s.hubConfig())
	s.setupNamespaces()
	if cfg.Setup != nil {
		cfg.Setup(s.hub)
	}

	s.mux = http.NewServeMux()
	s.routes(s.mux)
	if cfg.Admin != nil {
		if err := s.setupAdmin(*cfg.Admin); err != nil {
			log.Error("the Admin UI is off", "err", err)
		}
	}
	go s.acker()
	go s.pipeline()
	return s
}

// Clients counts the connected namespace clients (the Admin UI's own
// sockets left out). The hub counts the sockets in the library's
// namespaces whose connection is not closed: a counter of our own drifted
// (the library can report one socket's disconnect twice, or before a
// connection handler could listen for it).
func (s *Server) Clients() int {
	n := 0
	s.hub.Each(func(c broadcast.Conn) bool {
		if c.Namespace() != AdminNamespace {
			n++
		}
		return true
	})
	return n
}

// Handler is mpmd's whole HTTP surface (Socket.IO, API, dashboard).
func (s *Server) Handler() http.Handler { return s.hostCheck(s.bounded(s.mux)) }

// ShutdownTimeout bounds how long Run takes to stop once ctx ends.
const ShutdownTimeout = 4 * time.Second

// Run serves on ln until ctx ends, then stops accepting, disconnects every
// client, finishes the events already accepted and returns. The caller owns
// ln's address; Run closes it. The store is left open for the caller.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	// The session model is complete before the first request is served:
	// the API never shows a half-rebuilt picture.
	bg, stopBG := context.WithCancel(context.Background())
	sub := s.stream.subscribe(1024)
	head, replayed, err := s.rebuildSessions(bg)
	if err != nil {
		stopBG()
		ln.Close()
		return fmt.Errorf("rebuild the session model from the store: %w", err)
	}

	hs := httpServer(s.Handler())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	var wg sync.WaitGroup
	if s.cfg.Log != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.runLog(bg) }()
	}
	wg.Add(5)
	go func() { defer wg.Done(); s.runAdmin(bg) }()
	go func() { defer wg.Done(); s.followSessions(bg, sub, head, replayed) }()
	go func() { defer wg.Done(); s.heartbeatLoop(bg) }()
	go func() { defer wg.Done(); s.hub.Run(bg) }() // the zombie sweep
	go func() { defer wg.Done(); s.retentionLoop(bg) }()

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	stopBG()
	wg.Wait()

	// Producers arriving from now on are refused (503, error acks): mpm-hook
	// spools, and nothing is acked that is not stored.
	s.closing.Store(true)
	deadline := time.Now().Add(ShutdownTimeout)

	// 1. Stop accepting. In-flight requests (an /emit waiting for its ack) get
	// a moment; a long-poll would hold Shutdown for its whole interval, so
	// after the moment the rest are cut.
	hctx, hcancel := context.WithTimeout(context.Background(), ShutdownTimeout/3)
	if err := hs.Shutdown(hctx); err != nil {
		_ = hs.Close()
	}
	hcancel()

	// 2. Finish the events already accepted (stored and delivered).
	close(s.stopped)
	select {
	case <-s.pipelineDone:
	case <-time.After(time.Until(deadline) - ShutdownTimeout/4):
		s.log.Warn("stopping before every queued event was stored; they were never acked, so their producers retry")
	}

	// 3. Disconnect every client.
	done := make(chan struct{})
	go func() { s.hub.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(deadline)):
		s.log.Warn("not every client closed in time")
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// every calls fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

func (s *Server) heartbeatLoop(ctx context.Context) {
	every(ctx, s.cfg.Heartbeat, func() {
		s.sendDirect(&direct{ns: "/system", name: "heartbeat", payload: s.heartbeat})
	})
}

func (s *Server) retentionLoop(ctx context.Context) {
	if s.cfg.RetentionAge <= 0 && s.cfg.RetentionCount <= 0 {
		return
	}
	prune := func() {
		n, err := s.store.Prune(ctx, s.cfg.RetentionAge, s.cfg.RetentionCount)
		if err != nil && ctx.Err() == nil {
			s.log.Warn("retention failed", "err", err)
		} else if n > 0 {
			s.log.Debug("retention deleted old events", "deleted", n)
		}
	}
	prune()
	every(ctx, 5*time.Minute, prune)
}
