// The sessions as mpmd's session model has them (GET /api/sessions). The
// page derives nothing: when events of a session arrive on the namespaces
// it follows, it asks mpmd which sessions changed since the model's seq it
// last saw (?changed_since=), debounced, and replaces those.

import { signal, computed } from '@preact/signals';
import { api } from '../api.js';
import { onBatch, onStoreReset, recentRate, conn } from './live.js';

/** Every session, those that need the user first (see order). */
export const sessions = signal([]);
/** Sessions whose attention is set (a permission wait or a failure). */
export const attention = computed(() => sessions.value.filter((s) => s.attention && s.status !== 'ended'));
/** The model's seq the list is as of. */
export const modelSeq = signal(0);
export const sessionsError = signal('');

const byId = new Map();
/** Cost of each session as the page saw it change: id → [[ms, usd]…], for the cost chart. */
export const costSamples = new Map();
const changeListeners = new Set();
/** fn(session) is called when a session's last_seq moved (the session page refreshes). */
export function onSessionChanged(fn) { changeListeners.add(fn); return () => changeListeners.delete(fn); }

// Sessions that need the user first, then the working ones, then idle,
// then ended; most recent activity first within each — the order mpmd's
// list has (pkg/session ListChanged), kept as updates come one by one.
function rank(s) {
  if (s.attention && s.status !== 'ended') return 0;
  if (s.status === 'running' || s.status === 'waiting_for_permission' || s.status === 'compacting') return 1;
  if (s.status === 'idle') return 2;
  return 3;
}
function order(a, b) {
  return rank(a) - rank(b) || (Date.parse(b.last_activity) || 0) - (Date.parse(a.last_activity) || 0) || (a.session_id < b.session_id ? -1 : a.session_id > b.session_id ? 1 : 0);
}

function sample(s) {
  const c = s.usage && s.usage.cost_usd;
  if (typeof c !== 'number') return;
  let l = costSamples.get(s.session_id);
  if (!l) costSamples.set(s.session_id, (l = []));
  if (l.length && l[l.length - 1][1] === c) return;
  l.push([Date.now(), c]);
  if (l.length > 5000) l.splice(0, l.length - 5000);
}

function merge(list, full) {
  if (full) byId.clear();
  const moved = [];
  for (const s of list) {
    const old = byId.get(s.session_id);
    if (!old || old.last_seq !== s.last_seq) moved.push(s);
    byId.set(s.session_id, s);
    sample(s);
  }
  sessions.value = [...byId.values()].sort(order);
  for (const s of moved) for (const fn of changeListeners) fn(s);
}

export function getSession(id) { return byId.get(id); }

// ---------------------------------------------------------------- refresh

let wantSeq = 0; // the highest seq of a model input (/hook, /claude) the page received
let inflight = false;
let again = false;
let timer = 0;
let lastFetch = 0;
let retries = 0;
export const fetches = { n: 0 };

let againFull = false;

async function refresh(full = false) {
  if (inflight) { again = true; againFull ||= full; return; }
  inflight = true;
  lastFetch = performance.now();
  fetches.n++;
  try {
    const since = full ? 0 : modelSeq.value;
    const j = await api.sessions(since);
    merge(j.sessions || [], full || since === 0);
    modelSeq.value = Math.max(full ? 0 : modelSeq.value, j.seq || 0);
    sessionsError.value = '';
    // The model applies committed events a moment after they are
    // broadcast: ask again until it has seen what the page has.
    if (modelSeq.value < wantSeq && retries++ < 40) again = true;
    else retries = 0;
  } catch (err) {
    sessionsError.value = err.message;
  } finally {
    inflight = false;
    if (again && againFull) { again = againFull = false; refresh(true); } else if (again) { again = false; schedule(150); }
  }
}

/** Asks for changed sessions soon: at most every 400 ms, every second under a flood. */
function schedule(delay = 80) {
  if (timer) return;
  const gap = recentRate() > 200 ? 1000 : 400;
  const wait = Math.max(delay, gap - (performance.now() - lastFetch));
  timer = setTimeout(() => { timer = 0; refresh(); }, wait);
}

onBatch((batch) => {
  let touched = false;
  for (const ev of batch) {
    if (!ev.sid) continue;
    touched = true;
    if ((ev.ns === '/hook' || ev.ns === '/claude') && ev.seq > wantSeq) wantSeq = ev.seq;
  }
  if (touched) schedule();
});

onStoreReset(() => { wantSeq = 0; modelSeq.value = 0; refresh(true); });

/** The first full list; the connection's events keep it current from then on. */
export function loadSessions() { return refresh(modelSeq.value === 0); }

// On every (re)connection: what changed while the page was away.
let lastState = '';
conn.subscribe((c) => {
  if (c.state === 'connected' && lastState !== 'connected') loadSessions();
  lastState = c.state;
});

/** Whether the list hides ended sessions (kept for the tab). */
export const hideEnded = signal((() => { try { return sessionStorage.getItem('mpm.hideEnded') === '1'; } catch { return false; } })());
/** The sessions the list shows, in its order: what j/k move through. */
export const visibleSessions = computed(() => (hideEnded.value ? sessions.value.filter((s) => s.status !== 'ended') : sessions.value));
/** The highlighted row of the list (j/k, arrows), by session id. */
export const selectedId = signal('');

/** The session n rows after (or before, n < 0) from in the list, or '' at either end. */
export function stepSession(from, n) {
  const l = visibleSessions.value;
  if (!l.length) return '';
  const i = l.findIndex((s) => s.session_id === from);
  if (i < 0) return l[n > 0 ? 0 : l.length - 1].session_id;
  const j = Math.min(l.length - 1, Math.max(0, i + n));
  return l[j].session_id;
}
