// The mpm dashboard: sessions first, as mpmd's session model has them
// (GET /api/sessions…), kept live by the events the page follows on all
// eight namespaces (history first, then live, resuming by seq). The views
// are Preact components reading one store (store/); the browser renders,
// it derives nothing about sessions, agents or tools.
import { render } from 'preact';
import { App } from './components/App.jsx';
import { cfg } from './config.js';
import { stream, connect, conn, nsSeq, perf, probe } from './store/live.js';
import { loadSessions, sessions, modelSeq, fetches } from './store/sessions.js';
import { openTimes, entries, current } from './store/session.js';
import { VList } from './vlist.js';
import './keyboard.js';

/* global SIO_VERSION */
render(<App version={typeof SIO_VERSION === 'string' ? SIO_VERSION : ''} />, document.body);

// Read-only numbers for the browser tests and the benchmark.
window.__mpm = {
  perf,
  get bufferLength() { return stream.buffer.length; },
  get viewLength() { return stream.view.length; },
  get maxSeq() { return probe.maxSeq; },
  get historySeq() { return probe.historySeq; },
  get evicted() { return stream.evicted; },
  nsSeq,
  seqs: () => stream.buffer.toArray().filter((e) => e.seq != null).map((e) => e.seq),
  viewSeqs: () => stream.view.toArray().map((e) => e.seq),
  events: () => stream.buffer.toArray().filter((e) => e.seq != null).map((e) => [e.seq, e.ns, e.ev]),
  get pending() { return probe.pending; },
  /** Nothing received is waiting to be ingested or drawn. */
  get settled() { return !probe.flushing && !probe.pending && ![...VList.all].some((l) => l.pending); },
  /** Delivery latency of live events carrying bench_sent (ms since epoch). */
  latencies(from) {
    const l = [];
    for (const e of stream.buffer) if (e.at && typeof e.data.bench_sent === 'number' && e.data.bench_sent >= from) l.push(e.at - e.data.bench_sent);
    l.sort((a, b) => a - b);
    const q = (p) => (l.length ? l[Math.min(l.length - 1, Math.floor(l.length * p))] : 0);
    return { n: l.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: l.length ? l[l.length - 1] : 0 };
  },
  get connected() { return conn.value.state === 'connected'; },
  get connectedAt() { return conn.value.connectedAt; },
  get state() { return conn.value.state; },
  get sessions() { return sessions.value.length; },
  get modelSeq() { return modelSeq.value; },
  get sessionFetches() { return fetches.n; },
  /** The last session page opened: ms to the first page of entries, to all of them, to the first frame showing them. */
  get sessionOpen() { return { ...openTimes, entries: entries.value.length, loading: current.value.loading }; },
};

if (cfg.autoconnect) {
  loadSessions(); // at once, while the history loads; again once connected
  connect();
}
