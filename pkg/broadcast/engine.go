package broadcast

import (
	"net/http"

	"github.com/gorilla/websocket"
	"github.com/zishang520/socket.io/servers/engine/v3"
	"github.com/zishang520/socket.io/servers/engine/v3/transports"
	"github.com/zishang520/socket.io/servers/socket/v3"
	"github.com/zishang520/socket.io/v3/pkg/types"
)

type engineSocket = engine.Socket

// engineOptions are the Engine.IO options of mpmd's transport stack: its
// transports, cfg's settings, and the origin policy.
func engineOptions(cfg Config, up *upgrades) *socket.ServerOptions {
	opts := socket.DefaultServerOptions()
	opts.SetMaxHttpBufferSize(cfg.MaxPayload)
	opts.SetCors(engineCors(cfg.CheckOrigin))
	opts.SetAllowRequest(func(ctx *types.HttpContext) error {
		if cfg.CheckOrigin == nil {
			return nil
		}
		return cfg.CheckOrigin(ctx.Request().Header.Get("Origin"))
	})
	opts.SetPingInterval(cfg.PingInterval)
	opts.SetPingTimeout(cfg.PingTimeout)
	// mpmd's transports: long-polling that answers every request
	// (polltransport.go); websocket with one write(2) per flush and
	// broadcasts not re-encoded per client (wstransport.go)
	opts.SetTransports(types.NewSet[transports.TransportCtor](
		pollBuilder{up, cfg.PingInterval + cfg.PingTimeout}, wsBuilder{up}))
	return opts
}

// engineCors is the origin policy for the polling transport's CORS answers.
func engineCors(check func(string) error) *types.Cors {
	return &types.Cors{
		Origin:      func(o string) bool { return check == nil || check(o) == nil },
		Methods:     []string{"GET", "POST"},
		Credentials: true,
	}
}

// arriving marks a websocket upgrade request as under way from the moment
// it comes in (upgrades.arrive), so that a poll of its session sent after
// it waits for it.
func arriving(up *upgrades, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if websocket.IsWebSocketUpgrade(r) {
			if sid := r.URL.Query().Get("sid"); sid != "" {
				defer up.arrive(sid)()
			}
		}
		next.ServeHTTP(w, r)
	})
}

// EngineConn is one session of a bare Engine.IO server (EngineHandler).
type EngineConn interface {
	// OnMessage calls fn with every message the client sends.
	OnMessage(fn func(data []byte, binary bool))
	// Send sends a message.
	Send(data []byte, binary bool)
}

type engineConn struct{ s engine.Socket }

func (c engineConn) OnMessage(fn func([]byte, bool)) {
	_ = c.s.On("data", func(args ...any) {
		if len(args) == 0 {
			return
		}
		if data, ok := args[0].(types.BufferInterface); ok {
			_, str := data.(*types.StringBuffer)
			fn(data.Bytes(), !str)
		}
	})
}

func (c engineConn) Send(data []byte, binary bool) {
	var b types.BufferInterface = types.NewStringBuffer(data)
	if binary {
		b = types.NewBytesBuffer(data)
	}
	c.s.Send(b, nil, nil)
}

// EngineHandler serves a bare Engine.IO server — no Socket.IO on top —
// over mpmd's transport stack (its transports and cfg's settings and
// origin policy), calling onConnection for every new session. mpmd itself
// serves only Socket.IO; this exists for the official Engine.IO protocol
// suite (test/protocol), which needs an Engine.IO echo server.
func EngineHandler(cfg Config, onConnection func(EngineConn)) http.Handler {
	cfg = cfg.WithDefaults()
	up := newUpgrades()
	eio := engine.NewServer(engineOptions(cfg, up))
	_ = eio.On("connection", func(args ...any) {
		if s, ok := args[0].(engine.Socket); ok {
			onConnection(engineConn{s})
		}
	})
	return arriving(up, releaseOnHijack(eio))
}
