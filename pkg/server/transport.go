package server

import (
	"net/http"
	"time"

	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

// Defaults of the transport settings (Config.PingInterval …).
const (
	DefaultPingInterval   = 20 * time.Second
	DefaultPingTimeout    = 20 * time.Second
	DefaultMaxPayload     = MaxBodyBytes
	DefaultConnectTimeout = socket.DefaultConnectTimeout
)

// withTransportDefaults fills the transport settings left at zero.
func (c Config) withTransportDefaults() Config {
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	return c
}

// engineOptions are the Engine.IO options of mpmd's transport stack: its
// transports, the settings of s.cfg, and the origin policy.
func (s *Server) engineOptions() *socket.ServerOptions {
	opts := socket.DefaultServerOptions()
	opts.SetMaxHttpBufferSize(s.cfg.MaxPayload)
	opts.SetCors(s.engineCors())
	opts.SetAllowRequest(s.allowRequest)
	opts.SetPingInterval(s.cfg.PingInterval)
	opts.SetPingTimeout(s.cfg.PingTimeout)
	// mpmd's transports: long-polling that answers every request
	// (polltransport.go); websocket with one write(2) per flush and
	// broadcasts not re-encoded per client (wstransport.go)
	s.upgrades = newUpgrades()
	opts.SetTransports(types.NewSet[transports.TransportCtor](
		pollBuilder{s.upgrades, s.cfg.PingInterval + s.cfg.PingTimeout}, wsBuilder{s.upgrades}))
	return opts
}

// EngineHandler serves a bare Engine.IO server — no Socket.IO on top — over
// mpmd's transport stack (its transports, cfg's transport settings and
// origin policy, and the HTTP handling of Handler), calling onConnection for
// every new session. mpmd itself serves only Socket.IO; this exists for the
// official Engine.IO protocol suite (test/protocol), which needs an
// Engine.IO echo server.
func EngineHandler(cfg Config, onConnection func(engine.Socket)) http.Handler {
	s := &Server{cfg: cfg.withTransportDefaults()}
	eio := engine.NewServer(s.engineOptions())
	_ = eio.On("connection", func(args ...any) {
		if sock, ok := args[0].(engine.Socket); ok {
			onConnection(sock)
		}
	})
	return s.hostCheck(s.bounded(releaseOnHijack(eio)))
}

// EngineServer is the http.Server for EngineHandler, with mpmd's timeouts.
func EngineServer(h http.Handler) *http.Server { return httpServer(h) }
