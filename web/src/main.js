// The mpm dashboard: loads recent history from mpmd's store, then follows all
// eight namespaces live over Socket.IO, resuming from the last seq it saw
// after any disconnect. Events are batched per animation frame; every view is
// derived incrementally; the event list is virtualised.

import { Manager } from 'socket.io-client';
import { SeqList } from './seqlist.js';
import { VList } from './vlist.js';
import { Derived } from './derive.js';
import { RateChart } from './chart.js';
import {
  NAMESPACES, fmtNum, fmtTime, fmtDateTime, fmtDur, shortId, sessionColor, isErrorEvent, summarize, el,
} from './util.js';

const $ = (id) => document.querySelector(`[data-testid="${id}"]`);

// ---------------------------------------------------------------- config

const params = new URLSearchParams(location.search);
const boolParam = (v, d) => (v == null ? d : !/^(0|false|no|off)$/i.test(v));
const intParam = (v, d, lo, hi) => {
  const n = parseInt(v ?? '', 10);
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : d;
};

const cfg = {
  port: params.get('port') || '',
  autoconnect: boolParam(params.get('autoconnect'), true),
  capacity: intParam(params.get('buffer'), 100000, 100, 1000000),
  historyLimit: intParam(params.get('history'), 2000, 0, 1000000),
  token: '',
  // websocket (default) or polling: long-polling only, for proxies that
  // break websockets.
  transports: params.get('transport') === 'polling' ? ['polling'] : ['websocket', 'polling'],
};
{
  // A token in the URL is taken once and removed from the address bar (and
  // so from the browser history and any screenshot); the tab keeps it.
  const t = params.get('token');
  if (t) {
    cfg.token = t;
    try { sessionStorage.setItem('mpm.token', t); } catch { /* private mode */ }
    params.delete('token');
    const q = params.toString();
    history.replaceState(null, '', location.pathname + (q ? '?' + q : '') + location.hash);
  } else {
    try { cfg.token = sessionStorage.getItem('mpm.token') || ''; } catch { /* private mode */ }
  }
}
const base = (() => {
  if (location.protocol === 'http:' || location.protocol === 'https:') {
    if (!cfg.port || cfg.port === location.port) return location.origin;
    const host = location.hostname.includes(':') ? `[${location.hostname}]` : location.hostname;
    return `${location.protocol}//${host}:${cfg.port}`;
  }
  return `http://127.0.0.1:${cfg.port || 8765}`;
})();

// ---------------------------------------------------------------- state

const buffer = new SeqList(); // every event in the page, by seq
const seen = new Set(); // dedupe keys of the events in buffer
let floorSeq = 0; // events at or below this seq were dropped or cleared: never re-add
let maxSeq = 0; // highest seq seen on any namespace
// Resume point per namespace stream: the highest seq it delivered, or where
// the history load ended; null (before either) asks for live events only.
const nsSeq = Object.fromEntries(NAMESPACES.map((n) => [n, null]));
let historySeq = 0; // seq the initial history load reached
let historyLoaded = false;
let evictedTotal = 0;
let counter = 0; // arrival order, for events without a seq

const metrics = { total: 0, errors: 0, types: new Set(), perNs: Object.fromEntries(NAMESPACES.map((n) => [n, 0])) };
const typesByNs = new Map(); // ns → Set(event)
const chart = new RateChart($('rate-chart'));
const derived = new Derived();
const filter = { ns: '', type: '', q: '', sid: '', errors: false };
const view = new SeqList(); // the filtered events, by seq

let server = { version: '', pid: 0 };
let activeView = 'events';
let pending = [];
let flushScheduled = false;

// ---------------------------------------------------------------- events

function makeEvent(ns, name, payload, fromHistory) {
  const d = payload && typeof payload === 'object' ? payload : { value: payload };
  const seq = typeof d.seq === 'number' ? d.seq : null;
  const tsStr = typeof d.timestamp === 'string' ? d.timestamp : '';
  let ts = tsStr ? Date.parse(tsStr) : NaN;
  if (!Number.isFinite(ts)) ts = Date.now();
  return {
    seq, k: seq ?? maxSeq + 0.5, n: counter++, at: fromHistory ? 0 : Date.now(),
    id: typeof d.event_id === 'string' ? d.event_id : '',
    ns, ev: name, ts, sid: typeof d.session_id === 'string' ? d.session_id : '',
    data: d, err: isErrorEvent(ns, name, d), hist: !!fromHistory, t: null, gone: false,
  };
}

/** Lower-cased searchable text of an event, computed on first search. */
function text(ev) {
  if (ev.t === null) ev.t = `${ev.ns} ${ev.ev} ${JSON.stringify(ev.data)}`.toLowerCase();
  return ev.t;
}

function matches(ev) {
  if (filter.ns && ev.ns !== filter.ns) return false;
  if (filter.type && `${ev.ns} ${ev.ev}` !== filter.type) return false;
  if (filter.sid && ev.sid !== filter.sid) return false;
  if (filter.errors && !ev.err) return false;
  if (filter.q && !text(ev).includes(filter.q)) return false;
  return true;
}

/**
 * mpmd's replies to one client (status, server_info) and its heartbeats are
 * not stored: their seq is not a point to resume /system from.
 */
const isDirect = (ns, name) => ns === '/system' && (name === 'status' || name === 'server_info' || name === 'heartbeat');
let maxStoredSeq = 0; // highest seq of a stored event seen

