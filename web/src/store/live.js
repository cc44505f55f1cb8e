// The live connection to mpmd: /health, the newest stored events first,
// then the eight namespaces over Socket.IO, each resuming after the last
// seq it delivered on every reconnection, so history and live join with no
// gap and nothing doubled. Received events are queued and ingested once per
// animation frame into the page's EventStream; the session store is told
// which sessions they concern, and asks mpmd's model what changed.

import { Manager } from 'socket.io-client';
import { signal } from '@preact/signals';
import { cfg, base } from '../config.js';
import { api, HTTPError } from '../api.js';
import { NAMESPACES } from '../util.js';
import { EventStream, makeEvent, fromStored } from './stream.js';
import { tokenAsk, toast } from './ui.js';

/** Everything the page holds, in seq order (the Events view shows it). */
export const stream = new EventStream(cfg.capacity);

/** What the header shows about the connection. */
export const conn = signal({ state: 'idle', text: 'not connected', since: 0, connectedAt: 0, connected: [], socketIds: {}, server: null });
/** Bumped when the header's numbers should be redrawn (at most 5 times a second). */
export const metricsTick = signal(0);

// Resume point per namespace stream: the highest seq it delivered, or where
// the history load ended; null (before either) asks for live events only.
export const nsSeq = Object.fromEntries(NAMESPACES.map((n) => [n, null]));
let maxSeq = 0; // highest seq seen on any namespace
let maxStoredSeq = 0; // highest seq of a stored event seen
// maxStoredSeq when /system last sent its CONNECT: mpmd's status answer to
// it carries a last_seq at least this high unless the store is another one.
// (Events of other namespaces can arrive before that answer with seqs above
// its last_seq: comparing with maxStoredSeq itself started over for nothing
// and lost the replay in flight.)
let systemConnectSeq = 0;
let historySeq = 0;
let historyLoaded = false;
let pending = [];
let flushScheduled = false;
const consumers = new Set(); // (batch) → void: the session store, a session page's stream

/** Registers fn to see every ingested batch; returns the unsubscribe. */
export function onBatch(fn) { consumers.add(fn); return () => consumers.delete(fn); }

/** Per-second arrival rate, for the chart; event times by second. */
export const rate = { seconds: new Map() };
function countRate(ts) {
  const s = Math.floor(ts / 1000);
  rate.seconds.set(s, (rate.seconds.get(s) || 0) + 1);
}
export function perMinute(now = Date.now()) {
  const end = Math.floor(now / 1000);
  let n = 0;
  for (let s = end - 59; s <= end; s++) n += rate.seconds.get(s) || 0;
  return n;
}
function pruneRate(now = Date.now()) {
  if (rate.seconds.size < 1920) return;
  const oldest = Math.floor(now / 1000) - 1860;
  for (const k of rate.seconds.keys()) if (k < oldest) rate.seconds.delete(k);
}

/**
 * mpmd's replies to one client (status, server_info) and its heartbeats are
 * not stored: their seq is not a point to resume /system from.
 */
const isDirect = (ns, name) => ns === '/system' && (name === 'status' || name === 'server_info' || name === 'heartbeat');

function receive(ns, name, payload) {
  const seq = payload && typeof payload.seq === 'number' ? payload.seq : 0;
  if (seq && !isDirect(ns, name)) {
    if (seq > (nsSeq[ns] ?? 0)) nsSeq[ns] = seq; // set on receipt, before any batching
    if (seq > maxStoredSeq) maxStoredSeq = seq;
  }
  if (seq > maxSeq) maxSeq = seq;
  if (ns === '/system' && name === 'status' && payload && typeof payload.last_seq === 'number' && payload.last_seq < systemConnectSeq) {
    storeReset(payload.last_seq);
    return;
  }
  pending.push(makeEvent(ns, name, payload, false, maxSeq));
  scheduleFlush();
}

function scheduleFlush() {
  if (flushScheduled) return;
  flushScheduled = true;
  // rAF batches DOM work to the display rate; a hidden tab gets no frames, so
  // a timer keeps the buffer bounded there.
  const run = () => { if (flushScheduled) flush(); };
  requestAnimationFrame(run);
  setTimeout(run, 250);
}

export const perf = { ingestMs: 0, batches: 0, events: 0 };

function flush() {
  flushScheduled = false;
  const batch = pending;
  pending = [];
  if (batch.length) {
    const t0 = performance.now();
    countArrivals(batch.length);
    const before = stream.metrics.total;
    stream.add(batch);
    for (const ev of batch) countRate(ev.ts);
    for (const fn of consumers) fn(batch);
    perf.ingestMs += performance.now() - t0;
    perf.batches++;
    perf.events += batch.length;
    if (stream.metrics.total !== before) metricsDirty = true;
  }
  render();
}

