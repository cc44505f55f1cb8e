// The page's place, in the address's fragment so a link can be shared or
// bookmarked and a reload keeps it: #/sessions (the landing view),
// #/sessions/{id}[/{tab}][?call={tool_use_id}], #/events, #/history.
import { signal } from '@preact/signals';

export const TABS = ['conversation', 'timeline', 'usage', 'tools', 'tasks', 'events'];

export function parse(hash) {
  const h = (hash || '').replace(/^#/, '');
  const [path, query = ''] = h.split('?');
  const parts = path.split('/').filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  const q = new URLSearchParams(query);
  const at = { hash: hash || '' };
  if (parts[0] === 'events') return { ...at, view: 'events' };
  if (parts[0] === 'history') return { ...at, view: 'history' };
  if (parts[0] === 'sessions' && parts[1]) {
    const tab = TABS.includes(parts[2]) ? parts[2] : 'conversation';
    return { ...at, view: 'session', id: parts[1], tab, call: q.get('call') || '' };
  }
  return { ...at, view: 'sessions' };
}

export const route = signal(parse(location.hash));
addEventListener('hashchange', () => { if (route.value.hash !== location.hash) route.value = parse(location.hash); });

export function sessionPath(id, tab = 'conversation', call = '') {
  return `#/sessions/${encodeURIComponent(id)}${tab && tab !== 'conversation' ? '/' + tab : ''}${call ? `?call=${encodeURIComponent(call)}` : ''}`;
}

/** Goes to path now (the view changes before the next frame; hashchange follows). */
export function go(path) {
  if (location.hash !== path) location.hash = path;
  route.value = parse(path);
}
