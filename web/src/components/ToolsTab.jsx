// A session's tool calls as mpmd paired them (GET …/tools): status,
// agent, tool, start, duration, the input's gist and the error; newest
// first, or slowest, or failed first. Click one to read it in the
// conversation.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { tools, current } from '../store/session.js';
import { clock } from '../store/clock.js';
import { go, sessionPath } from '../store/router.js';
import { VList } from '../vlist.js';
import { el, fmtDur, fmtNum, fmtTime, shortId, toMs } from '../util.js';

const ICON = { completed: '✓', failed: '✕', denied: '⊘', interrupted: '◼', running: '◌' };

function dur(c, now) {
  return c.status === 'running' ? now - toMs(c.started_at) : c.duration_ms ?? -1;
}

export function ToolsTab({ id }) {
  const all = tools.value;
  const now = clock.value;
  const [sort, setSort] = useState('recent');
  const [status, setStatus] = useState('');
  const ref = useRef(null);
  const list = useRef(null);
  const agents = current.value.detail?.agents || [];
  const names = useMemo(() => new Map(agents.map((a) => [a.agent_id, a.agent_type])), [agents]);
  const rows = useMemo(() => {
    let r = status ? all.filter((c) => c.status === status) : all.slice();
    if (sort === 'slowest') r.sort((a, b) => dur(b, now) - dur(a, now));
    else if (sort === 'failed') r.sort((a, b) => (b.status === 'failed') - (a.status === 'failed') || toMs(b.started_at) - toMs(a.started_at));
    else r.reverse();
    return r;
  }, [all, sort, status, sort === 'slowest' ? now : 0]);
  useEffect(() => {
    list.current = new VList(ref.current, {
      rowHeight: 24,
      create(row) {
        row.classList.add('tl');
        row.setAttribute('data-testid', 'tool-row');
        for (const c of ['st', 'ag', 'tn', 'tm', 'dur', 'inp']) row.append(el('span', { className: c }));
      },
      render(row, c) {
        if (!c) return;
        const k = row.children;
        k[0].textContent = ICON[c.status] || '•';
        k[0].title = c.status;
        k[1].textContent = c.agent_id === 'main' ? 'main' : `${names.get(c.agent_id) || 'agent'} ${shortId(c.agent_id)}`;
        k[2].textContent = c.tool_name;
        k[3].textContent = fmtTime(toMs(c.started_at));
        k[4].textContent = c.status === 'running' ? `${fmtDur(Date.now() - toMs(c.started_at))}…` : fmtDur(c.duration_ms);
        k[5].textContent = c.error ? `${c.error} — ${c.summary || ''}` : c.summary || '';
        row.className = `vrow tl ${c.status}`;
        row.dataset.status = c.status;
        row.dataset.toolUseId = c.tool_use_id;
        row.dataset.duration = c.duration_ms ?? '';
        row.dataset.agent = c.agent_id;
      },
      onClick: (c) => go(sessionPath(id, 'conversation', c.tool_use_id)),
    });
    return () => list.current.destroy();
  }, []);
  useEffect(() => { list.current.setSource({ length: rows.length, at: (i) => rows[i] }); }, [rows, now]);
  const counts = {};
  for (const c of all) counts[c.status] = (counts[c.status] || 0) + 1;
  return (
    <div class="toolstab">
      <div class="toolbar">
        <select data-testid="tools-sort" aria-label="Sort tool calls" value={sort} onChange={(e) => setSort(e.currentTarget.value)}>
          <option value="recent">newest first</option><option value="slowest">slowest first</option><option value="failed">failed first</option>
        </select>
        <select data-testid="tools-status" aria-label="Status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          <option value="">every status</option>
          {['running', 'completed', 'failed', 'denied', 'interrupted'].map((s) => <option value={s}>{s} ({fmtNum(counts[s] || 0)})</option>)}
        </select>
        <span class="spacer" /><span class="muted small" data-testid="tools-shown">{fmtNum(rows.length)} calls · {fmtNum(counts.running || 0)} in flight</span>
      </div>
      <div class="rowhead tl"><span /><span>agent</span><span>tool</span><span>started</span><span>duration</span><span>input</span></div>
      <div class="vlist" data-testid="tools-list" ref={ref} />
    </div>
  );
}
