// The event log of an EventStream: namespace tabs with counts, the type
// filter, full-text search, the session chip, errors only, follow, export
// and clear, over the virtualised list. The Events view shows the page's
// whole stream; a session page shows its session's.
import { useEffect, useRef, useState } from 'preact/hooks';
import { NAMESPACES, fmtNum, shortId, sessionColor } from '../util.js';
import { metricsTick } from '../store/live.js';
import { exportEvents } from '../store/export.js';
import { EventList } from './EventList.jsx';

export function EventLog({ stream, prefix = '', onClear, clearable = true }) {
  metricsTick.value; // redraw counts and types with the header's numbers
  const listRef = useRef(null);
  const [follow, setFollow] = useState(true);
  const [newer, setNewer] = useState(0);
  const [q, setQ] = useState(stream.filter.q);
  const [, bump] = useState(0);
  const lastLen = useRef(0);
  const t = (id) => prefix + id;
  const f = stream.filter;

  useEffect(() => {
    stream.onEvict = (n) => listRef.current?.shiftedBy(n);
    const unsub = stream.subscribe((why) => {
      const list = listRef.current;
      if (!list) return;
      if (why === 'events') {
        const len = stream.view.length;
        if (!list.follow && len > lastLen.current) setNewer(len - list.lastSeenLen());
        lastLen.current = len;
        list.update();
      } else {
        lastLen.current = stream.view.length;
        list.setSource(stream.view);
        setNewer(0);
        bump((x) => x + 1);
      }
    });
    return () => { unsub(); stream.onEvict = null; };
  }, [stream]);

  // Short debounce: typing a word rescans the buffer once, not per letter.
  useEffect(() => {
    const v = q.trim().toLowerCase();
    if (v === f.q) return undefined;
    const h = setTimeout(() => stream.setFilter({ q: v }), stream.buffer.length > 20000 ? 120 : 30);
    return () => clearTimeout(h);
  }, [q]);

  const onFollowChange = (on) => { setFollow(on); if (on) setNewer(0); };
  const m = stream.metrics;
  const types = stream.typeOptions();
  return (
    <div class="eventlog">
      <div class="nstabs" role="tablist" data-testid={t('namespace-tabs')}>
        {['', ...NAMESPACES].map((ns) => (
          <button type="button" role="tab" data-ns={ns} data-testid={t(`ns-tab-${ns ? ns.slice(1) : 'all'}`)}
            aria-selected={String(f.ns === ns)} onClick={() => stream.setFilter({ ns })}>
            {ns || 'all'}<span class="count">{fmtNum(ns ? m.perNs[ns] || 0 : stream.buffer.length)}</span>
          </button>
        ))}
      </div>
      <div class="toolbar">
        <select data-testid={t('type-filter')} aria-label="Event type" value={f.type} onChange={(e) => stream.setFilter({ type: e.currentTarget.value })}>
          <option value="">all event types</option>
          {types.map(([v, label]) => <option value={v}>{label}</option>)}
        </select>
        <input type="search" data-testid={t('search')} placeholder="Search (Ctrl/Cmd+K)" aria-label="Search" autocomplete="off" spellcheck={false}
          value={q} onInput={(e) => setQ(e.currentTarget.value)} />
        {!prefix && f.sid && (
          <span class="chip" data-testid={t('session-filter')} style={{ '--sc': sessionColor(f.sid) }} title={`${f.sid} — click to show all sessions`}
            onClick={() => stream.setFilter({ sid: '' })}>session {shortId(f.sid)}</span>
        )}
        <label class="check"><input type="checkbox" data-testid={t('errors-only')} checked={f.errors} onChange={(e) => stream.setFilter({ errors: e.currentTarget.checked })} /> errors only</label>
        <span class="spacer" />
        <span class="muted small" data-testid={t('shown-count')}>{fmtNum(stream.view.length)} shown</span>
        <label class="check" title="Keep the newest event in view"><input type="checkbox" data-testid={t('follow')} checked={follow}
          onChange={(e) => listRef.current?.setFollow(e.currentTarget.checked)} /> follow</label>
        <button type="button" data-testid={t('export-button')} title="Export the filtered events as JSON (Ctrl/Cmd+E)" onClick={() => exportEvents(stream)}>Export</button>
        {clearable && <button type="button" data-testid={t('clear-button')} title="Clear the view (Ctrl/Cmd+R); history keeps everything" onClick={onClear}>Clear</button>}
      </div>
      <div class="rowhead ev"><span>seq</span><span>time</span><span>namespace</span><span>event</span><span>session</span><span>summary</span></div>
      <EventList testid={t('event-list')} listRef={listRef} follow onFollowChange={onFollowChange} source={() => stream.view} />
      {!follow && newer > 0 && (
        <button type="button" class="newbelow" data-testid={t('new-below')} onClick={() => { listRef.current?.scrollToBottom(); setNewer(0); }}>{fmtNum(newer)} newer ↓</button>
      )}
    </div>
  );
}
