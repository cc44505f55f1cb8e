// The open session page's data, as mpmd serves it: the Session with its
// agents, tasks and calls in flight (GET /api/sessions/{id}), the
// conversation (…/transcript, every page) and the tool calls (…/tools).
// When the session list says the session moved on (its last_seq grew), the
// page asks again for the detail and for the tail of the conversation and
// of the tool calls; a conversation whose earlier part changed is read again
// whole.

import { signal } from '@preact/signals';
import { api } from '../api.js';
import { cfg } from '../config.js';
import { EventStream, fromStored } from './stream.js';
import { onBatch, recentRate } from './live.js';
import { onSessionChanged } from './sessions.js';

const PAGE = 2000; // the API's largest page

/** The open session: {id, detail, error, loading}. */
export const current = signal({ id: '', detail: null, error: '', loading: false });
/** Its conversation entries, in the API's order. */
export const entries = signal([]);
/** Its tool calls, in the order they started. */
export const tools = signal([]);
/** Timings of the last open, for the tests and docs/PERFORMANCE-dashboard.md. */
export const openTimes = { id: '', start: 0, firstPage: 0, loaded: 0, total: 0 };

/** The session's own events (the Events tab): its stored events, then live ones. */
export let sessionStream = null;
let streamLoaded = false;
let ctl = null; // aborts the open session's requests when another opens

export const entryKey = (e) => `${e.kind}|${e.seq}|${e.agent_id}|${e.tool ? e.tool.tool_use_id : ''}`;

/** The first page is small, so the page draws at once; the rest follows in pages of 2,000. */
const FIRST = 300;

async function rest(fetchPage, listKey, from, total, signal) {
  const pages = [];
  for (let off = from; off < total; off += PAGE) pages.push(fetchPage(off, PAGE, { signal }));
  return (await Promise.all(pages)).flatMap((p) => p[listKey] || []);
}

/** Every item of a paged list. */
async function readAll(fetchPage, listKey, signal) {
  const j = await fetchPage(0, PAGE, { signal });
  const l = j[listKey] || [];
  return l.concat(await rest(fetchPage, listKey, l.length, j.total || 0, signal));
}

export async function openSession(id) {
  if (current.value.id === id && !current.value.error) return;
  ctl?.abort();
  ctl = new AbortController();
  const signal = ctl.signal;
  current.value = { id, detail: null, error: '', loading: true };
  entries.value = [];
  tools.value = [];
  sessionStream = new EventStream(Math.min(cfg.capacity, 50000));
  sessionStream.setFilter({ sid: id });
  streamLoaded = false;
  Object.assign(openTimes, { id, start: performance.now(), firstPage: 0, loaded: 0, total: 0, firstDrawn: 0, rendered: 0 });
  const tx = (o, l, opts) => api.transcript(id, o, l, opts);
  const tl = (o, l, opts) => api.tools(id, o, l, opts);
  try {
    const toolsP = readAll(tl, 'tools', signal);
    toolsP.catch(() => {}); // its failure is the one awaited below, or moot once the first requests failed
    const [detail, first] = await Promise.all([api.session(id, { signal }), tx(0, FIRST, { signal })]);
    if (signal.aborted) return;
    const got = first.entries || [];
    const total = first.total ?? got.length;
    current.value = { id, detail, error: '', loading: got.length < total };
    entries.value = got;
    openTimes.firstPage = performance.now() - openTimes.start;
    openTimes.total = total;
    const [more, allTools] = await Promise.all([rest(tx, 'entries', got.length, total, signal), toolsP]);
    if (signal.aborted) return;
    if (more.length) entries.value = got.concat(more);
    tools.value = allTools;
    current.value = { ...current.value, loading: false };
    openTimes.loaded = performance.now() - openTimes.start;
  } catch (err) {
    if (signal.aborted) return;
    current.value = { id, detail: null, error: err.status === 404 ? `mpmd knows no session ${id}.` : err.message, loading: false };
  }
}

export function closeSession() {
  ctl?.abort();
  ctl = null;
  current.value = { id: '', detail: null, error: '', loading: false };
  entries.value = [];
  tools.value = [];
  sessionStream = null;
}

/** Loads the session's stored events into its stream (once; live ones keep coming). */
export async function loadSessionEvents() {
  if (streamLoaded || !sessionStream) return;
  streamLoaded = true;
  const s = sessionStream, id = current.value.id;
  try {
    const j = await api.events({ session_id: id, order: 'desc', limit: 10000 });
    if (s !== sessionStream) return;
    s.add((j.events || []).map(fromStored).sort((a, b) => a.k - b.k));
    s.changed('events');
  } catch { streamLoaded = false; }
}

onBatch((batch) => {
  const s = sessionStream;
  if (!s) return;
  const id = current.value.id;
  const mine = batch.filter((ev) => ev.sid === id);
  if (mine.length && s.add(mine)) s.changed('events');
});

// ---------------------------------------------------------------- refresh

let timer = 0;
let busy = false;
let again = false;

onSessionChanged((s) => {
  if (s.session_id !== current.value.id) return;
  // A page opened before mpmd knew its session (a shared link, a session
  // just starting) reads it once it appears.
  if (current.value.error) { openSession(s.session_id); return; }
  if (!current.value.detail) return;
  if (timer) return;
  timer = setTimeout(() => { timer = 0; refresh(); }, recentRate() > 200 ? 1000 : 250);
});

/** The tail of a list from where it may have changed, merged by key; null: read it all again. */
async function tail(list, fetchPage, listKey, key, firstLive, signal) {
  const from = Math.max(0, Math.min(list.length - 50, firstLive));
  const got = [];
  let total = 0;
  for (let off = from; ; off += PAGE) {
    const j = await fetchPage(off, PAGE, { signal });
    const l = j[listKey] || [];
    got.push(...l);
    total = j.total ?? 0;
    if (off + l.length >= total || !l.length) break;
  }
  if (from < list.length && (!got.length || key(got[0]) !== key(list[from]))) return null; // something was inserted before `from`
  return list.slice(0, from).concat(got);
}

async function refresh() {
  if (busy) { again = true; return; }
  busy = true;
  const id = current.value.id;
  const signal = ctl?.signal;
  try {
    // Live items (a tool call still running, a subagent still working) may
    // change where they are; read from the first one, within the last 2,000.
    const es = entries.value;
    let firstLive = es.length;
    for (let i = Math.max(0, es.length - PAGE); i < es.length; i++) {
      const e = es[i];
      if ((e.tool && e.tool.status === 'running') || (e.agent && e.agent.status === 'running')) { firstLive = i; break; }
    }
    const ts = tools.value;
    let firstTool = ts.length;
    for (let i = Math.max(0, ts.length - PAGE); i < ts.length; i++) if (ts[i].status === 'running') { firstTool = i; break; }
    const [detail, es2, ts2] = await Promise.all([
      api.session(id, { signal }),
      tail(es, (o, l, opts) => api.transcript(id, o, l, opts), 'entries', entryKey, firstLive, signal),
      tail(ts, (o, l, opts) => api.tools(id, o, l, opts), 'tools', (t) => t.tool_use_id, firstTool, signal),
    ]);
    if (signal?.aborted || id !== current.value.id) return;
    current.value = { ...current.value, detail };
    entries.value = es2 ?? (await readAll((o, l, opts) => api.transcript(id, o, l, opts), 'entries', signal));
    tools.value = ts2 ?? (await readAll((o, l, opts) => api.tools(id, o, l, opts), 'tools', signal));
  } catch { /* the next change asks again */ } finally {
    busy = false;
    if (again) { again = false; refresh(); }
  }
}
