// The landing view: every session mpmd's model knows, those that need the
// user first, then the working ones, with what each costs. Live: the
// session store replaces rows as mpmd says they changed.
import { useEffect } from 'preact/hooks';
import { sessions, visibleSessions, hideEnded, selectedId, sessionsError } from '../store/sessions.js';
import { clock } from '../store/clock.js';
import { go, sessionPath } from '../store/router.js';
import { fmtNum, fmtCompact, fmtDateTime, fmtDur, shortId, sessionColor, totalTokens, toMs, TOKEN_KINDS } from '../util.js';
import { StatusBadge, Cost } from './Status.jsx';

const MAX_ROWS = 500;

function duration(s, now) {
  if (s.ended_at || s.status === 'ended') return fmtDur((s.duration_seconds || 0) * 1000);
  const a = toMs(s.started_at);
  return Number.isFinite(a) ? `${fmtDur(now - a)}…` : '';
}

function tokensTitle(u) {
  if (!u) return '';
  return TOKEN_KINDS.map(([k, label]) => `${label}: ${fmtNum(u[k] || 0)}`).join('\n');
}

export function SessionsView({ active }) {
  const now = clock.value;
  const list = visibleSessions.value;
  const all = sessions.value.length;
  const sel = selectedId.value;
  useEffect(() => {
    if (!active || !sel) return;
    document.querySelector(`[data-testid="session-row"][data-sid="${CSS.escape(sel)}"]`)?.scrollIntoView({ block: 'nearest' });
  }, [sel, active]);
  const shown = list.slice(0, Math.max(MAX_ROWS, list.findIndex((s) => s.session_id === sel) + 1));
  return (
    <section class="view sessions" data-testid="sessions-view">
      <div class="toolbar">
        <span class="muted small">{fmtNum(list.length)} of {fmtNum(all)} sessions · j/k or ↑/↓ to move, Enter to open</span>
        <span class="spacer" />
        {sessionsError.value && <span class="err small" data-testid="sessions-error">{sessionsError.value}</span>}
        <label class="check"><input type="checkbox" data-testid="sessions-hide-ended" checked={hideEnded.value}
          onChange={(e) => { hideEnded.value = e.currentTarget.checked; try { sessionStorage.setItem('mpm.hideEnded', hideEnded.value ? '1' : '0'); } catch { /* private */ } }} /> hide ended</label>
      </div>
      <div class="tablewrap">
        <table class="grid sessions" data-testid="sessions-table">
          <thead><tr>
            <th /><th>session</th><th>project</th><th>model</th><th>status</th><th>started</th><th class="num">duration</th>
            <th class="num">tools</th><th class="num">errors</th><th class="num">agents</th><th class="num">tokens</th><th class="num">cost</th>
          </tr></thead>
          <tbody>
            {shown.map((s) => {
              const att = s.attention && s.status !== 'ended' ? s.attention : null;
              const cls = [att ? `attention ${att.kind}` : '', s.session_id === sel ? 'selected' : ''].filter(Boolean).join(' ');
              return (
                <tr key={s.session_id} class={cls} data-testid="session-row" data-sid={s.session_id} data-status={s.status}
                  data-attention={att ? att.kind : undefined} onClick={() => { selectedId.value = s.session_id; go(sessionPath(s.session_id)); }}>
                  <td><span class="swatch" style={{ background: sessionColor(s.session_id) }} /></td>
                  <td class="title" title={`${s.session_id}\n${s.cwd || ''}`}>
                    <a href={sessionPath(s.session_id)} onClick={(e) => e.preventDefault()} data-testid="session-title">{s.title || s.project || shortId(s.session_id)}</a>
                    <span class="muted small id">{shortId(s.session_id)}</span>
                    {att && <span class="attn" data-testid="session-attention" title={att.message}>{att.kind === 'permission' ? '⚠ waiting for permission' : '✕ failed'}: {att.message}</span>}
                  </td>
                  <td data-col="project">{s.project}</td>
                  <td data-col="model">{s.model || <span class="muted">–</span>}</td>
                  <td data-col="status"><StatusBadge status={s.status} /></td>
                  <td data-col="started">{fmtDateTime(toMs(s.started_at))}</td>
                  <td class="num" data-col="duration">{duration(s, now)}</td>
                  <td class="num" data-col="tools">{fmtNum(s.tool_calls || 0)}</td>
                  <td class={`num${s.errors ? ' err' : ''}`} data-col="errors">{fmtNum(s.errors || 0)}</td>
                  <td class="num" data-col="agents" title={`${s.running_agents || 0} running`}>{s.agents_count ?? (s.agents || []).length}{s.running_agents ? <span class="running"> ({s.running_agents} running)</span> : ''}</td>
                  <td class="num" data-col="tokens" title={tokensTitle(s.usage)}>{fmtCompact(totalTokens(s.usage))}</td>
                  <td class="num" data-col="cost"><Cost usage={s.usage} testid="session-cost" /></td>
                </tr>
              );
            })}
            {!list.length && (
              <tr><td colSpan={12} class="empty" data-testid="sessions-empty">
                No sessions yet. Install the hooks (<code>mpm-hook install</code>) and start Claude Code: sessions appear with their first hook event.
              </td></tr>
            )}
          </tbody>
        </table>
        {list.length > shown.length && <p class="muted small">{fmtNum(list.length - shown.length)} more not shown (hide ended sessions to see fewer).</p>}
      </div>
    </section>
  );
}
