// The official Node socket.io-client on one namespace of one mpmd node, for
// test/cluster/admin_test.go: node admin_client.cjs URL NS, with SIO_CLIENT
// naming the socket.io-client package directory. It prints one JSON line
// per connection ({"connected": socket id}), per event ({"ev", "args"}),
// per disconnection ({"disconnected": reason}) and per refusal
// ({"connect_error"}); every line it reads on stdin is a JSON array it
// emits (event name first). It does not reconnect by itself. On /admin it
// is the Admin UI's side of the protocol (auth {}: loopback needs none).
const { io } = require(process.env.SIO_CLIENT);

const [url, ns] = process.argv.slice(2);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const sock = io(url + ns, { transports: ['websocket'], reconnection: false, timeout: 5000, auth: {} });
sock.on('connect', () => out({ connected: sock.id }));
sock.on('disconnect', (reason) => out({ disconnected: reason }));
sock.on('connect_error', (err) => out({ connect_error: String(err && err.message) }));
sock.onAny((ev, ...args) => out({ ev, args }));

let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    if (line.trim()) sock.emit(...JSON.parse(line));
  }
});
process.stdin.on('end', () => { sock.close(); process.exit(0); });
setTimeout(() => process.exit(3), 120000);
