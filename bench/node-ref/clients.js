// bench/node-ref/clients.js — N listeners on the official socket.io-client,
// as a user's dashboard or script connects (default transports: polling,
// then the upgrade to websocket), for mpm-bench's realistic fan-out series
// (pkg/bench/nodeclients.go). Usage: node clients.js URL NAMESPACE N
//
// It speaks to mpm-bench over stdio, one line each way:
//   stdout "ready SECONDS"          every client connected
//   stdin  "phase ID MAX"           count events of phase ID (bench_seq < MAX) from now on
//   stdout "prog ID MIN TOTAL"      every 20 ms: fewest events any client has, and the sum
//   stdin  "report"                 → stdout "report {json}": the phase's counts and latency
// Latency is the payload's sent_ns (the producer's wall clock, same machine)
// to this process's receipt, in a log-linear histogram (≈2 % buckets).
'use strict';
const { io } = require('socket.io-client');
const readline = require('node:readline');

const [url, ns, nArg] = process.argv.slice(2);
const n = Number(nArg);
if (!url || !ns || !(n > 0)) {
  console.error('usage: node clients.js URL NAMESPACE N');
  process.exit(2);
}

let phase = 0;
let maxEv = 0;
const clients = [];
let closed = 0;

const BASE = 1.02;
const LOG = Math.log(BASE);
let hist = new Map(); // bucket → count
let maxUs = 0;

function nowNs() {
  return (performance.timeOrigin + performance.now()) * 1e6;
}

function record(c, data) {
  if (!data || data.bench_phase !== phase) return;
  const seq = data.bench_seq;
  if (!(seq >= 0 && seq < maxEv)) return;
  const byte = seq >> 3;
  const bit = 1 << (seq & 7);
  if (c.seen[byte] & bit) {
    c.dup++;
    return;
  }
  c.seen[byte] |= bit;
  c.recv++;
  const us = Math.max(1, (nowNs() - data.sent_ns) / 1e3);
  const b = Math.floor(Math.log(us) / LOG);
  hist.set(b, (hist.get(b) || 0) + 1);
  if (us > maxUs) maxUs = us;
}

function quantile(q) {
  let total = 0;
  for (const v of hist.values()) total += v;
  if (total === 0) return 0;
  const keys = [...hist.keys()].sort((a, b) => a - b);
  let want = Math.ceil(q * total);
  for (const k of keys) {
    want -= hist.get(k);
    if (want <= 0) return Math.pow(BASE, k + 1);
  }
  return Math.pow(BASE, keys[keys.length - 1] + 1);
}

function connectOne() {
  return new Promise((resolve, reject) => {
    const c = { recv: 0, dup: 0, seen: new Uint8Array(0), gone: false };
    const s = io(url + ns, { forceNew: true, reconnection: false, timeout: 20000 });
    c.s = s;
    s.on('bench', (data) => record(c, data));
    s.once('connect', () => resolve(c));
    s.once('connect_error', (err) => reject(err));
    s.on('disconnect', () => {
      if (!c.gone) {
        c.gone = true;
        closed++;
      }
    });
  });
}

async function main() {
  const t0 = Date.now();
  for (let i = 0; i < n; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 50); j++) batch.push(connectOne());
    clients.push(...(await Promise.all(batch)));
  }
  process.stdout.write(`ready ${((Date.now() - t0) / 1000).toFixed(2)}\n`);

  setInterval(() => {
    if (phase === 0) return;
    let min = Infinity;
    let total = 0;
    for (const c of clients) {
      total += c.recv;
      if (!c.gone && c.recv < min) min = c.recv;
    }
    if (min === Infinity) min = 0;
    process.stdout.write(`prog ${phase} ${min} ${total}\n`);
  }, 20).unref();

  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'phase') {
      const bytes = Math.ceil(Number(f[2]) / 8);
      for (const c of clients) {
        c.recv = 0;
        c.dup = 0;
        c.seen = new Uint8Array(bytes);
      }
      hist = new Map();
      maxUs = 0;
      maxEv = Number(f[2]);
      phase = Number(f[1]);
    } else if (f[0] === 'report') {
      let deliveries = 0;
      let dups = 0;
      let min = Infinity;
      for (const c of clients) {
        deliveries += c.recv;
        dups += c.dup;
        if (c.recv < min) min = c.recv;
      }
      const r = {
        phase, deliveries, duplicates: dups, min_received: min === Infinity ? 0 : min, closed,
        p50_us: quantile(0.5), p99_us: quantile(0.99), max_us: maxUs,
      };
      process.stdout.write(`report ${JSON.stringify(r)}\n`);
    }
  });
  rl.on('close', () => {
    for (const c of clients) c.s.close();
    process.exit(0);
  });
}

main().catch((err) => {
  console.error(`clients.js: ${err && err.message ? err.message : err}`);
  process.exit(1);
});
