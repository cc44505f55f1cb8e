// EventStream: a list of events in seq order with what the event log shows
// of it — de-duplication, a bounded buffer whose oldest events leave first,
// per-namespace counts, the types seen, and the filtered view. The page has
// one for everything it follows (fed by the connection) and one for the
// session page's own events. Nothing here interprets Claude Code's events:
// sessions, agents and tools come from mpmd's API.

import { SeqList } from '../seqlist.js';
import { NAMESPACES, isErrorEvent } from '../util.js';

let counter = 0; // arrival order, for events without a seq

/** An event as the page keeps it; payload is what the socket delivered. */
export function makeEvent(ns, name, payload, fromHistory, maxSeq = 0) {
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

/** An event from /api/events as the page keeps it. */
export function fromStored(e) {
  const ns = e.namespace && e.namespace[0] !== '/' ? '/' + e.namespace : e.namespace;
  const data = Object.assign({}, e.data, { event_id: e.event_id, seq: e.seq });
  if (data.timestamp == null && e.timestamp) data.timestamp = e.timestamp;
  if (data.session_id == null && e.session_id) data.session_id = e.session_id;
  return makeEvent(ns, e.event, data, true);
}

/** The event as exported and shown in its details. */
export function plain(ev) {
  return { seq: ev.seq, event_id: ev.id, namespace: ev.ns, event: ev.ev, timestamp: ev.data.timestamp ?? new Date(ev.ts).toISOString(), session_id: ev.sid || undefined, data: ev.data };
}

/** Lower-cased searchable text of an event, computed on first search. */
function text(ev) {
  if (ev.t === null) ev.t = `${ev.ns} ${ev.ev} ${JSON.stringify(ev.data)}`.toLowerCase();
  return ev.t;
}

export class EventStream {
  constructor(capacity) {
    this.capacity = capacity;
    this.filter = { ns: '', type: '', q: '', sid: '', errors: false };
    this.listeners = new Set();
    this.reset();
  }

  reset() {
    this.buffer = new SeqList();
    this.view = new SeqList();
    this.seen = new Set();
    this.floorSeq = 0; // events at or below this seq were dropped or cleared: never re-add
    this.evicted = 0;
    this.metrics = { total: 0, errors: 0, types: new Set(), perNs: Object.fromEntries(NAMESPACES.map((n) => [n, 0])) };
    this.typesByNs = new Map();
    this.typesDirty = true;
    this.onEvict = null; // (rows dropped from the view) → the list keeps still
  }

  matches(ev) {
    const f = this.filter;
    if (f.ns && ev.ns !== f.ns) return false;
    if (f.type && `${ev.ns} ${ev.ev}` !== f.type) return false;
    if (f.sid && ev.sid !== f.sid) return false;
    if (f.errors && !ev.err) return false;
    if (f.q && !text(ev).includes(f.q)) return false;
    return true;
  }

  /** Adds a batch: dedupe, buffer, counts, filtered view; returns how many were new. */
  add(batch) {
    let added = 0;
    const m = this.metrics;
    for (const ev of batch) {
      const key = ev.id || (ev.seq != null ? `#${ev.seq}` : '');
      if (key) {
        if (this.seen.has(key)) continue;
        if (ev.seq != null && ev.seq <= this.floorSeq) continue;
        this.seen.add(key);
      }
      ev.key = key;
      this.buffer.insert(ev);
      added++;
      m.total++;
      m.perNs[ev.ns] = (m.perNs[ev.ns] || 0) + 1;
      if (ev.err) m.errors++;
      const tkey = `${ev.ns} ${ev.ev}`;
      if (!m.types.has(tkey)) {
        m.types.add(tkey);
        let s = this.typesByNs.get(ev.ns);
        if (!s) this.typesByNs.set(ev.ns, (s = new Set()));
        s.add(ev.ev);
        this.typesDirty = true;
      }
      if (this.matches(ev)) this.view.insert(ev);
    }
    if (this.buffer.length > this.capacity) this.evict(this.buffer.length - this.capacity);
    return added;
  }

  evict(n) {
    const gone = this.buffer.shift(n);
    const m = this.metrics;
    for (const ev of gone) {
      ev.gone = true;
      this.seen.delete(ev.key);
      if (ev.seq != null && ev.seq > this.floorSeq) this.floorSeq = ev.seq;
      m.perNs[ev.ns]--;
      if (ev.err) m.errors--;
    }
    this.evicted += gone.length;
    const dropped = this.view.dropWhile((ev) => ev.gone);
    if (dropped && this.onEvict) this.onEvict(dropped);
  }

  /** Empties the stream; events at or below the newest seq it held never come back. */
  clear() {
    let floor = this.floorSeq;
    for (const ev of this.buffer) {
      ev.gone = true;
      if (ev.seq != null && ev.seq > floor) floor = ev.seq;
    }
    const cap = this.capacity;
    this.reset();
    this.capacity = cap;
    this.floorSeq = floor;
    this.changed('clear');
  }

  setFilter(patch) {
    Object.assign(this.filter, patch);
    if ('ns' in patch && this.filter.type && patch.ns && !this.filter.type.startsWith(patch.ns + ' ')) this.filter.type = '';
    if ('ns' in patch) this.typesDirty = true;
    this.view.clear();
    for (const ev of this.buffer) if (this.matches(ev)) this.view.arr.push(ev);
    this.changed('filter');
  }

  /** The types seen, for the type filter: [value, label] for the chosen namespace or all. */
  typeOptions() {
    const opts = [];
    const ns = this.filter.ns;
    for (const n of ns ? [ns] : NAMESPACES) {
      const s = this.typesByNs.get(n);
      if (!s) continue;
      for (const e of [...s].sort()) opts.push([`${n} ${e}`, ns ? e : `${n.slice(1)} · ${e}`]);
    }
    return opts;
  }

  subscribe(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); }
  changed(why) { for (const fn of this.listeners) fn(why); }
}
