// Package bench is mpm's load tool (cmd/mpm-bench): it connects N websocket
// clients to one mpmd namespace, drives events in through POST /emit and
// through Socket.IO producer emits with ack, and measures what issue 5's
// targets name — events ingested/s, deliveries/s, end-to-end latency
// p50/p99/max, events lost (by seq in the payload), server CPU per delivery
// (/proc/PID/stat) and server memory per connection (/proc/PID/status) — for
// mpmd and, in the same run, the reference Node socket.io server in
// bench/node-ref. It also measures ingest against store size, memory and
// CPU against connected clients, and (memory.go) memory and heartbeat CPU
// with 500 and 10,000 idle clients held for a minute, one server at a
// time, beside an older mpmd build when given one (--baseline). Its
// headline (issue 13) is the realistic series (nodeclients.go): N listeners
// on the official JS socket.io-client (bench/node-ref/clients.js, one Node
// process), /emit producers with 8 requests in flight, nothing pinned.
//
// Everything is bounded: each phase stops after a set time or event count,
// every wait has a deadline, and traffic goes only to 127.0.0.1 servers that
// the tool starts itself (with HOME and XDG_* in a temp dir) or is given.
package bench
