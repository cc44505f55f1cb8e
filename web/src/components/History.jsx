// History: queries mpmd's store directly (/api/events), so it reaches
// events the page never held or has let go; 1,000 at a time, oldest first.
import { useRef, useState } from 'preact/hooks';
import { api } from '../api.js';
import { SeqList } from '../seqlist.js';
import { NAMESPACES, fmtNum } from '../util.js';
import { fromStored } from '../store/stream.js';
import { askToken } from '../store/live.js';
import { EventList } from './EventList.jsx';

export function History() {
  const listRef = useRef(null);
  const st = useRef({ list: new SeqList(), params: null, last: 0 });
  const [status, setStatus] = useState('');
  const [done, setDone] = useState(true);

  async function page() {
    const h = st.current;
    const q = new URLSearchParams(h.params);
    if (h.last) q.set('since_seq', String(h.last));
    q.set('limit', '1000');
    setStatus('loading…');
    try {
      const j = await api.events(q);
      const evs = (j.events || []).map(fromStored).sort((a, b) => a.k - b.k);
      for (const ev of evs) h.list.arr.push(ev);
      if (evs.length) h.last = evs[evs.length - 1].seq;
      const end = evs.length < 1000;
      setDone(end);
      setStatus(`${fmtNum(h.list.length)} events${end ? '' : ' (more available)'}`);
      listRef.current?.setSource(h.list);
    } catch (err) {
      setStatus(`failed: ${err.message}`);
      if (err.status === 401) askToken(err.message);
    }
  }

  function submit(e) {
    e.preventDefault();
    const f = e.currentTarget.elements;
    const p = {};
    for (const k of ['namespace', 'event', 'session_id', 'q']) if (f[k].value.trim()) p[k] = f[k].value.trim();
    for (const k of ['since', 'until']) if (f[k].value) p[k] = new Date(f[k].value).toISOString();
    const h = st.current;
    h.params = p;
    h.list.clear();
    h.last = parseInt(f.since_seq.value, 10) || 0;
    page();
  }

  return (
    <div class="history">
      <form class="toolbar wrap" data-testid="history-form" onSubmit={submit}>
        <select name="namespace" aria-label="Namespace"><option value="">all namespaces</option>{NAMESPACES.map((ns) => <option value={ns.slice(1)}>{ns}</option>)}</select>
        <input name="event" placeholder="event" size={12} spellcheck={false} />
        <input name="session_id" placeholder="session id" size={14} spellcheck={false} />
        <input name="q" type="search" placeholder="text" size={16} spellcheck={false} />
        <label class="small">from <input name="since" type="datetime-local" step="1" /></label>
        <label class="small">to <input name="until" type="datetime-local" step="1" /></label>
        <input name="since_seq" placeholder="after seq" size={8} inputMode="numeric" />
        <button type="submit" data-testid="history-search">Search</button>
        <span class="spacer" />
        <span class="muted small" data-testid="history-status">{status}</span>
        <button type="button" data-testid="history-more" disabled={done} onClick={page}>Load more</button>
      </form>
      <div class="rowhead ev"><span>seq</span><span>time</span><span>namespace</span><span>event</span><span>session</span><span>summary</span></div>
      <EventList testid="history-list" listRef={listRef} source={() => st.current.list} />
    </div>
  );
}
