// The page: header, attention bar, the views' tabs, the view the address
// names, dialogs. The Events and History views stay in the page (hidden)
// so their lists keep their place; the others are made when shown.
import { route, go } from '../store/router.js';
import { stream, clearEvents, metricsTick } from '../store/live.js';
import { sessions, attention } from '../store/sessions.js';
import { cfg } from '../config.js';
import { fmtNum } from '../util.js';
import { helpOpen } from '../store/ui.js';
import { Header } from './Header.jsx';
import { AttentionBar, NotifyButton, useTitle } from './Attention.jsx';
import { SessionsView } from './SessionsView.jsx';
import { SessionPage } from './SessionPage.jsx';
import { EventLog } from './EventLog.jsx';
import { History } from './History.jsx';
import { DetailDialog, TokenDialog, HelpDialog, Toast } from './Dialogs.jsx';

function BufferInfo() {
  metricsTick.value;
  return (
    <span class="muted small" data-testid="buffer-info">
      {`${fmtNum(stream.buffer.length)} in page (max ${fmtNum(cfg.capacity)})`}
      {stream.evicted ? ` · ${fmtNum(stream.evicted)} older in History` : ''}
    </span>
  );
}

export function App({ version }) {
  useTitle();
  const r = route.value;
  const view = r.view;
  const tab = (name, label, extra) => (
    <a role="tab" href={`#/${name}`} data-view={name} data-testid={`view-tab-${name}`}
      aria-selected={String(view === name || (name === 'sessions' && view === 'session'))}>{label}{extra}</a>
  );
  const n = attention.value.length;
  return (
    <>
      <Header />
      <AttentionBar />
      <nav class="views" role="tablist">
        {tab('sessions', 'Sessions', <span class={`count${n ? ' attn' : ''}`} data-testid="sessions-count">{sessions.value.length}</span>)}
        {tab('events', 'Events')}
        {tab('history', 'History')}
        <span class="spacer" />
        <BufferInfo />
        <NotifyButton />
        <button type="button" class="small ghost" data-testid="help-button" title="Keyboard shortcuts" onClick={() => { helpOpen.value = true; }}>?</button>
      </nav>
      <main>
        {view === 'sessions' && <SessionsView active />}
        {view === 'session' && <SessionPage route={r} />}
        <section class="view events" data-view="events" data-testid="events-view" hidden={view !== 'events'}>
          <EventLog stream={stream} onClear={() => clearEvents()} />
        </section>
        <section class="view history" data-view="history" data-testid="history-view" hidden={view !== 'history'}>
          <History />
        </section>
      </main>
      <DetailDialog />
      <TokenDialog />
      <HelpDialog version={version} />
      <Toast />
    </>
  );
}

export const goEvents = () => go('#/events');
