// Command server is the protocol test server: mpmd's transport stack with
// the reference handlers of the official Engine.IO and Socket.IO protocol
// test suites (test/protocol/README.md), which mpmd itself does not have.
//
// It listens twice on loopback, with the suites' reference settings
// (pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1,000,000,
// connectTimeout 1 s, any origin):
//
//   - engine: a bare Engine.IO server over mpmd's transports at /engine.io/
//     (server.EngineHandler) that echoes every message, for the Engine.IO suite;
//   - socket: mpmd's whole server (server.New, served by Server.Run) whose
//     Socket.IO root namespace also has the Socket.IO suite's handlers (emit
//     "auth", echo "message" as "message-back", answer "message-with-ack"),
//     plus a "/custom" namespace that emits "auth".
//
// It prints "engine URL" and "socket URL" lines on stdout once both listen,
// and stops on SIGTERM or SIGINT.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mpm-dev/mpm/pkg/broadcast"
	"github.com/mpm-dev/mpm/pkg/server"
	"github.com/mpm-dev/mpm/pkg/store"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "protocol server:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg := server.Config{Host: "127.0.0.1", CORSOrigins: []string{"*"}, Version: "protocol-test"}
	flag.DurationVar(&cfg.PingInterval, "ping-interval", 300*time.Millisecond, "Engine.IO pingInterval")
	flag.DurationVar(&cfg.PingTimeout, "ping-timeout", 200*time.Millisecond, "Engine.IO pingTimeout")
	flag.Int64Var(&cfg.MaxPayload, "max-payload", 1e6, "Engine.IO maxPayload")
	flag.DurationVar(&cfg.ConnectTimeout, "connect-timeout", time.Second, "Socket.IO connectTimeout")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	st, err := store.Open(store.Memory)
	if err != nil {
		return err
	}
	defer st.Close()
	socketLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	engineLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	cfg.Port = socketLn.Addr().(*net.TCPAddr).Port
	cfg.Setup = socketHandlers
	srv := server.New(cfg, st, log)

	hs := server.EngineServer(server.EngineHandler(cfg, echo))
	engineErr := make(chan error, 1)
	go func() { engineErr <- hs.Serve(engineLn) }()
	fmt.Printf("engine http://%s\nsocket http://%s\n", engineLn.Addr(), socketLn.Addr())

	err = srv.Run(ctx, socketLn)
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if herr := hs.Shutdown(sctx); herr != nil {
		_ = hs.Close()
	}
	if herr := <-engineErr; !errors.Is(herr, http.ErrServerClosed) && err == nil {
		err = herr
	}
	return err
}

// echo is the Engine.IO suite's reference handler: every message back.
func echo(c broadcast.EngineConn) {
	c.OnMessage(func(data []byte, binary bool) { c.Send(data, binary) })
}

// socketHandlers are the Socket.IO suite's reference handlers.
func socketHandlers(hub *broadcast.Hub) {
	hub.Handle("/", nil, func(c broadcast.Conn) {
		_ = c.Emit("auth", c.Handshake().Auth)
		c.On("message", func(args []any, _ broadcast.Ack) {
			_ = c.Emit("message-back", args...)
		})
		c.On("message-with-ack", func(args []any, ack broadcast.Ack) {
			if ack != nil {
				ack(args...)
			}
		})
	})
	hub.Handle("/custom", nil, func(c broadcast.Conn) {
		_ = c.Emit("auth", c.Handshake().Auth)
	})
}
