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
  if (parts[0] === 'events') return { view: 'events' };
  if (parts[0] === 'history') return { view: 'history' };
  if (parts[0] === 'sessions' && parts[1]) {
    const tab = TABS.includes(parts[2]) ? parts[2] : 'conversation';
    return { view: 'session', id: parts[1], tab, call: q.get('call') || '' };
  }
  return { view: 'sessions' };
}

export const route = signal(parse(location.hash));
addEventListener('hashchange', () => { route.value = parse(location.hash); });

export function sessionPath(id, tab = 'conversation', call = '') {
  return `#/sessions/${encodeURIComponent(id)}${tab && tab !== 'conversation' ? '/' + tab : ''}${call ? `?call=${encodeURIComponent(call)}` : ''}`;
}

export function go(path) {
  if (location.hash === path) route.value = parse(path);
  else location.hash = path;
}