// ---------------------------------------------------------------- redraw pacing

// Events received in the last second, counted per 100 ms slot.
const rateSlots = new Uint32Array(10);
let rateSlot = 0;
let rateSlotAt = 0;
function countArrivals(n) {
  const now = performance.now();
  const steps = Math.min(10, Math.floor((now - rateSlotAt) / 100));
  for (let i = 0; i < steps; i++) { rateSlot = (rateSlot + 1) % 10; rateSlots[rateSlot] = 0; }
  if (steps) rateSlotAt += steps * 100;
  if (now - rateSlotAt > 1000) rateSlotAt = now;
  rateSlots[rateSlot] += n;
}
/** Events received in the last second. */
export function recentRate() {
  countArrivals(0);
  let n = 0;
  for (const x of rateSlots) n += x;
  return n;
}

let metricsDirty = true;
let lastMetrics = 0;
let lastList = 0;
let trailingTimer = 0;
function trailing(ms) {
  if (trailingTimer) return;
  trailingTimer = setTimeout(() => { trailingTimer = 0; render(); }, Math.max(1, ms));
}

function render() {
  const now = performance.now();
  // Under a flood the list is redrawn at most 20 (over 200 events/s) or 10
  // (over 500 events/s) times a second: nobody reads rows that fast, and
  // each redraw costs a layout and a paint of every visible row.
  const r = recentRate();
  const gap = r > 500 ? 100 : r > 200 ? 50 : 0;
  if (now - lastList >= gap) {
    lastList = now;
    stream.changed('events');
  } else trailing(gap - (now - lastList));
  // Text at most every 200 ms: cheap, and nobody reads faster. A trailing
  // render shows the last change without waiting for another event.
  if (metricsDirty) {
    if (now - lastMetrics >= 200) {
      lastMetrics = now;
      metricsDirty = false;
      metricsTick.value++;
    } else trailing(200 - (now - lastMetrics));
  }
}

setInterval(() => { pruneRate(); metricsTick.value++; }, 1000);

/** Clears the page's events and counters; the store keeps them (History). */
export function clearEvents(announce = true) {
  stream.clear();
  rate.seconds.clear();
  metricsTick.value++;
  if (announce) toast('View cleared; History still has every event');
}

// ---------------------------------------------------------------- connection

const sock = { manager: null, sockets: {}, wanted: false, attempt: 0, connected: new Set() };

function setConn(patch) { conn.value = { ...conn.value, ...patch }; }
function setState(state, text) { setConn({ state, text }); }

export async function connect() {
  if (sock.wanted) return;
  sock.wanted = true;
  setState('connecting', 'connecting…');
  // History first, then live from where it ended: the sockets ask mpmd to
  // replay everything after historySeq, so nothing falls between the two.
  let delay = 500;
  while (sock.wanted && !sock.manager) {
    try {
      await refreshHealth();
      if (!historyLoaded && cfg.historyLimit > 0) await loadRecent();
      openSockets();
    } catch (err) {
      if (err instanceof HTTPError && err.status === 401) {
        sock.wanted = false;
        setState('error', 'token required');
        askToken(err.message);
        return;
      }
      setState('reconnecting', `mpmd not reachable at ${base}; retrying…`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 3000);
    }
  }
}

async function refreshHealth() {
  setConn({ server: await api.health() });
}

/**
 * Loads the newest events of the store into the page, newest page first
 * (mpmd answers at most 10,000 per request), then hands them to the buffer
 * oldest first.
 */
async function loadRecent() {
  let remaining = Math.min(cfg.historyLimit, cfg.capacity);
  let until = 0;
  const pages = [];
  while (remaining > 0) {
    const n = Math.min(remaining, 10000);
    const j = await api.events({ limit: n, order: 'desc', ...(until ? { until_seq: until } : {}) });
    const list = Array.isArray(j.events) ? j.events : [];
    pages.push(list);
    remaining -= list.length;
    if (list.length < n) break;
    let oldest = Infinity;
    for (const e of list) if (e.seq < oldest) oldest = e.seq;
    if (!(oldest > 1)) break;
    until = oldest - 1;
  }
  const evs = pages.reverse().flat().map(fromStored).sort((a, b) => a.k - b.k);
  for (const ev of evs) if (ev.seq > maxSeq) maxSeq = ev.seq;
  historySeq = maxSeq;
  if (historySeq > maxStoredSeq) maxStoredSeq = historySeq;
  historyLoaded = true;
  for (const n of NAMESPACES) if ((nsSeq[n] ?? -1) < historySeq) nsSeq[n] = historySeq;
  pending.push(...evs);
  scheduleFlush();
}

