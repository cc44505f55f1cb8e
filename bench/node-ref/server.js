// Reference server for mpm's fan-out benchmark: what the Socket.IO guide's
// scripts/socketio_server.js does, on socket.io 4.8 — the eight namespaces,
// GET /health and POST /emit broadcasting to a namespace — plus one thing the
// benchmark needs to drive both servers the same way: a client event on a
// namespace is broadcast to that namespace's consumers and acknowledged, as
// mpmd does for /hook producers. Plain: no store, no seq, no replay.
//
// A client that connects with auth {producer: true} joins no room and so
// receives no broadcasts (the same contract as mpmd's docs/PROTOCOL.md).
//
// With REDIS_URL set, the servers share their broadcasts through
// @socket.io/redis-adapter on that Redis (the cluster benchmark's Node side,
// test/cluster/bench_test.go): every server's clients get every server's
// events; still no store, no seq.
//
// Usage: PORT=8765 HOST=127.0.0.1 [REDIS_URL=redis://127.0.0.1:6379] node server.js
'use strict';

const http = require('http');
const { Server } = require('socket.io');

const PORT = parseInt(process.env.PORT || process.env.SOCKETIO_PORT || '8765', 10);
const HOST = process.env.HOST || '127.0.0.1';
const MAX_BODY = 1 << 20;
const NAMESPACES = ['/system', '/session', '/claude', '/agent', '/hook', '/todo', '/memory', '/log'];
const CONSUMERS = 'consumers';
const started = Date.now();

function sendJSON(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const httpServer = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/health') {
    sendJSON(res, 200, {
      status: 'healthy',
      server: 'claude-mpm-socketio',
      timestamp: new Date().toISOString(),
      pid: process.pid,
      port: PORT,
      uptime: (Date.now() - started) / 1000,
      clients: io.engine.clientsCount,
    });
    return;
  }
  if (req.method === 'POST' && req.url === '/emit') {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        sendJSON(res, 413, { error: 'body too large' });
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return;
      let msg;
      try {
        msg = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (e) {
        sendJSON(res, 400, { error: 'invalid JSON' });
        return;
      }
      let ns = String(msg.namespace || '');
      if (!ns.startsWith('/')) ns = '/' + ns;
      if (!NAMESPACES.includes(ns) || typeof msg.event !== 'string' || !msg.event) {
        sendJSON(res, 400, { error: 'unknown namespace or missing event' });
        return;
      }
      io.of(ns).to(CONSUMERS).emit(msg.event, msg.data || {});
      sendJSON(res, 200, { success: true });
    });
    return;
  }
  // socket.io handles /socket.io/ itself; everything else is not found.
  if (!req.url.startsWith('/socket.io/')) {
    sendJSON(res, 404, { error: 'not found' });
  }
});

const io = new Server(httpServer, { cors: { origin: false }, serveClient: false });

async function useRedis(url) {
  const { createClient } = require('redis');
  const { createAdapter } = require('@socket.io/redis-adapter');
  const pub = createClient({ url });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  io.adapter(createAdapter(pub, sub));
}

for (const name of ['/', ...NAMESPACES]) {
  const nsp = io.of(name);
  nsp.on('connection', (socket) => {
    const auth = socket.handshake.auth || {};
    if (auth.producer !== true && auth.producer !== 'true') socket.join(CONSUMERS);
    if (name === '/system') {
      socket.on('get_status', (ack) => {
        const status = { status: 'running', clients: io.engine.clientsCount, timestamp: new Date().toISOString() };
        socket.emit('status', status);
        if (typeof ack === 'function') ack(status);
      });
    }
    socket.onAny((event, data, ack) => {
      if (event === 'get_status') return;
      nsp.to(CONSUMERS).emit(event, data);
      if (typeof ack === 'function') ack({ ok: true });
    });
  });
}

(process.env.REDIS_URL ? useRedis(process.env.REDIS_URL) : Promise.resolve()).then(() => {
  httpServer.listen(PORT, HOST, () => {
    console.log(`node-ref socket.io server listening on http://${HOST}:${PORT} (pid ${process.pid})${process.env.REDIS_URL ? ' on ' + process.env.REDIS_URL : ''}`);
  });
}, (err) => { console.error('node-ref: cannot use Redis:', err); process.exit(1); });

function shutdown() {
  io.close();
  httpServer.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
