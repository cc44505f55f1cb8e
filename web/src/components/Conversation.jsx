// A session's conversation, virtualised: only the entries on screen (and a
// few around them) are in the page, measured as they render, so a session
// of 5,000 entries opens and scrolls like one of 50. Subagents' entries sit
// under the Agent call that spawned them (folding with one click); a live
// session follows its newest entry while the view is at the bottom; the
// place is kept for a reload, and ?call= jumps to one tool call.
import { useEffect, useLayoutEffect, useMemo, useReducer, useRef, useState } from 'preact/hooks';
import { Virtualizer, observeElementRect, observeElementOffset, elementScroll, measureElement } from '@tanstack/virtual-core';
import { current, entries, tools, openTimes } from '../store/session.js';
import { clock } from '../store/clock.js';
import { layout } from '../conversation.js';
import { agentColor, fmtNum, shortId } from '../util.js';
import { Entry } from './Entry.jsx';

const ESTIMATE = { prompt: 60, text: 90, thinking: 34, tool: 40, agent_start: 28, agent_end: 44, task_notification: 28, failure: 60, final_message: 80 };
const expandedBySession = new Map(); // session id → keys of open thinking and tool entries
const placeKey = (id) => `mpm.place.${id}`;

export function agentColors(detail) {
  const m = new Map([['main', agentColor(0)]]);
  (detail?.agents || []).forEach((a, i) => m.set(a.agent_id, agentColor(i + 1)));
  return (id) => m.get(id) || agentColor(7);
}

