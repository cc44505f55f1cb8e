// A virtualised list of events (the event log and History): one VList of
// fixed-height rows recycled as it scrolls, so 100,000 events cost what 40
// do. It is imperative inside; the component only owns its lifetime.
import { useEffect, useRef } from 'preact/hooks';
import { VList } from '../vlist.js';
import { el, fmtTime, shortId, sessionColor, summarize } from '../util.js';
import { plain } from '../store/stream.js';
import { showDetail } from '../store/ui.js';

export const ROW = 24;

export function makeEventRow(row) {
  row.classList.add('ev');
  row.setAttribute('data-testid', 'event-row');
  for (const c of ['seq', 'tm', 'nsc', 'evn', 'sid', 'sum']) row.append(el('span', { className: c }));
  row.children[2].append(el('span', { className: 'ns' }));
}

export function renderEventRow(row, ev) {
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

export const openEvent = (ev) => showDetail(plain(ev), `${ev.ns} ${ev.ev} · seq ${ev.seq ?? '–'}`);

/**
 * source(): the list's items ({length, at}); listRef receives the VList;
 * follow: keep the newest in view.
 */
export function EventList({ testid, listRef, follow = false, onFollowChange, source }) {
  const ref = useRef(null);
  useEffect(() => {
    const list = new VList(ref.current, {
      rowHeight: ROW, follow, create: makeEventRow, render: renderEventRow, onClick: openEvent, onFollowChange,
    });
    list.setSource(source());
    if (listRef) listRef.current = list;
    return () => { list.destroy(); if (listRef) listRef.current = null; };
  }, []);
  return <div class="vlist" data-testid={testid} ref={ref} tabIndex={0} />;
}
