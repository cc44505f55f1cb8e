// Agent lanes: one lane per agent of the session (the main agent, then each
// subagent in the order mpmd saw them, nested under their parent), its run
// as a band from start to end, and each of its tool calls as a bar from
// started_at to ended_at (to now while it runs), so parallel background
// agents show side by side. Click a bar to read the call in the
// conversation.
import { useState } from 'preact/hooks';
import { current, tools } from '../store/session.js';
import { clock } from '../store/clock.js';
import { go, sessionPath } from '../store/router.js';
import { fmtDur, fmtTime, shortId, toMs } from '../util.js';
import { StatusBadge, Cost } from './Status.jsx';
import { agentColors } from './Conversation.jsx';

const STEPS = [100, 250, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 144e5];

function ticks(t0, t1, n = 8) {
  const span = Math.max(1, t1 - t0);
  const step = STEPS.find((s) => span / s <= n) || STEPS[STEPS.length - 1];
  const out = [];
  for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) out.push(t);
  return { step, list: out };
}

export function Timeline({ id }) {
  const d = current.value.detail;
  const calls = tools.value;
  const now = clock.value;
  const [zoom, setZoom] = useState(1);
  if (!d) return null;
  const color = agentColors(d);
  const start = toMs(d.started_at);
  let t0 = start, t1 = d.ended_at ? toMs(d.ended_at) : Math.max(now, toMs(d.last_activity) || now);
  for (const c of calls) {
    const s = toMs(c.started_at);
    if (s < t0) t0 = s;
    const e = c.ended_at ? toMs(c.ended_at) : NaN;
    if (e > t1) t1 = e;
  }
  if (!Number.isFinite(t0)) t0 = t1 - 1000;
  const span = Math.max(1, t1 - t0);
  const pct = (t) => `${((Math.min(Math.max(t, t0), t1) - t0) / span) * 100}%`;
  const width = (a, b) => `${(Math.max(0, Math.min(b, t1) - Math.max(a, t0)) / span) * 100}%`;

  const depthOf = new Map([['main', 0]]);
  const lanes = [{ agent_id: 'main', agent_type: 'main agent', status: d.status === 'ended' ? 'completed' : 'running', started_at: d.started_at, ended_at: d.ended_at, tool_calls: null, usage: null }];
  for (const a of d.agents || []) lanes.push(a);
  const depth = (a) => {
    if (depthOf.has(a.agent_id)) return depthOf.get(a.agent_id);
    depthOf.set(a.agent_id, 1);
    const p = (d.agents || []).find((x) => x.agent_id === a.parent_id);
    const v = p ? depth(p) + 1 : 1;
    depthOf.set(a.agent_id, v);
    return v;
  };
  const byAgent = new Map(lanes.map((l) => [l.agent_id, []]));
  for (const c of calls) {
    const l = byAgent.get(c.agent_id || 'main');
    if (l) l.push(c); else byAgent.set(c.agent_id, [c]);
  }
  const tk = ticks(t0, t1, 8 * zoom);
  const fmtTick = (t) => (tk.step < 1000 ? fmtTime(t).slice(3) : fmtTime(t).slice(0, 8));

  return (
    <div class="timeline" data-testid="timeline">
      <div class="toolbar">
        <span class="muted small">{lanes.length} lanes · {calls.length} tool calls · {fmtDur(span)} shown · click a bar for its call</span>
        <span class="spacer" />
        <button type="button" class="small" data-testid="timeline-zoom-out" disabled={zoom <= 1} onClick={() => setZoom(Math.max(1, zoom / 2))}>−</button>
        <span class="small">{zoom}×</span>
        <button type="button" class="small" data-testid="timeline-zoom-in" disabled={zoom >= 64} onClick={() => setZoom(zoom * 2)}>+</button>
      </div>
      <div class="lanes">
        <div class="lanelabels">
          <div class="axis-spacer" />
          {lanes.map((a) => (
            <div class="lanelabel" data-testid="lane-label" data-agent-id={a.agent_id} style={{ paddingLeft: `${6 + depth(a) * 14}px`, '--lane': color(a.agent_id) }}
              title={a.description || a.agent_type}>
              <span class="lane-dot" style={{ background: color(a.agent_id) }} />
              <span class="lname">{a.agent_id === 'main' ? 'main' : `${a.agent_type} ${shortId(a.agent_id)}`}</span>
              {a.agent_id !== 'main' && <StatusBadge status={a.status} />}
              {a.agent_id !== 'main' && a.description && <span class="muted small ldesc">{a.description}</span>}
            </div>
          ))}
        </div>
        <div class="lanescroll">
          <div class="lanetracks" style={{ width: `${zoom * 100}%` }}>
            <div class="axis">
              {tk.list.map((t) => <span class="tick" style={{ left: pct(t) }}>{fmtTick(t)}</span>)}
            </div>
            {lanes.map((a) => {
              const s = toMs(a.started_at), e = a.ended_at ? toMs(a.ended_at) : t1;
              return (
                <div class="lane" data-testid="lane" data-agent-id={a.agent_id} style={{ '--lane': color(a.agent_id) }}>
                  {tk.list.map((t) => <span class="grid" style={{ left: pct(t) }} />)}
                  {Number.isFinite(s) && (
                    <div class={`run ${a.status}`} data-testid="lane-run" data-start={a.started_at} data-end={a.ended_at || ''}
                      style={{ left: pct(s), width: width(s, e) }}
                      title={`${a.agent_type} ${a.agent_id === 'main' ? '' : a.agent_id}\n${a.status}${a.duration_ms ? ` · ${fmtDur(a.duration_ms)}` : ''}`} />
                  )}
                  {(byAgent.get(a.agent_id) || []).map((c) => {
                    const cs = toMs(c.started_at), ce = c.ended_at ? toMs(c.ended_at) : now;
                    return (
                      <button type="button" class={`bar ${c.status}`} data-testid="lane-bar" data-tool-use-id={c.tool_use_id} data-status={c.status}
                        data-start={c.started_at} data-end={c.ended_at || ''}
                        style={{ left: pct(cs), width: width(cs, ce) }}
                        title={`${c.tool_name} ${c.summary || ''}\n${c.status} · ${c.status === 'running' ? `${fmtDur(now - cs)}…` : fmtDur(c.duration_ms)}`}
                        onClick={() => go(sessionPath(id, 'conversation', c.tool_use_id))}>
                        <span>{c.tool_name}</span>
                      </button>
                    );
                  })}
                </div>
              );
            })}
          </div>
        </div>
      </div>
      <table class="grid compact agents" data-testid="agents-table">
        <thead><tr><th /><th>agent</th><th>task</th><th>parent</th><th>status</th><th>started</th><th class="num">duration</th><th class="num">tool calls</th><th class="num">cost</th></tr></thead>
        <tbody>
          {(d.agents || []).map((a) => (
            <tr data-testid="agent-row" data-agent-id={a.agent_id} data-status={a.status} class={a.status === 'failed' ? 'failed' : ''}>
              <td><span class="lane-dot" style={{ background: color(a.agent_id) }} /></td>
              <td>{a.agent_type} <code>{shortId(a.agent_id)}</code>{a.background ? <span class="muted small"> background</span> : ''}</td>
              <td title={a.description}>{a.description}</td>
              <td>{a.parent_id === 'main' ? 'main' : shortId(a.parent_id)}</td>
              <td><StatusBadge status={a.status} /></td>
              <td>{fmtTime(toMs(a.started_at))}</td>
              <td class="num" data-col="duration">{a.status === 'running' ? `${fmtDur(now - toMs(a.started_at))}…` : fmtDur(a.duration_ms)}</td>
              <td class="num">{a.tool_calls}</td>
              <td class="num"><Cost usage={a.usage} /></td>
            </tr>
          ))}
          {!(d.agents || []).length && <tr><td colSpan={9} class="empty">No subagents in this session.</td></tr>}
        </tbody>
      </table>
    </div>
  );
}