export function Conversation({ id, call, active }) {
  const cur = current.value;
  const detail = cur.detail;
  const list = entries.value;
  const toolList = tools.value;
  const now = clock.value;
  const [nested, setNested] = useState(true);
  const [only, setOnly] = useState('');
  const [collapsed, setCollapsed] = useState(() => new Set());
  const [expanded, setExpanded] = useState(() => expandedBySession.get(id) || new Set());
  const [target, setTarget] = useState('');
  const [, rerender] = useReducer((x) => x + 1, 0);
  const scrollRef = useRef(null);
  const placed = useRef(false);
  const jumped = useRef('');
  const atEnd = useRef(false);

  const rows = useMemo(() => layout(list, { collapsed, nested, only }), [list, collapsed, nested, only]);
  const rowsRef = useRef(rows);
  rowsRef.current = rows;

  const opts = {
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: (i) => ESTIMATE[rowsRef.current[i]?.e.kind] || 50,
    getItemKey: (i) => rowsRef.current[i]?.key ?? i,
    observeElementRect, observeElementOffset, scrollToFn: elementScroll, measureElement,
    overscan: 6,
    onChange: () => rerender(),
  };
  const v = useMemo(() => new Virtualizer(opts), []);
  v.setOptions(opts);
  useLayoutEffect(() => v._didMount(), []);
  useLayoutEffect(() => { v._willUpdate(); });

  const ctx = useMemo(() => ({
    tools: new Map(toolList.map((t) => [t.tool_use_id, t])),
    agents: new Map((detail?.agents || []).map((a) => [a.agent_id, a])),
    color: agentColors(detail),
  }), [toolList, detail]);
  ctx.now = now;
  ctx.expanded = expanded;
  ctx.collapsed = collapsed;
  ctx.target = target;
  ctx.toggle = (key) => {
    const s = new Set(expanded);
    if (s.has(key)) s.delete(key); else s.add(key);
    expandedBySession.set(id, s);
    setExpanded(s);
  };
  ctx.fold = (agentIds) => {
    const s = new Set(collapsed);
    const fold = !agentIds.some((a) => s.has(a));
    for (const a of agentIds) if (fold) s.add(a); else s.delete(a);
    setCollapsed(s);
  };

  const loaded = !!detail && !cur.loading;
  const live = detail && detail.status !== 'ended';

  // Where to open: the call asked for, else where the reader was, else the
  // newest entry of a live session or the first of an ended one.
  useLayoutEffect(() => {
    if (!loaded || !rows.length || placed.current) return;
    placed.current = true;
    if (call) return;
    let saved = '';
    try { saved = sessionStorage.getItem(placeKey(id)) || ''; } catch { /* private */ }
    const i = saved ? rows.findIndex((r) => r.key === saved) : -1;
    if (i >= 0) v.scrollToIndex(i, { align: 'start' });
    else if (live) v.scrollToIndex(rows.length - 1, { align: 'end' });
  }, [loaded, rows]);

  useEffect(() => {
    if (!loaded || !call || jumped.current === call) return;
    const i = rows.findIndex((r) => r.e.tool && r.e.tool.tool_use_id === call);
    if (i < 0) {
      // Folded away, or another agent filtered: show everything, then jump.
      if (collapsed.size || only) { setCollapsed(new Set()); setOnly(''); }
      return;
    }
    jumped.current = call;
    placed.current = true;
    setTarget(call);
    v.scrollToIndex(i, { align: 'center' });
    // Measured heights can move it; settle once more after they are known.
    requestAnimationFrame(() => requestAnimationFrame(() => v.scrollToIndex(i, { align: 'center' })));
  }, [loaded, call, rows]);

  // Follow a live session's newest entry while the reader is at the bottom.
  const prevLen = useRef(0);
  useLayoutEffect(() => {
    if (placed.current && atEnd.current && rows.length > prevLen.current && prevLen.current > 0) v.scrollToIndex(rows.length - 1, { align: 'end' });
    prevLen.current = rows.length;
  }, [rows]);

  // Open-time measurement: the first frame with entries drawn, and the
  // first with the whole conversation laid out.
  useEffect(() => {
    if (openTimes.id !== id || !rows.length) return;
    if (!openTimes.firstDrawn) requestAnimationFrame(() => { openTimes.firstDrawn = performance.now() - openTimes.start; });
    if (loaded && !openTimes.rendered) requestAnimationFrame(() => { openTimes.rendered = performance.now() - openTimes.start; });
  }, [loaded, rows]);

  const onScroll = () => {
    const el = scrollRef.current;
    if (!el) return;
    atEnd.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 40;
    const first = v.getVirtualItems().find((it) => it.end > el.scrollTop);
    if (first) try { sessionStorage.setItem(placeKey(id), String(first.key)); } catch { /* private */ }
  };

  const items = v.getVirtualItems();
  const agents = detail?.agents || [];
  return (
    <div class={`conversation${active ? '' : ' hidden'}`} data-testid="conversation">
      <div class="toolbar">
        <span class="muted small" data-testid="conversation-count">{fmtNum(list.length)} entries{cur.loading ? ' (loading…)' : ''}</span>
        <label class="check"><input type="checkbox" data-testid="conversation-nested" checked={nested} onChange={(e) => setNested(e.currentTarget.checked)} /> subagents under their call</label>
        <select data-testid="conversation-agent" aria-label="Agent" value={only} onChange={(e) => setOnly(e.currentTarget.value)}>
          <option value="">every agent</option>
          <option value="main">main agent</option>
          {agents.map((a) => <option value={a.agent_id}>{a.agent_type} {shortId(a.agent_id)}{a.description ? ` — ${a.description}` : ''}</option>)}
        </select>
        <span class="spacer" />
        <button type="button" class="small" data-testid="conversation-top" onClick={() => v.scrollToIndex(0)}>top</button>
        <button type="button" class="small" data-testid="conversation-bottom" onClick={() => { atEnd.current = true; v.scrollToIndex(rows.length - 1, { align: 'end' }); }}>newest</button>
      </div>
      <div class="convscroll" ref={scrollRef} onScroll={onScroll} data-testid="conversation-scroll">
        <div class="convinner" style={{ height: `${v.getTotalSize()}px` }}>
          {items.map((it) => {
            const r = rows[it.index];
            if (!r) return null;
            return (
              <div key={it.key} data-index={it.index} ref={v.measureElement} class={`erow depth${Math.min(r.depth, 4)}`} data-testid="conversation-row"
                data-kind={r.e.kind} data-agent={r.agent} data-depth={r.depth} data-key={r.key}
                style={{ transform: `translateY(${it.start}px)`, '--lane': ctx.color(r.agent), paddingLeft: `${r.depth * 28}px` }}>
                <Entry row={r} ctx={ctx} />
              </div>
            );
          })}
        </div>
        {loaded && !list.length && <p class="empty" data-testid="conversation-empty">No conversation yet: prompts, Claude's text and tool calls appear here as they happen.</p>}
      </div>
    </div>
  );
}
