package server

import (
	"net/http"
	"time"

	"github.com/mpm-dev/mpm/pkg/broadcast"
)

// Defaults of the transport settings (Config.PingInterval …).
const (
	DefaultPingInterval = 20 * time.Second
	DefaultPingTimeout  = 20 * time.Second
	DefaultMaxPayload   = MaxBodyBytes
	// DefaultMaxBacklog is how many packets may wait for one slow client
	// before mpmd drops it (broadcast.DefaultMaxBacklog).
	DefaultMaxBacklog     = broadcast.DefaultMaxBacklog
	DefaultConnectTimeout = broadcast.DefaultConnectTimeout
)

// withTransportDefaults fills the transport settings left at zero: the
// hub's own defaults (broadcast.Config.WithDefaults), and the request timeout.
func (c Config) withTransportDefaults() Config {
	b := broadcast.Config{PingInterval: c.PingInterval, PingTimeout: c.PingTimeout,
		MaxPayload: c.MaxPayload, ConnectTimeout: c.ConnectTimeout}.WithDefaults()
	c.PingInterval, c.PingTimeout, c.MaxPayload, c.ConnectTimeout = b.PingInterval, b.PingTimeout, b.MaxPayload, b.ConnectTimeout
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	return c
}

// hubConfig is the Socket.IO hub's configuration: the transport settings
// of s.cfg and the origin policy.
func (s *Server) hubConfig() broadcast.Config {
	return broadcast.Config{
		PingInterval:   s.cfg.PingInterval,
		PingTimeout:    s.cfg.PingTimeout,
		MaxPayload:     s.cfg.MaxPayload,
		ConnectTimeout: s.cfg.ConnectTimeout,
		MaxBacklog:     s.cfg.MaxBacklog,
		CheckOrigin:    s.checkOrigin,
		Log:            s.log,
	}
}

// EngineHandler serves a bare Engine.IO server — no Socket.IO on top — over
// mpmd's transport stack (broadcast.EngineHandler: its transports, cfg's
// transport settings and origin policy), with the HTTP handling of Handler,
// calling onConnection for every new session. mpmd itself serves only
// Socket.IO; this exists for the official Engine.IO protocol suite
// (test/protocol), which needs an Engine.IO echo server.
func EngineHandler(cfg Config, onConnection func(broadcast.EngineConn)) http.Handler {
	s := &Server{cfg: cfg.withTransportDefaults()}
	return s.hostCheck(s.bounded(broadcast.EngineHandler(s.hubConfig(), onConnection)))
}

// EngineServer is the http.Server for EngineHandler, with mpmd's timeouts.
func EngineServer(h http.Handler) *http.Server { return httpServer(h) }
