// Package broadcast is mpmd's one seam to the Socket.IO library
// (github.com/zishang520/socket.io v3.0.6: servers/socket, servers/engine —
// the patched copy in third_party/socket.io-engine — and parsers). Nothing
// else in mpmd's server imports the library's server packages (test/style
// TestServerLibraryOnlyInBroadcast): the domain (pkg/server: the event
// pipeline, the HTTP API, sessions, OTLP, the Admin UI's host) speaks to
// Socket.IO only through this package's face:
//
//   - New(Config) builds the Socket.IO and Engine.IO servers with mpmd's
//     transports and settings; Hub.Handler serves them at /socket.io/;
//     Hub.Run sweeps; Hub.Close disconnects everyone.
//   - Hub.Handle(ns, authorize, onConnect) serves a namespace: authorize
//     sees each client's handshake (Conn.Handshake) and may refuse it
//     (Refuse); onConnect gets each connected socket as a Conn (id,
//     handshake, transport, Emit, On/OnAny with acks, Join/Leave,
//     Disconnect, data of the domain's own).
//   - Hub.Broadcast(ns, rooms, event, payload) is the fan-out of stored
//     events; Hub.Emit, Join, Leave and Disconnect act on a whole namespace
//     or the sockets of a room (the Admin UI's actions); Hub.Each, Counts,
//     Namespaces and Dropped enumerate and count (status, metrics, the
//     Admin UI's listings).
//   - Hub.Observe(Observer) reports connections, upgrades, disconnections,
//     room changes, events both ways and raw traffic: what pkg/admin's
//     live feed is built on (pkg/server/adminhost.go). It costs one
//     Active() call per hook while nobody listens.
//   - EngineHandler serves a bare Engine.IO server on the same transports,
//     for the official Engine.IO protocol suite (test/protocol).
//
// What the package patches or works around in the library, each with the
// test that shows it (docs/RELIABILITY.md lists them all, third_party/
// README.md explains which faults were patched in the library's copy and
// which replaced here):
//
//   - wstransport.go: mpmd's own websocket transport: one write(2) per
//     flush, broadcasts not re-encoded per client, a Close frame on every
//     close, and the hold of a client's next message until the library has
//     recorded its namespace join (wsTransport.beginConnect).
//   - polltransport.go: mpmd's own long-polling transport: every request
//     answered (the library's lost polls racing a CLOSE and dropped decode
//     errors), 413 for a chunked POST over the limit, the client's races
//     decided as it meant them, and the same join hold as over websocket
//     (pollTransport.beginConnect).
//   - upgrades.go: one websocket upgrade per session, claimed atomically
//     (the library's check-then-set let two through).
//   - rooms.go: the library's room adapter with joins and leaves under one
//     lock (it lost a join racing the last leave).
//   - backlog.go, pacer.go: a bound on what waits for a slow client (the
//     library buffers without limit) and replays at the client's pace.
//   - fanout.go: the fan-out that encodes an event once for every client
//     (the library re-encodes per client), with the backlog count.
//   - hub.go: the zombie sweep (the library can keep a socket whose
//     connection closed during the namespace handshake), and handshake
//     refusals whose data is never null (the Go client rejects those).
//   - engine.go: the Engine.IO options (mpmd's transports, the origin
//     policy for polling CORS and for websocket handshakes) and the
//     release of net/http's buffers once a websocket is hijacked.
//   - Memory per idle connection (issue 13; TestIdleConnectionBudget):
//     the websocket's reader waits for data in the poller on a fresh
//     goroutine after every message (wsTransport.message, awaitData), and
//     reads through a 512-byte buffer handed over at the hijack; the
//     library's heartbeat timers, websocket buffers and event emitter are
//     patched in third_party/ (its README).
//
// An upstream fix deletes code here and nowhere else.
package broadcast
