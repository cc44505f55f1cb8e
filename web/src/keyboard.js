// The page's shortcuts: Ctrl/Cmd+K search, Ctrl/Cmd+E export, Ctrl/Cmd+R
// clear, Escape, ? for the list, and j/k (or ↓/↑) between sessions.
import { route, go, sessionPath } from './store/router.js';
import { stream, clearEvents } from './store/live.js';
import { sessionStream } from './store/session.js';
import { selectedId, stepSession } from './store/sessions.js';
import { exportEvents } from './store/export.js';
import { helpOpen } from './store/ui.js';

const typing = (el) => el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);

document.addEventListener('keydown', (e) => {
  const mod = e.ctrlKey || e.metaKey;
  const k = e.key.toLowerCase();
  const r = route.value;
  const sessionEvents = r.view === 'session' && r.tab === 'events';
  if (mod && !e.shiftKey && !e.altKey && k === 'k') {
    e.preventDefault();
    if (!sessionEvents && r.view !== 'events') go('#/events');
    requestAnimationFrame(() => {
      const s = document.querySelector(sessionEvents ? '[data-testid="session-search"]' : '[data-testid="search"]');
      s?.focus();
      s?.select();
    });
    return;
  }
  if (mod && !e.shiftKey && !e.altKey && k === 'e') {
    e.preventDefault();
    exportEvents(sessionEvents && sessionStream ? sessionStream : stream);
    return;
  }
  if (mod && !e.shiftKey && !e.altKey && k === 'r') {
    // Ctrl/Cmd+R clears the view instead of reloading the page.
    e.preventDefault();
    clearEvents();
    return;
  }
  if (k === 'escape') {
    if (document.querySelector('dialog[open]')) return; // the dialog closes itself
    const a = document.activeElement;
    if (typing(a)) { a.blur(); return; }
    if (r.view === 'session') go('#/sessions');
    return;
  }
  if (mod || e.altKey || typing(document.activeElement) || document.querySelector('dialog[open]')) return;
  if (e.key === '?') { helpOpen.value = true; return; }
  const down = e.key === 'j' || e.key === 'ArrowDown';
  const up = e.key === 'k' || e.key === 'ArrowUp';
  if (r.view === 'sessions') {
    if (down || up) {
      e.preventDefault();
      selectedId.value = stepSession(selectedId.value, down ? 1 : -1);
    } else if ((e.key === 'Enter' || e.key === 'o') && selectedId.value) {
      go(sessionPath(selectedId.value));
    }
  } else if (r.view === 'session' && (e.key === 'j' || e.key === 'k')) {
    // Arrows scroll the conversation there; j/k move to the next session.
    const next = stepSession(r.id, e.key === 'j' ? 1 : -1);
    if (next && next !== r.id) { selectedId.value = next; go(sessionPath(next)); }
  }
});