function updateConn() {
  const n = sock.connected.size;
  const patch = { connected: [...sock.connected].sort(), socketIds: Object.fromEntries(Object.entries(sock.sockets).map(([ns, s]) => [ns, s.id || ''])) };
  if (sock.wanted && n === NAMESPACES.length) {
    if (conn.value.state !== 'connected') patch.connectedAt = Date.now();
    patch.state = 'connected';
    patch.text = 'connected';
  } else if (sock.wanted && n > 0 && conn.value.state !== 'reconnecting') {
    patch.state = 'connecting';
    patch.text = `connecting… (${n}/${NAMESPACES.length})`;
  }
  setConn(patch);
}

function openSockets() {
  const m = new Manager(base, {
    path: '/socket.io/',
    autoConnect: false,
    reconnection: true,
    reconnectionDelay: 300,
    reconnectionDelayMax: 2000,
    randomizationFactor: 0.3,
    timeout: 5000,
    transports: cfg.transports,
    tryAllTransports: true,
  });
  sock.manager = m;
  m.on('reconnect_attempt', (n) => {
    sock.attempt = n;
    setState('reconnecting', `reconnecting… (attempt ${n})`);
  });
  m.on('reconnect', () => { sock.attempt = 0; refreshHealth().catch(() => {}); });
  m.on('error', () => { if (conn.value.state !== 'reconnecting') setState('reconnecting', 'connection lost; reconnecting…'); });
  for (const ns of NAMESPACES) {
    const s = m.socket(ns, {
      // A function, so every reconnection asks for what came after the
      // newest event this namespace delivered.
      auth: (cb) => {
        if (ns === '/system') systemConnectSeq = maxStoredSeq;
        cb({ token: cfg.token || undefined, since_seq: nsSeq[ns] ?? undefined });
      },
    });
    sock.sockets[ns] = s;
    s.on('connect', () => {
      sock.connected.add(ns);
      if (ns === '/system') setConn({ since: Date.now() });
      updateConn();
    });
    s.on('disconnect', (reason) => {
      sock.connected.delete(ns);
      if (sock.wanted) {
        setState('reconnecting', `disconnected (${reason}); reconnecting…`);
        // A server-side disconnect is not retried by the client by itself.
        if (reason === 'io server disconnect') setTimeout(() => sock.wanted && s.connect(), 500);
      }
      updateConn();
    });
    s.on('connect_error', (err) => {
      const msg = String((err && err.message) || err);
      if (/auth|token/i.test(msg)) {
        disconnect('error', 'token refused');
        askToken(msg);
        return;
      }
      if (!s.active) setTimeout(() => sock.wanted && s.connect(), 1000);
      setState('reconnecting', `cannot connect: ${msg}; retrying…`);
    });
    s.onAny((name, payload) => receive(ns, name, payload));
    s.connect();
  }
}

export function disconnect(state = 'disconnected', text = 'disconnected') {
  sock.wanted = false;
  if (sock.manager) {
    for (const s of Object.values(sock.sockets)) { s.offAny(); s.disconnect(); }
    sock.manager.engine?.close();
    sock.manager = null;
  }
  sock.sockets = {};
  sock.connected.clear();
  setState(state, text);
  updateConn();
}

export const isWanted = () => sock.wanted;

/** Listeners told when mpmd came back with another store (the session store starts over). */
const resetListeners = new Set();
export function onStoreReset(fn) { resetListeners.add(fn); return () => resetListeners.delete(fn); }

/**
 * mpmd came back with another store (an in-memory one, or a deleted file):
 * its seqs start again below the ones this page holds, so resuming from them
 * would skip its events. Start over from its first event.
 */
function storeReset(lastSeq) {
  clearEvents(false);
  stream.floorSeq = 0;
  pending = [];
  maxStoredSeq = 0;
  systemConnectSeq = 0;
  maxSeq = lastSeq;
  for (const n of NAMESPACES) nsSeq[n] = 0;
  for (const s of Object.values(sock.sockets)) {
    // A new handshake, whose auth asks for everything after seq 0.
    s.disconnect();
    s.connect();
  }
  for (const fn of resetListeners) fn();
  toast('mpmd restarted with a different event store: showing its events from the start');
}

export function askToken(reason) {
  tokenAsk.value = `mpmd needs an authentication token (CLAUDE_MPM_SOCKETIO_TOKEN): ${reason}`;
}

// Read-only numbers for the browser tests and the benchmark.
export const probe = {
  get maxSeq() { return maxSeq; },
  get historySeq() { return historySeq; },
  get pending() { return pending.length; },
  get flushing() { return flushScheduled || !!trailingTimer; },
};
