// Package client is the Go client of mpmd built on the Socket.IO library: it
// finds a running daemon (the discovery file, then GET /health on the
// configured port), connects to one of its Socket.IO namespaces over
// websocket, emits events and waits for mpmd's acknowledgement, and subscribes
// to events with replay (since_seq) and a session filter. The end-to-end and
// fault tests and the benchmarks use it; mpm-hook uses pkg/wire, a stdlib-only
// client whose discovery and ack types this package shares.
//
// It wraps github.com/zishang520/socket.io/clients/socket/v3 and hides its
// pitfalls: the transport is always websocket alone (the library's default set
// includes WebTransport, which hangs against plain HTTP), reconnection is off
// and every Dial gets its own connection, connecting is bounded by a short
// timeout and retried (a small share of connects race inside the library), and
// Emit always waits for the ack (an emit followed at once by a disconnect can
// be lost otherwise).
package client

import "github.com/mpm-dev/mpm/pkg/wire"

// What every Go client of mpmd shares lives in pkg/wire (which mpm-hook uses
// without this package): finding the daemon and the meaning of its acks and
// refusals. These names keep this package's API whole.

// DefaultPort is mpmd's port when neither --port nor SOCKETIO_PORT says otherwise.
const DefaultPort = wire.DefaultPort

// ServerName is the value of /health's "server" field that identifies mpmd.
const ServerName = wire.ServerName

// ErrNoDaemon means no mpmd answered; see wire.ErrNoDaemon.
var ErrNoDaemon = wire.ErrNoDaemon

type (
	// Options say where to look for mpmd; see wire.Options.
	Options = wire.Options
	// Health is mpmd's GET /health answer.
	Health = wire.Health
	// ConnectError is a handshake mpmd refused.
	ConnectError = wire.ConnectError
	// Ack is mpmd's acknowledgement of an emitted event.
	Ack = wire.Ack
	// AckError is an ack that refused the event.
	AckError = wire.AckError
	// Handler receives one event: its name and its data object.
	Handler = wire.Handler
)

// Functions shared with pkg/wire.
var (
	Candidate      = wire.Candidate
	Discover       = wire.Discover
	DiscoverHealth = wire.DiscoverHealth
)
