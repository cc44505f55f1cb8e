// The official Node socket.io-client, connected through nginx to one
// namespace of an mpmd cluster: it prints one JSON line per event it gets
// ({"seq", "event_id", "marker"}) and per connection ({"connected": n}),
// and asks every (re)connection for what came after the last seq it saw.
// Run by test/cluster/nginx_test.go: node resume_client.cjs URL NS TRANSPORT
// with SIO_CLIENT naming the socket.io-client package directory.
const { io } = require(process.env.SIO_CLIENT);

const [url, ns, transport] = process.argv.slice(2);
let last; // the last seq seen
let connects = 0;
const sock = io(url + ns, {
  transports: [transport],
  reconnectionDelay: 100,
  reconnectionDelayMax: 300,
  timeout: 3000,
  auth: (cb) => cb(last === undefined ? {} : { since_seq: last }),
});
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
sock.on('connect', () => { connects++; out({ connected: connects, since_seq: last ?? null }); });
sock.on('disconnect', (reason) => {
  out({ disconnected: reason });
  if (reason === 'io server disconnect') setTimeout(() => sock.connect(), 100);
});
sock.on('connect_error', (err) => out({ connect_error: String(err && err.message) }));
sock.onAny((name, data) => {
  if (data && typeof data.seq === 'number') {
    if (last === undefined || data.seq > last) last = data.seq;
    out({ event: name, seq: data.seq, event_id: data.event_id, marker: data.marker ?? null });
  }
});
process.stdin.on('end', () => { sock.close(); process.exit(0); });
process.stdin.resume();
setTimeout(() => process.exit(3), 120000);