function receive(ns, name, payload) {
  const seq = payload && typeof payload.seq === 'number' ? payload.seq : 0;
  if (seq && !isDirect(ns, name)) {
    if (seq > (nsSeq[ns] ?? 0)) nsSeq[ns] = seq; // set on receipt, before any batching
    if (seq > maxStoredSeq) maxStoredSeq = seq;
  }
  if (seq > maxSeq) maxSeq = seq;
  if (ns === '/system' && systemEvent(name, payload)) return;
  pending.push(makeEvent(ns, name, payload, false));
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

/** Ingests a batch: dedupe, buffer, metrics, derived views, filtered view. */
function ingest(batch) {
  let added = 0;
  for (const ev of batch) {
    const key = ev.id || (ev.seq != null ? `#${ev.seq}` : '');
    if (key) {
      if (seen.has(key)) continue;
      if (ev.seq != null && ev.seq <= floorSeq) continue;
      seen.add(key);
    }
    ev.key = key;
    buffer.insert(ev);
    added++;
    metrics.total++;
    metrics.perNs[ev.ns] = (metrics.perNs[ev.ns] || 0) + 1;
    if (ev.err) metrics.errors++;
    const tkey = `${ev.ns} ${ev.ev}`;
    if (!metrics.types.has(tkey)) {
      metrics.types.add(tkey);
      let s = typesByNs.get(ev.ns);
      if (!s) typesByNs.set(ev.ns, (s = new Set()));
      s.add(ev.ev);
      typesDirty = true;
    }
    chart.add(ev.ts);
    derived.apply(ev);
    if (matches(ev)) view.insert(ev);
  }
  if (buffer.length > cfg.capacity) evict(buffer.length - cfg.capacity);
  return added;
}

function evict(n) {
  const gone = buffer.shift(n);
  for (const ev of gone) {
    ev.gone = true;
    seen.delete(ev.key);
    if (ev.seq != null && ev.seq > floorSeq) floorSeq = ev.seq;
    metrics.perNs[ev.ns]--;
    if (ev.err) metrics.errors--;
  }
  evictedTotal += gone.length;
  const dropped = view.dropWhile((ev) => ev.gone);
  eventList.shiftedBy(dropped);
}

let typesDirty = true;
let metricsDirty = true;

function flush() {
  flushScheduled = false;
  const batch = pending;
  pending = [];
  if (batch.length) {
    const t0 = performance.now();
    countArrivals(batch.length);
    ingest(batch);
    perf.ingestMs += performance.now() - t0;
    perf.batches++;
    perf.events += batch.length;
    metricsDirty = true;
  }
  render();
}

// Exposed for the browser tests and the benchmark: read-only numbers.
const perf = { ingestMs: 0, batches: 0, events: 0 };
window.__mpm = {
  perf,
  get bufferLength() { return buffer.length; },
  get viewLength() { return view.length; },
  get maxSeq() { return maxSeq; },
  get historySeq() { return historySeq; },
  get evicted() { return evictedTotal; },
  nsSeq,
  seqs: () => buffer.toArray().filter((e) => e.seq != null).map((e) => e.seq),
  viewSeqs: () => view.toArray().map((e) => e.seq),
  events: () => buffer.toArray().filter((e) => e.seq != null).map((e) => [e.seq, e.ns, e.ev]),
  get pending() { return pending.length; },
  get listRenders() { return eventList.renders || 0; },
  /** Nothing received is waiting to be ingested or drawn. */
  get settled() { return !flushScheduled && !pending.length && !eventList.pending && !toolList.pending && !historyList.pending && !trailingTimer; },
  /** Delivery latency of live events carrying bench_sent (ms since epoch). */
  latencies(from) {
    const l = [];
    for (const e of buffer) if (e.at && typeof e.data.bench_sent === 'number' && e.data.bench_sent >= from) l.push(e.at - e.data.bench_sent);
    l.sort((a, b) => a - b);
    const q = (p) => (l.length ? l[Math.min(l.length - 1, Math.floor(l.length * p))] : 0);
    return { n: l.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: l.length ? l[l.length - 1] : 0 };
  },
  get connected() { return conn.state === 'connected'; },
  get connectedAt() { return conn.connectedAt; },
  get state() { return conn.state; },
};

// ---------------------------------------------------------------- connection

const conn = { manager: null, sockets: {}, state: 'idle', since: 0, attempt: 0, connected: new Set(), wanted: false, loading: false };

function setState(state, textMsg) {
  conn.state = state;
  const box = $('connection');
  box.dataset.state = state;
  const st = $('conn-status');
  st.dataset.state = state;
  st.textContent = textMsg;
  $('connect-button').textContent = state === 'idle' || state === 'disconnected' || state === 'error' ? 'Connect' : 'Disconnect';
  document.title = titleFor();
}

function titleFor() {
  const w = derived.waiting().length;
  const prefix = w ? `⚠ ${w} waiting · ` : conn.state !== 'connected' && conn.wanted ? '○ ' : '';
  return `${prefix}mpm dashboard`;
}

function authHeaders() {
  return cfg.token ? { Authorization: `Bearer ${cfg.token}` } : {};
}

class HTTPError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

async function getJSON(path) {
  const res = await fetch(base + path, { headers: authHeaders(), cache: 'no-store' });
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try { const j = await res.json(); if (j && j.error) msg = j.error; } catch { /* not JSON */ }
    throw new HTTPError(res.status, msg);
  }
  return res.json();
}

