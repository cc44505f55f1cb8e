// One session's page (#/sessions/{id}/{tab}): what it is and costs, what
// needs the user, and its conversation, agent lanes, usage, tool calls,
// todo list and own events, each from mpmd's API.
import { useEffect } from 'preact/hooks';
import { current, openSession, closeSession, sessionStream, loadSessionEvents } from '../store/session.js';
import { getSession, sessions } from '../store/sessions.js';
import { clock } from '../store/clock.js';
import { TABS, go, sessionPath } from '../store/router.js';
import { fmtDateTime, fmtDur, fmtNum, fmtCompact, shortId, toMs, totalTokens } from '../util.js';
import { StatusBadge, Cost } from './Status.jsx';
import { Conversation } from './Conversation.jsx';
import { Timeline } from './Timeline.jsx';
import { Usage } from './Usage.jsx';
import { ToolsTab } from './ToolsTab.jsx';
import { TasksTab } from './TasksTab.jsx';
import { EventLog } from './EventLog.jsx';

const LABEL = { conversation: 'Conversation', timeline: 'Agents', usage: 'Usage', tools: 'Tools', tasks: 'Tasks', events: 'Events' };

function Summary({ d, now }) {
  sessions.value;
  const s = getSession(d.session_id) || d; // the list may be a moment newer
  const dur = s.ended_at ? fmtDur((s.duration_seconds || 0) * 1000) : `${fmtDur(now - toMs(s.started_at))}…`;
  return (
    <dl class="summary" data-testid="session-summary">
      <div><dt>status</dt><dd data-testid="session-status"><StatusBadge status={s.status} /></dd></div>
      <div><dt>project</dt><dd title={s.cwd}>{s.project || '–'}</dd></div>
      <div><dt>model</dt><dd data-testid="session-model">{s.model || '–'}</dd></div>
      <div><dt>started</dt><dd>{fmtDateTime(toMs(s.started_at))}</dd></div>
      <div><dt>duration</dt><dd>{dur}</dd></div>
      <div><dt>prompts</dt><dd>{fmtNum(s.prompts || 0)}</dd></div>
      <div><dt>tool calls</dt><dd data-testid="session-tool-calls">{fmtNum(s.tool_calls || 0)}</dd></div>
      <div><dt>errors</dt><dd class={s.errors ? 'err' : ''} data-testid="session-errors">{fmtNum(s.errors || 0)}</dd></div>
      <div><dt>agents</dt><dd data-testid="session-agents">{s.agents_count ?? (s.agents || []).length}{s.running_agents ? ` (${s.running_agents} running)` : ''}</dd></div>
      <div><dt>tokens</dt><dd>{fmtCompact(totalTokens(s.usage))}</dd></div>
      <div><dt>cost</dt><dd class="costdd"><Cost usage={s.usage} testid="session-page-cost" /></dd></div>
      {s.permission_mode && <div><dt>permissions</dt><dd>{s.permission_mode}</dd></div>}
    </dl>
  );
}

export function SessionPage({ route }) {
  const { id, tab, call } = route;
  useEffect(() => { openSession(id); }, [id]);
  useEffect(() => closeSession, []); // leaving the page: the next open reads it afresh
  useEffect(() => { if (tab === 'events') loadSessionEvents(); }, [tab, id, current.value.detail]);
  const cur = current.value;
  const now = clock.value;
  const d = cur.id === id ? cur.detail : null;
  const s = getSession(id);
  const att = (s || d)?.attention;
  const title = (s || d)?.title || shortId(id);
  return (
    <section class="view session" data-testid="session-page" data-sid={id}>
      <div class="crumbs">
        <a href="#/sessions" data-testid="back-to-sessions">Sessions</a> › <h2 data-testid="session-title">{title}</h2>
        <code class="muted small" title={id}>{id}</code>
      </div>
      {cur.error && cur.id === id && <p class="errbox" data-testid="session-error">{cur.error} <a href="#/sessions">Back to the sessions</a>.</p>}
      {att && (s || d).status !== 'ended' && (
        <div class={`attention ${att.kind}`} data-testid="session-attention-bar">
          {att.kind === 'permission' ? '⚠ Waiting for your permission' : '✕ Failed'}: {att.message} · since {fmtDur(now - toMs(att.since))}
        </div>
      )}
      {d && <Summary d={d} now={now} />}
      {d && (
        <>
          <nav class="tabs" role="tablist">
            {TABS.map((t) => (
              <a role="tab" href={sessionPath(id, t)} data-testid={`session-tab-${t}`} aria-selected={String(t === tab)}>{LABEL[t]}
                {t === 'timeline' && (d.agents || []).length ? <span class="count">{(d.agents || []).length}</span> : null}
                {t === 'tools' && (d.in_flight || []).length ? <span class="count" title="in flight">{d.in_flight.length}</span> : null}
              </a>
            ))}
          </nav>
          <div class="tabbody">
            <Conversation key={id} id={id} call={tab === 'conversation' ? call : ''} active={tab === 'conversation'} />
            {tab === 'timeline' && <Timeline id={id} />}
            {tab === 'usage' && <Usage />}
            {tab === 'tools' && <ToolsTab id={id} />}
            {tab === 'tasks' && <TasksTab />}
            {tab === 'events' && sessionStream && <EventLog key={id} stream={sessionStream} prefix="session-" clearable={false} />}
          </div>
        </>
      )}
      {!d && !cur.error && <p class="muted" data-testid="session-loading">Loading the session…</p>}
    </section>
  );
}

/** j/k on a session page: the next or previous session of the list. */
export function stepFromPage(id, n, step) {
  const next = step(id, n);
  if (next && next !== id) go(sessionPath(next));
}
