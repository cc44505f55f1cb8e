// One item of a session's conversation as mpmd serves it (an Entry of
// GET /api/sessions/{id}/transcript): a typed prompt, Claude's text
// (Markdown, sanitised), its thinking (folded), a tool call with input,
// result, status and duration, a subagent's start and end, a task
// notification, an API failure.
import { renderMarkdown } from '../markdown.js';
import { fmtDur, fmtTime, shortId, toMs } from '../util.js';
import { StatusBadge, Cost } from './Status.jsx';

function Markdown({ text }) {
  return <div class="md" data-testid="markdown" dangerouslySetInnerHTML={{ __html: renderMarkdown(text) }} />;
}

/** A tool's input or result: a string as it is, anything else as indented JSON. */
function Payload({ value, testid }) {
  if (value == null) return <pre class="payload muted" data-testid={testid}>(none)</pre>;
  const s = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  return <pre class="payload" data-testid={testid}>{s}</pre>;
}

const ICON = { completed: '✓', failed: '✕', denied: '⊘', interrupted: '◼', running: '◌' };

function toolLine(t) {
  const inp = t.input && typeof t.input === 'object' ? t.input : null;
  if (t.tool_name === 'Agent' || t.tool_name === 'Task') {
    return [inp?.subagent_type, inp?.description].filter(Boolean).join(' · ') || t.summary || '';
  }
  return t.summary || '';
}

function ToolEntry({ row, ctx }) {
  const e = row.e;
  const t0 = e.tool;
  const live = ctx.tools.get(t0.tool_use_id);
  const t = live ? { ...t0, ...live } : t0; // the tools list is the fresher of the two
  const open = ctx.expanded.has(row.key);
  const status = t.status || 'running';
  const dur = status === 'running' ? (Number.isFinite(toMs(t.started_at)) ? `${fmtDur(ctx.now - toMs(t.started_at))}…` : '…') : fmtDur(t.duration_ms);
  const spawned = t.spawned_agent_id && ctx.agents.get(t.spawned_agent_id);
  const folded = row.spawned && row.spawned.some((a) => ctx.collapsed.has(a));
  return (
    <div class={`tool ${status}${ctx.target === t.tool_use_id ? ' target' : ''}`} data-testid="tool-entry" data-tool-use-id={t.tool_use_id} data-status={status} data-tool={t.tool_name}>
      <button type="button" class="toolhead" data-testid="tool-toggle" aria-expanded={String(open)} onClick={() => ctx.toggle(row.key)}>
        <span class="icon" title={status}>{ICON[status] || '•'}</span>
        <span class="tname">{t.tool_name}</span>
        <span class="tsum">{toolLine(t)}</span>
        <span class="spacer" />
        <StatusBadge status={status} />
        <span class="dur" data-testid="tool-duration">{dur}</span>
      </button>
      {t.error && <div class="toolerr" data-testid="tool-error">{t.error}</div>}
      {spawned && (
        <div class="spawned" data-testid="spawned-agent" data-agent-id={spawned.agent_id}>
          <span class="lane-dot" style={{ background: ctx.color(spawned.agent_id) }} />
          subagent <code>{shortId(spawned.agent_id)}</code> {spawned.agent_type}{spawned.background ? ' · background' : ''} · <StatusBadge status={spawned.status} />
          {' '}{spawned.duration_ms ? fmtDur(spawned.duration_ms) : ''} · {spawned.tool_calls} tool calls · <Cost usage={spawned.usage} />
          {row.children > 0 && (
            <button type="button" class="small ghost" data-testid="agent-fold" onClick={() => ctx.fold(row.spawned)}>
              {folded ? `▸ show its ${row.children} entries` : `▾ hide its ${row.children} entries`}
            </button>
          )}
        </div>
      )}
      {open && (
        <div class="toolbody">
          <div class="lbl">input</div><Payload value={t.input} testid="tool-input" />
          <div class="lbl">result</div><Payload value={status === 'running' ? '(still running)' : t.result} testid="tool-result" />
          <div class="muted small">{t.tool_use_id} · started {fmtTime(toMs(t.started_at))}{t.ended_at ? ` · ended ${fmtTime(toMs(t.ended_at))}` : ''}</div>
        </div>
      )}
    </div>
  );
}

function AgentLine({ e, ctx, end }) {
  const a0 = e.agent || {};
  const a = ctx.agents.get(a0.agent_id) || a0;
  return (
    <div class={`agentline ${end ? 'end' : 'start'} ${a.status || ''}`} data-testid={end ? 'agent-end' : 'agent-start'} data-agent-id={a.agent_id}>
      <span class="lane-dot" style={{ background: ctx.color(a.agent_id) }} />
      {end ? '■' : '▶'} subagent <code>{shortId(a.agent_id)}</code> {a.agent_type}{a.description ? ` — ${a.description}` : ''}
      {end ? <> · <StatusBadge status={a.status} /> {a.duration_ms ? fmtDur(a.duration_ms) : ''}</> : ' started'}
      {end && a.result && <div class="agentresult"><Markdown text={a.result} /></div>}
    </div>
  );
}

export function Entry({ row, ctx }) {
  const e = row.e;
  const who = row.agent === 'main' ? 'Claude' : `${ctx.agents.get(row.agent)?.agent_type || 'subagent'} ${shortId(row.agent)}`;
  const time = <span class="etime">{fmtTime(toMs(e.timestamp))}</span>;
  switch (e.kind) {
    case 'prompt':
      return <div class="prompt" data-testid="entry-prompt"><div class="ehead"><b>You</b>{time}</div><div class="ptext">{e.text}</div></div>;
    case 'text':
    case 'final_message':
      return (
        <div class="text" data-testid="entry-text">
          <div class="ehead"><b>{who}</b>{e.model && <span class="muted small">{e.model}</span>}{e.kind === 'final_message' && <span class="muted small">(its last message)</span>}{time}</div>
          <Markdown text={e.text} />
        </div>
      );
    case 'thinking': {
      const open = ctx.expanded.has(row.key);
      const first = (e.text || '').split('\n')[0];
      return (
        <div class={`thinking${open ? ' open' : ''}`} data-testid="entry-thinking">
          <button type="button" class="thinkhead" data-testid="thinking-toggle" aria-expanded={String(open)} onClick={() => ctx.toggle(row.key)}>
            <span>{open ? '▾' : '▸'} {who} thought</span>{!open && <span class="muted preview">{first}</span>}{time}
          </button>
          {open && <div class="thinktext" data-testid="thinking-text">{e.text}</div>}
        </div>
      );
    }
    case 'tool':
      return e.tool ? <ToolEntry row={row} ctx={ctx} /> : null;
    case 'agent_start':
      return <AgentLine e={e} ctx={ctx} />;
    case 'agent_end':
      return <AgentLine e={e} ctx={ctx} end />;
    case 'task_notification':
      return <div class="note" data-testid="entry-notification">✉ task notification: {e.text}{time}</div>;
    case 'failure':
      return <div class="failure" data-testid="entry-failure"><div class="ehead"><b>API failure</b>{time}</div>{e.text}</div>;
    default:
      return <div class="note muted">{e.kind}{e.text ? `: ${e.text}` : ''}</div>;
  }
}