async function connect() {
  if (conn.wanted) return;
  conn.wanted = true;
  setState('connecting', 'connecting…');
  // History first, then live from where it ended: the sockets ask mpmd to
  // replay everything after historySeq, so nothing falls between the two.
  let delay = 500;
  while (conn.wanted && !conn.manager) {
    try {
      await refreshHealth();
      if (!historyLoaded && cfg.historyLimit > 0) await loadRecent();
      openSockets();
    } catch (err) {
      if (err instanceof HTTPError && err.status === 401) {
        conn.wanted = false;
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
  const h = await getJSON('/health');
  server = h;
  $('conn-server').textContent = `${h.server === 'claude-mpm-socketio' ? 'mpmd' : h.server || '?'} ${h.version || ''} · pid ${h.pid ?? '?'} · ${base.replace(/^https?:\/\//, '')}`;
  $('conn-server').title = JSON.stringify(h, null, 2);
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
    const j = await getJSON(`/api/events?limit=${n}&order=desc${until ? `&until_seq=${until}` : ''}`);
    const list = Array.isArray(j.events) ? j.events : [];
    pages.push(list);
    remaining -= list.length;
    if (list.length < n) break;
    const oldest = Math.min(...list.map((e) => e.seq));
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

function fromStored(e) {
  const ns = e.namespace && e.namespace[0] !== '/' ? '/' + e.namespace : e.namespace;
  const data = Object.assign({}, e.data, { event_id: e.event_id, seq: e.seq });
  if (data.timestamp == null && e.timestamp) data.timestamp = e.timestamp;
  if (data.session_id == null && e.session_id) data.session_id = e.session_id;
  return makeEvent(ns, e.event, data, true);
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
  conn.manager = m;
  m.on('reconnect_attempt', (n) => {
    conn.attempt = n;
    setState('reconnecting', `reconnecting… (attempt ${n})`);
  });
  m.on('reconnect', () => { conn.attempt = 0; refreshHealth().catch(() => {}); });
  m.on('error', () => { if (conn.state !== 'reconnecting') setState('reconnecting', 'connection lost; reconnecting…'); });
  for (const ns of NAMESPACES) {
    const s = m.socket(ns, {
      // A function, so every reconnection asks for what came after the
      // newest event this namespace delivered.
      auth: (cb) => cb({ token: cfg.token || undefined, since_seq: nsSeq[ns] ?? undefined }),
    });
    conn.sockets[ns] = s;
    s.on('connect', () => {
      conn.connected.add(ns);
      if (ns === '/system') conn.since = Date.now();
      updateConnInfo();
    });
    s.on('disconnect', (reason) => {
      conn.connected.delete(ns);
      if (conn.wanted) {
        setState('reconnecting', `disconnected (${reason}); reconnecting…`);
        // A server-side disconnect is not retried by the client by itself.
        if (reason === 'io server disconnect') setTimeout(() => conn.wanted && s.connect(), 500);
      }
      updateConnInfo();
    });
    s.on('connect_error', (err) => {
      const msg = String(err && err.message || err);
      if (/auth|token/i.test(msg)) {
        disconnect('error', 'token refused');
        askToken(msg);
        return;
      }
      if (!s.active) setTimeout(() => conn.wanted && s.connect(), 1000);
      setState('reconnecting', `cannot connect: ${msg}; retrying…`);
    });
    s.onAny((name, payload) => receive(ns, name, payload));
    s.connect();
  }
}

function disconnect(state = 'disconnected', msg = 'disconnected') {
  conn.wanted = false;
  if (conn.manager) {
    for (const s of Object.values(conn.sockets)) { s.offAny(); s.disconnect(); }
    conn.manager.engine?.close();
    conn.manager = null;
  }
  conn.sockets = {};
  conn.connected.clear();
  setState(state, msg);
  updateConnInfo();
}

function updateConnInfo() {
  const n = conn.connected.size;
  if (conn.wanted && n === NAMESPACES.length) {
    if (conn.state !== 'connected') conn.connectedAt = Date.now();
    setState('connected', 'connected');
  }
  else if (conn.wanted && n > 0 && conn.state !== 'reconnecting') setState('connecting', `connecting… (${n}/${NAMESPACES.length})`);
  const sys = conn.sockets['/system'];
  $('conn-socket-id').textContent = sys && sys.connected ? sys.id : '–';
  $('conn-socket-id').title = Object.entries(conn.sockets).map(([ns, s]) => `${ns} ${s.id || '(not connected)'}`).join('\n');
  $('conn-since').textContent = n && conn.since ? fmtDateTime(conn.since) : '–';
  const nsEl = $('conn-namespaces');
  nsEl.textContent = n ? (n === NAMESPACES.length ? `all ${n}` : `${n}/${NAMESPACES.length}`) : '–';
  nsEl.title = NAMESPACES.map((ns) => `${conn.connected.has(ns) ? '●' : '○'} ${ns}`).join('\n');
  nsEl.dataset.namespaces = [...conn.connected].sort().join(' ');
}

/** Handles what /system says about mpmd itself; true: drop the event. */
function systemEvent(name, d) {
  if (name === 'status' && d && typeof d.last_seq === 'number' && d.last_seq < maxStoredSeq) {
    storeReset(d.last_seq);
    return true;
  }
  return false;
}

/**
 * mpmd came back with another store (an in-memory one, or a deleted file):
 * its seqs start again below the ones this page holds, so resuming from them
 * would skip its events. Start over from its first event.
 */
function storeReset(lastSeq) {
  clearView(false);
  pending = [];
  floorSeq = 0;
  maxStoredSeq = 0;
  maxSeq = lastSeq;
  for (const n of NAMESPACES) nsSeq[n] = 0;
  for (const s of Object.values(conn.sockets)) {
    // A new handshake, whose auth asks for everything after seq 0.
    s.disconnect();
    s.connect();
  }
  toast('mpmd restarted with a different event store: showing its events from the start');
}

function askToken(reason) {
  const dlg = $('token-dialog');
  $('token-reason').textContent = `mpmd needs an authentication token (CLAUDE_MPM_SOCKETIO_TOKEN): ${reason}`;
  $('token-input').value = '';
  if (!dlg.open) dlg.showModal();
}

$('token-dialog').addEventListener('close', () => {
  const dlg = $('token-dialog');
  if (dlg.returnValue !== 'ok') return;
  const t = $('token-input').value.trim();
  if (!t) return;
  cfg.token = t;
  try { sessionStorage.setItem('mpm.token', t); } catch { /* private mode */ }
  disconnect('idle', 'connecting…');
  connect();
});

$('connect-button').addEventListener('click', () => {
  if (conn.wanted) disconnect('disconnected', 'disconnected');
  else connect();
});

// ---------------------------------------------------------------- event list

const ROW = 24;
const eventList = new VList($('event-list'), {
  rowHeight: ROW,
  follow: true,
  create: makeEventRow,
  render: renderEventRow,
  onClick: (ev) => showDetail(ev),
  onFollowChange: (f) => { $('follow').checked = f; if (f) $('new-below').hidden = true; },
});
eventList.setSource(view);

function makeEventRow(row) {
  row.classList.add('ev');
  row.dataset.testid = 'event-row';
  row.setAttribute('data-testid', 'event-row');
  for (const c of ['seq', 'tm', 'nsc', 'evn', 'sid', 'sum']) row.append(el('span', { className: c }));
  row.children[2].append(el('span', { className: 'ns' }));
}

function renderEventRow(row, ev) {
  if (!ev) return;
  const c = row.children;
  c[0].textContent = ev.seq ?? '';
  c[1].textContent = fmtTime(ev.ts);
  c[2].firstChild.textContent = ev.ns.slice(1);
  c[3].textContent = ev.ev;
  c[4].textContent = shortId(ev.sid);
  c[4].style.setProperty('--sc', sessionColor(ev.sid));
  c[4].title = ev.sid;
  c[5].textContent = summarize(ev.ns, ev.ev, ev.data);
  row.classList.toggle('err', ev.err);
  row.dataset.seq = ev.seq ?? '';
  row.dataset.event = ev.ev;
  row.dataset.namespace = ev.ns;
}

/** Rebuilds the filtered view from the buffer (on a filter change). */
function refilter() {
  view.clear();
  for (const ev of buffer) if (matches(ev)) view.arr.push(ev);
  eventList.setSource(view);
  metricsDirty = true;
  render();
}

// Namespace tabs
const nsTabs = $('namespace-tabs');
for (const ns of ['', ...NAMESPACES]) {
  const b = el('button', { type: 'button', role: 'tab' }, ns || 'all', el('span', { className: 'count' }, '0'));
  b.dataset.ns = ns;
  b.setAttribute('data-testid', `ns-tab-${ns ? ns.slice(1) : 'all'}`);
  b.setAttribute('aria-selected', String(ns === ''));
  b.addEventListener('click', () => setNamespace(ns));
  nsTabs.append(b);
}

function setNamespace(ns) {
  filter.ns = ns;
  for (const b of nsTabs.children) b.setAttribute('aria-selected', String(b.dataset.ns === ns));
  if (filter.type && !filter.type.startsWith(ns + ' ') && ns) filter.type = '';
  typesDirty = true;
  refilter();
}

const typeSel = $('type-filter');
typeSel.addEventListener('change', () => { filter.type = typeSel.value; refilter(); });

function renderTypeOptions() {
  typesDirty = false;
  const opts = [];
  for (const ns of filter.ns ? [filter.ns] : NAMESPACES) {
    const s = typesByNs.get(ns);
    if (!s) continue;
    for (const e of [...s].sort()) opts.push([`${ns} ${e}`, filter.ns ? e : `${ns.slice(1)} · ${e}`]);
  }
  const cur = filter.type;
  typeSel.replaceChildren(el('option', { value: '' }, 'all event types'),
    ...opts.map(([v, label]) => el('option', { value: v }, label)));
  typeSel.value = cur;
}

let searchTimer = 0;
$('search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  // Short debounce: typing a word rescans the buffer once, not per letter.
  searchTimer = setTimeout(() => {
    const q = $('search').value.trim().toLowerCase();
    if (q !== filter.q) { filter.q = q; refilter(); }
  }, buffer.length > 20000 ? 120 : 30);
});

$('errors-only').addEventListener('change', () => setErrorsOnly($('errors-only').checked));
$('metric-errors-button').addEventListener('click', () => { setErrorsOnly(!filter.errors); showView('events'); });
function setErrorsOnly(on) {
  filter.errors = on;
  $('errors-only').checked = on;
  $('metric-errors-button').setAttribute('aria-pressed', String(on));
  refilter();
}

function setSessionFilter(sid) {
  filter.sid = sid;
  const chip = $('session-filter');
  chip.hidden = !sid;
  chip.textContent = sid ? `session ${shortId(sid)}` : '';
  chip.title = sid ? `${sid} — click to show all sessions` : '';
  chip.style.setProperty('--sc', sessionColor(sid));
  refilter();
}
$('session-filter').addEventListener('click', () => setSessionFilter(''));

$('follow').addEventListener('change', () => eventList.setFollow($('follow').checked));
$('new-below').addEventListener('click', () => { eventList.scrollToBottom(); $('new-below').hidden = true; });
$('export-button').addEventListener('click', () => exportEvents());
$('clear-button').addEventListener('click', () => clearView());

// ---------------------------------------------------------------- rendering

let lastMetrics = 0;
let lastListRender = 0;
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
function recentRate() {
  countArrivals(0);
  let n = 0;
  for (const x of rateSlots) n += x;
  return n;
}
let lastViewRender = 0;
let lastViewLen = 0;

function render() {
  const now = performance.now();
  if (typesDirty && activeView === 'events') renderTypeOptions();
  if (activeView === 'events') {
    if (view.length !== lastViewLen) {
      if (!eventList.follow && view.length > lastViewLen) {
        const nb = $('new-below');
        nb.hidden = false;
        nb.textContent = `${fmtNum(view.length - eventList.lastSeenLen())} newer ↓`;
      }
      lastViewLen = view.length;
    }
    // Under a flood the list is redrawn at most 20 (over 200 events/s) or 10
    // (over 500 events/s) times a second: nobody reads rows that fast, and
    // each redraw costs a layout and a paint of every visible row.
    const rate = recentRate();
    const gap = rate > 500 ? 100 : rate > 200 ? 50 : 0;
    if (now - lastListRender >= gap) {
      lastListRender = now;
      eventList.update();
    } else trailing(gap - (now - lastListRender));
  }
  // Text and tables at most every 200 ms: cheap, and nobody reads faster. A
  // trailing render shows the last change without waiting for another event.
  if (metricsDirty) {
    if (now - lastMetrics >= 200 || metricsDirty === 'now') {
      lastMetrics = now;
      renderMetrics();
    } else trailing(200 - (now - lastMetrics));
  }
  if (activeViewDirty()) {
    if (now - lastViewRender >= 200) {
      lastViewRender = now;
      renderActiveView();
    } else trailing(200 - (now - lastViewRender));
  }
}

function activeViewDirty() {
  const d = derived.dirty;
  return activeView in d && d[activeView];
}

let trailingTimer = 0;
function trailing(ms) {
  if (trailingTimer) return;
  trailingTimer = setTimeout(() => { trailingTimer = 0; render(); }, Math.max(1, ms));
}

VList.prototype.lastSeenLen = function lastSeenLen() {
  return Math.min(this.src.length, Math.ceil((this.root.scrollTop + this.root.clientHeight) / this.rh));
};

function renderMetrics() {
  metricsDirty = false;
  $('metric-total').textContent = fmtNum(metrics.total);
  $('metric-rate').textContent = fmtNum(chart.perMinute());
  $('metric-types').textContent = fmtNum(metrics.types.size);
  $('metric-errors').textContent = fmtNum(metrics.errors);
  $('metric-errors-button').classList.toggle('has', metrics.errors > 0);
  let all = 0;
  for (const b of nsTabs.children) {
    const n = b.dataset.ns ? metrics.perNs[b.dataset.ns] || 0 : buffer.length;
    all += n;
    const c = b.lastChild;
    const t = fmtNum(b.dataset.ns ? n : buffer.length);
    if (c.textContent !== t) c.textContent = t;
  }
  $('shown-count').textContent = `${fmtNum(view.length)} shown`;
  $('buffer-info').textContent = `${fmtNum(buffer.length)} in page (max ${fmtNum(cfg.capacity)})` +
    (evictedTotal ? ` · ${fmtNum(evictedTotal)} older in History` : '') + (maxSeq ? ` · seq ${maxSeq}` : '');
  $('sessions-count').textContent = derived.sessions.size;
  $('tools-inflight').textContent = derived.inflight;
  renderAttention();
}

function renderAttention() {
  const w = derived.waiting();
  const box = $('attention');
  if (!w.length) { if (!box.hidden) box.hidden = true; document.title = titleFor(); return; }
  box.hidden = false;
  const first = w[0];
  const t = `⚠ ${w.length === 1 ? '1 session is' : `${w.length} sessions are`} waiting for permission: ` +
    w.slice(0, 3).map((s) => `${shortId(s.sid)}${s.cwd ? ' (' + s.cwd.split('/').pop() + ')' : ''}`).join(', ') +
    (first.message ? ` — ${first.message}` : '') + ` · waiting ${fmtDur(Date.now() - first.waitingSince)}`;
  if (box.textContent !== t) box.textContent = t;
  box.dataset.sessions = w.map((s) => s.sid).join(' ');
  document.title = titleFor();
}
$('attention').addEventListener('click', () => showView('sessions'));

function renderActiveView() {
  switch (activeView) {
    case 'sessions': renderSessions(); break;
    case 'tools': renderTools(); break;
    case 'agents': renderAgents(); break;
    case 'todos': renderTodos(); break;
  }
}

setInterval(() => {
  chart.draw();
  metricsDirty = true;
  // Durations of running sessions, tools and agents tick even with no events.
  const d = derived.dirty;
  if (activeView === 'sessions') d.sessions = true;
  if (activeView === 'tools' && derived.inflight) d.tools = true;
  if (activeView === 'agents') d.agents = true;
  render();
}, 1000);

// ---------------------------------------------------------------- views

for (const b of document.querySelectorAll('nav.views [data-view]')) {
  b.addEventListener('click', () => showView(b.dataset.view));
}

function showView(name) {
  activeView = name;
  for (const b of document.querySelectorAll('nav.views [data-view]')) b.setAttribute('aria-selected', String(b.dataset.view === name));
  for (const s of document.querySelectorAll('main > .view')) s.hidden = s.dataset.view !== name;
  if (name === 'events') { typesDirty = true; eventList.invalidate(); }
  if (name === 'tools') { derived.dirty.tools = true; toolList.invalidate(); }
  if (name === 'history') historyList.invalidate();
  for (const k in derived.dirty) derived.dirty[k] = true;
  lastViewRender = 0;
  render();
}

const STATUS_ORDER = { waiting_for_permission: 0, running: 1, compacting: 2, idle: 3, ended: 4 };

function statusBadge(st, label) {
  return el('span', { className: `status ${st}` }, label || st.replaceAll('_', ' '));
}

function renderSessions() {
  if (!derived.dirty.sessions) return;
  derived.dirty.sessions = false;
  const hideEnded = $('sessions-hide-ended').checked;
  const list = [...derived.sessions.values()]
    .filter((s) => !hideEnded || s.status !== 'ended')
    .sort((a, b) => (STATUS_ORDER[a.status] ?? 5) - (STATUS_ORDER[b.status] ?? 5) || b.last - a.last)
    .slice(0, 500);
  const now = Date.now();
  const rows = list.map((s) => {
    const tr = el('tr', { className: s.status === 'waiting_for_permission' ? 'waiting' : '' },
      el('td', null, el('span', { className: 'swatch', style: `background:${sessionColor(s.sid)}` })),
      el('td', { title: s.sid }, shortId(s.sid)),
      el('td', null, statusBadge(s.status)),
      el('td', { title: s.cwd }, s.cwd),
      el('td', null, s.model),
      el('td', null, fmtDateTime(s.start)),
      el('td', { className: 'num' }, fmtDur((s.end ?? (s.status === 'ended' ? s.last : now)) - s.start)),
      el('td', { className: 'num' }, fmtNum(s.count)),
      el('td', { className: 'num' }, fmtNum(s.tools)),
      el('td', null, fmtTime(s.last)));
    tr.dataset.sid = s.sid;
    tr.dataset.status = s.status;
    tr.setAttribute('data-testid', 'session-row');
    return tr;
  });
  const tb = $('sessions-table').tBodies[0];
  tb.replaceChildren(...rows);
  if (!rows.length) tb.append(el('tr', null, el('td', { colSpan: 10, className: 'empty' }, 'No sessions yet: they appear with the first hook event that carries a session_id.')));
}
$('sessions-table').tBodies[0].addEventListener('click', (e) => {
  const tr = e.target.closest('tr[data-sid]');
  if (!tr) return;
  setSessionFilter(tr.dataset.sid);
  showView('events');
});
$('sessions-hide-ended').addEventListener('change', () => { derived.dirty.sessions = true; renderSessions(); });

// Tools: one row per call, pre and post paired by tool_use_id.
const toolRows = { length: 0, at: () => undefined };
let slowThreshold = Infinity;
const toolList = new VList($('tools-list'), {
  rowHeight: ROW,
  create(row) {
    row.classList.add('tl');
    row.setAttribute('data-testid', 'tool-row');
    for (const c of ['st', 'tn', 'sid', 'tm', 'dur', 'inp']) row.append(el('span', { className: c }));
  },
  render(row, c) {
    if (!c) return;
    const k = row.children;
    k[0].textContent = c.status === 'running' ? '◌' : c.status === 'failed' ? '✕' : '✓';
    k[0].title = c.status === 'running' ? 'in flight' : c.status;
    k[1].textContent = c.tool;
    k[2].textContent = shortId(c.sid);
    k[2].className = 'sid';
    k[2].style.setProperty('--sc', sessionColor(c.sid));
    k[3].textContent = fmtTime(c.start ?? c.end);
    k[4].textContent = c.status === 'running' ? (c.start ? `${fmtDur(Date.now() - c.start)}…` : '…') : fmtDur(c.dur);
    k[4].className = 'dur';
    k[5].textContent = c.error ? `${c.error} — ${c.input}` : c.input;
    row.classList.toggle('failed', c.status === 'failed');
    row.classList.toggle('inflight', c.status === 'running');
    row.classList.toggle('slow', c.dur != null && c.dur >= slowThreshold);
    row.dataset.status = c.status === 'running' ? 'inflight' : c.status;
    row.dataset.tool = c.tool;
    row.dataset.toolUseId = c.id;
    row.dataset.duration = c.dur ?? '';
  },
  onClick: (c) => showDetail({ tool_call: c.id, tool: c.tool, status: c.status, duration_ms: c.dur, pre: c.pre && plain(c.pre), post: c.post && plain(c.post) }, `${c.tool} ${c.id}`),
});
toolList.setSource(toolRows);

let toolNamesShown = 0;
function renderTools() {
  if (!derived.dirty.tools) return;
  derived.dirty.tools = false;
  const sort = $('tools-sort').value, only = $('tools-name').value;
  const failedOnly = $('tools-failed-only').checked, inflightOnly = $('tools-inflight-only').checked;
  const durs = [];
  const summary = new Map();
  let rows = [];
  for (const c of derived.toolOrder) {
    let s = summary.get(c.tool);
    if (!s) summary.set(c.tool, (s = { tool: c.tool, calls: 0, failed: 0, running: 0, total: 0, done: 0, max: 0 }));
    s.calls++;
    if (c.status === 'failed') s.failed++;
    if (c.status === 'running') s.running++;
    if (c.dur != null) { s.total += c.dur; s.done++; if (c.dur > s.max) s.max = c.dur; durs.push(c.dur); }
    if (only && c.tool !== only) continue;
    if (failedOnly && c.status !== 'failed') continue;
    if (inflightOnly && c.status !== 'running') continue;
    rows.push(c);
  }
  if (durs.length >= 20) {
    durs.sort((a, b) => a - b);
    slowThreshold = Math.max(1000, durs[Math.floor(durs.length * 0.95)]);
  } else slowThreshold = 5000;
  if (sort === 'slowest') rows.sort((a, b) => (b.dur ?? (b.status === 'running' ? Date.now() - (b.start ?? Date.now()) : -1)) - (a.dur ?? (a.status === 'running' ? Date.now() - (a.start ?? Date.now()) : -1)));
  else if (sort === 'failed') rows.sort((a, b) => (b.status === 'failed') - (a.status === 'failed') || (b.start ?? b.end) - (a.start ?? a.end));
  else rows.reverse();
  toolRows.length = rows.length;
  toolRows.at = (i) => rows[i];
  toolList.invalidate();
  $('tools-shown').textContent = `${fmtNum(rows.length)} calls · ${derived.inflight} in flight`;
  if (derived.toolNames.size !== toolNamesShown) {
    toolNamesShown = derived.toolNames.size;
    const sel = $('tools-name'), cur = sel.value;
    sel.replaceChildren(el('option', { value: '' }, 'all tools'), ...[...derived.toolNames].sort().map((n) => el('option', { value: n }, n)));
    sel.value = cur;
  }
  const sums = [...summary.values()].sort((a, b) => b.failed - a.failed || (b.done ? b.total / b.done : 0) - (a.done ? a.total / a.done : 0));
  $('tools-summary').tBodies[0].replaceChildren(...sums.map((s) => {
    const tr = el('tr', { className: s.failed ? 'failed' : '' },
      el('td', null, s.tool), el('td', { className: 'num' }, fmtNum(s.calls)), el('td', { className: 'num' }, fmtNum(s.failed)),
      el('td', { className: 'num' }, fmtNum(s.running)), el('td', { className: 'num' }, s.done ? fmtDur(s.total / s.done) : ''),
      el('td', { className: 'num' }, s.done ? fmtDur(s.max) : ''));
    tr.dataset.tool = s.tool;
    tr.setAttribute('data-testid', 'tool-summary-row');
    return tr;
  }));
}
for (const id of ['tools-sort', 'tools-name', 'tools-failed-only', 'tools-inflight-only']) {
  $(id).addEventListener('change', () => { derived.dirty.tools = true; renderTools(); });
}
$('tools-summary').tBodies[0].addEventListener('click', (e) => {
  const tr = e.target.closest('tr[data-tool]');
  if (tr) { $('tools-name').value = tr.dataset.tool; derived.dirty.tools = true; renderTools(); }
});

function renderAgents() {
  if (!derived.dirty.agents) return;
  derived.dirty.agents = false;
  const now = Date.now();
  const mk = (rec, cells, kind) => {
    const tr = el('tr', { className: rec.status === 'failed' ? 'failed' : '' },
      el('td', null, el('span', { className: 'swatch', style: `background:${sessionColor(rec.sid)}` })), ...cells);
    tr.dataset.sid = rec.sid;
    tr.dataset.status = rec.status;
    tr.setAttribute('data-testid', kind);
    return tr;
  };
  const dur = (r) => (r.status === 'running' ? `${fmtDur(now - r.start)}…` : fmtDur(r.dur));
  const agents = derived.agentOrder.slice(-500).reverse();
  $('agents-table').tBodies[0].replaceChildren(...agents.map((a) => mk(a, [
    el('td', null, a.agent || '?'), el('td', { title: a.task }, a.task), el('td', { title: a.sid }, shortId(a.sid)),
    el('td', null, statusBadge(a.status)), el('td', null, fmtTime(a.start)), el('td', { className: 'num' }, dur(a))], 'agent-row')));
  if (!agents.length) $('agents-table').tBodies[0].append(el('tr', null, el('td', { colSpan: 7, className: 'empty' }, 'No delegations yet (Task tool calls, /agent events).')));
  const subs = [...derived.subagents.values()].slice(-500).reverse();
  $('subagents-table').tBodies[0].replaceChildren(...subs.map((r) => mk(r, [
    el('td', null, r.type || '?'), el('td', null, r.id), el('td', { title: r.sid }, shortId(r.sid)),
    el('td', null, statusBadge(r.status)), el('td', null, fmtTime(r.start)), el('td', { className: 'num' }, dur(r))], 'subagent-row')));
  if (!subs.length) $('subagents-table').tBodies[0].append(el('tr', null, el('td', { colSpan: 7, className: 'empty' }, 'No subagent runs yet (SubagentStart/SubagentStop hooks).')));
}

let todoSid = '';
function renderTodos() {
  if (!derived.dirty.todos) return;
  derived.dirty.todos = false;
  const lists = [...derived.todos.values()].sort((a, b) => b.ts - a.ts);
  const sel = $('todos-session');
  sel.replaceChildren(...lists.map((l) => el('option', { value: l.sid }, `${shortId(l.sid)} · ${l.stats.completed ?? 0}/${l.stats.total ?? l.todos.length} · ${fmtTime(l.ts)}`)));
  if (!lists.length) {
    $('todos-list').replaceChildren(el('li', { className: 'empty' }, 'No todo list yet (TodoWrite tool calls, /todo events).'));
    $('todos-progress').hidden = true;
    return;
  }
  const cur = derived.todos.get(todoSid) || lists[0];
  sel.value = cur.sid;
  const st = cur.stats;
  const total = st.total ?? cur.todos.length, done = st.completed ?? 0;
  const p = $('todos-progress');
  p.hidden = false;
  p.querySelector('.bar').style.width = total ? `${(100 * done) / total}%` : '0';
  p.querySelector('.txt').textContent = `${done}/${total} completed · ${st.in_progress ?? 0} in progress · ${st.pending ?? 0} pending`;
  p.dataset.completed = done;
  p.dataset.total = total;
  $('todos-updated').textContent = `updated ${fmtDateTime(cur.ts)}`;
  $('todos-list').replaceChildren(...cur.todos.map((t) => {
    const li = el('li', { className: t.status || 'pending' }, el('span', { className: 't' }, t.status === 'in_progress' && t.activeForm ? t.activeForm : t.content ?? JSON.stringify(t)));
    if (t.priority) li.append(el('span', { className: 'muted small' }, t.priority));
    li.dataset.status = t.status || 'pending';
    li.setAttribute('data-testid', 'todo-item');
    return li;
  }));
}
$('todos-session').addEventListener('change', () => { todoSid = $('todos-session').value; derived.dirty.todos = true; renderTodos(); });

// ---------------------------------------------------------------- detail, export, clear

function plain(ev) {
  return { seq: ev.seq, event_id: ev.id, namespace: ev.ns, event: ev.ev, timestamp: ev.data.timestamp ?? new Date(ev.ts).toISOString(), session_id: ev.sid || undefined, data: ev.data };
}

function showDetail(obj, title) {
  const isEv = obj && obj.ns && obj.ev && obj.data;
  const shown = isEv ? plain(obj) : obj;
  $('detail-title').textContent = title || (isEv ? `${obj.ns} ${obj.ev} · seq ${obj.seq ?? '–'}` : '');
  $('detail-json').textContent = JSON.stringify(shown, null, 2);
  const dlg = $('detail-dialog');
  if (!dlg.open) dlg.showModal();
}
$('detail-copy').addEventListener('click', () => {
  navigator.clipboard?.writeText($('detail-json').textContent).then(() => toast('Copied'), () => toast('Copy failed'));
});

function exportEvents() {
  const evs = view.toArray();
  const first = evs[0], last = evs[evs.length - 1];
  const doc = {
    exported_at: new Date().toISOString(),
    server: { url: base, version: server.version || '', pid: server.pid ?? null },
    filters: { namespace: filter.ns || null, event: filter.type ? filter.type.split(' ')[1] : null, search: filter.q || null, session_id: filter.sid || null, errors_only: filter.errors },
    time_range: { from: first ? new Date(first.ts).toISOString() : null, to: last ? new Date(last.ts).toISOString() : null },
    seq_range: { from: first?.seq ?? null, to: last?.seq ?? null },
    count: evs.length,
    page: { buffer_capacity: cfg.capacity, buffered: buffer.length, evicted: evictedTotal },
    events: evs.map(plain),
  };
  const blob = new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
  const a = el('a', { href: url, download: `mpm-events-${stamp}.json` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  toast(`Exported ${fmtNum(evs.length)} events`);
}

/** Clears the page's events and counters; the store keeps them (History). */
function clearView(announce = true) {
  for (const ev of buffer) {
    ev.gone = true;
    if (ev.seq != null && ev.seq > floorSeq) floorSeq = ev.seq;
  }
  buffer.clear();
  seen.clear();
  view.clear();
  metrics.total = 0;
  metrics.errors = 0;
  metrics.types.clear();
  typesByNs.clear();
  for (const k in metrics.perNs) metrics.perNs[k] = 0;
  chart.clear();
  chart.draw();
  typesDirty = true;
  lastViewLen = 0;
  $('new-below').hidden = true;
  eventList.setSource(view);
  metricsDirty = 'now';
  render();
  if (announce) toast('View cleared; History still has every event');
}

let toastTimer = 0;
function toast(msg) {
  const t = $('toast');
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 2500);
}

// ---------------------------------------------------------------- history

const hist = { list: new SeqList(), params: null, last: 0, done: false };
const historyList = new VList($('history-list'), {
  rowHeight: ROW,
  create: makeEventRow,
  render: renderEventRow,
  onClick: (ev) => showDetail(ev),
});
historyList.setSource(hist.list);
{
  const sel = $('history-form').elements.namespace;
  for (const ns of NAMESPACES) sel.append(el('option', { value: ns.slice(1) }, ns));
}

async function historyPage() {
  const q = new URLSearchParams(hist.params);
  if (hist.last) q.set('since_seq', String(hist.last));
  q.set('limit', '1000');
  $('history-status').textContent = 'loading…';
  try {
    const j = await getJSON(`/api/events?${q}`);
    const evs = (j.events || []).map(fromStored).sort((a, b) => a.k - b.k);
    for (const ev of evs) hist.list.arr.push(ev);
    if (evs.length) hist.last = evs[evs.length - 1].seq;
    hist.done = evs.length < 1000;
    $('history-more').disabled = hist.done;
    $('history-status').textContent = `${fmtNum(hist.list.length)} events${hist.done ? '' : ' (more available)'}`;
    historyList.setSource(hist.list);
  } catch (err) {
    $('history-status').textContent = `failed: ${err.message}`;
    if (err.status === 401) askToken(err.message);
  }
}

$('history-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const f = e.target.elements;
  const p = {};
  for (const k of ['namespace', 'event', 'session_id', 'q']) if (f[k].value.trim()) p[k] = f[k].value.trim();
  for (const k of ['since', 'until']) if (f[k].value) p[k] = new Date(f[k].value).toISOString();
  hist.params = p;
  hist.list.clear();
  hist.last = parseInt(f.since_seq.value, 10) || 0;
  historyPage();
});
$('history-more').addEventListener('click', () => historyPage());

// ---------------------------------------------------------------- keyboard

document.addEventListener('keydown', (e) => {
  const mod = e.ctrlKey || e.metaKey;
  const k = e.key.toLowerCase();
  if (mod && !e.shiftKey && !e.altKey && k === 'k') {
    e.preventDefault();
    if (activeView !== 'events') showView('events');
    $('search').focus();
    $('search').select();
  } else if (mod && !e.shiftKey && !e.altKey && k === 'e') {
    e.preventDefault();
    exportEvents();
  } else if (mod && !e.shiftKey && !e.altKey && k === 'r') {
    // Ctrl/Cmd+R clears the view instead of reloading the page.
    e.preventDefault();
    clearView();
  } else if (k === 'escape') {
    let closed = false;
    for (const d of document.querySelectorAll('dialog[open]')) { d.close(); closed = true; }
    if (!closed && document.activeElement === $('search')) $('search').blur();
  }
});
$('help-button').addEventListener('click', () => $('help-dialog').showModal());

// ---------------------------------------------------------------- start

setState('idle', 'not connected');
updateConnInfo();
chart.draw();
if (cfg.autoconnect) connect();
