// What needs the user, seen from another tab too: the tab's title starts
// with the count of sessions that wait for permission or failed, an
// optional browser notification (permission asked on a click, never on
// load), and the bar under the header. All of it from the sessions'
// `attention`, cleared when mpmd clears it.
import { useEffect, useRef, useState } from 'preact/hooks';
import { attention } from '../store/sessions.js';
import { conn, isWanted } from '../store/live.js';
import { route, go, sessionPath } from '../store/router.js';
import { current } from '../store/session.js';
import { clock } from '../store/clock.js';
import { fmtDur, shortId, toMs } from '../util.js';

const VIEWS = { sessions: 'sessions', events: 'events', history: 'history' };

export function useTitle() {
  const n = attention.value.length;
  const c = conn.value;
  const r = route.value;
  const d = current.value.detail;
  useEffect(() => {
    const where = r.view === 'session' ? (d?.title || shortId(r.id)) : VIEWS[r.view] || '';
    const off = c.state !== 'connected' && isWanted() ? '○ ' : '';
    document.title = `${n ? `(${n}) ` : ''}${off}mpm${where ? ` · ${where}` : ''}`;
  }, [n, c.state, r, d?.title]);
}

const notifyKey = 'mpm.notify';
const supported = () => typeof Notification !== 'undefined';

/** The bell: asks for the browser's permission when clicked, never before. */
export function NotifyButton() {
  const [on, setOn] = useState(() => { try { return localStorage.getItem(notifyKey) === '1'; } catch { return false; } });
  const [perm, setPerm] = useState(supported() ? Notification.permission : 'unsupported');
  const seen = useRef(null);
  const list = attention.value;

  useEffect(() => {
    // Attention already there when the page opened is not news.
    const keys = list.map((s) => `${s.session_id}:${s.attention.seq}`);
    if (seen.current === null) { seen.current = new Set(keys); return; }
    for (const s of list) {
      const k = `${s.session_id}:${s.attention.seq}`;
      if (seen.current.has(k)) continue;
      seen.current.add(k);
      if (!on || !supported() || Notification.permission !== 'granted') continue;
      const n = new Notification(`${s.attention.kind === 'permission' ? 'Waiting for permission' : 'Failed'}: ${s.title || shortId(s.session_id)}`,
        { body: s.attention.message || '', tag: `mpm-${s.session_id}` });
      n.onclick = () => { window.focus(); go(sessionPath(s.session_id)); n.close(); };
    }
  }, [list]);

  const click = async () => {
    if (!supported()) return;
    if (on) { setOn(false); try { localStorage.setItem(notifyKey, '0'); } catch { /* private */ } return; }
    const p = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
    setPerm(p);
    const ok = p === 'granted';
    setOn(ok);
    try { localStorage.setItem(notifyKey, ok ? '1' : '0'); } catch { /* private */ }
  };
  const label = perm === 'unsupported' ? 'no notifications' : perm === 'denied' ? 'notifications blocked' : on ? 'notifying' : 'notify me';
  return (
    <button type="button" class="small ghost" data-testid="notify-button" data-on={String(on && perm === 'granted')} disabled={perm === 'unsupported' || perm === 'denied'}
      title="A browser notification when a session waits for permission or fails" onClick={click}>{label}</button>
  );
}

export function AttentionBar() {
  const list = attention.value;
  const now = clock.value;
  if (!list.length) return null;
  const first = list[0];
  return (
    <div class="attention" data-testid="attention" data-sessions={list.map((s) => s.session_id).join(' ')}
      onClick={() => go(sessionPath(first.session_id))} title="Open the session">
      {list.length === 1 ? '⚠ 1 session needs you' : `⚠ ${list.length} sessions need you`}: {list.slice(0, 3).map((s) => (
        <span class="who">{s.title || shortId(s.session_id)}{s.project ? ` (${s.project})` : ''} — {s.attention.kind === 'permission' ? 'waiting for permission' : 'failed'}: {s.attention.message}</span>
      ))} · {fmtDur(now - toMs(first.attention.since))}
    </div>
  );
}
