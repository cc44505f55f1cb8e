// A session's tokens and cost as mpmd's model has them: by kind, by model,
// by subagent, and the session's cost as this page saw it change (mpmd
// keeps no cost history yet; the chart starts when the page opened).
import { useMemo } from 'preact/hooks';
import { current } from '../store/session.js';
import { costSamples, sessions } from '../store/sessions.js';
import { costText, fmtNum, fmtUSD, shortId, totalTokens, TOKEN_KINDS } from '../util.js';
import { Cost } from './Status.jsx';
import { Chart, cssVar } from './Chart.jsx';

const SOURCE = {
  claude: "Claude Code's own account (the transcript's cost-state entry), subagents included",
  pricing: "computed by mpmd from its pricing table, per API message",
  unknown: 'at least one model has no known price',
  none: 'no API usage seen yet',
};

function Bar({ value, max }) {
  return <span class="meter"><span style={{ width: `${max ? (100 * value) / max : 0}%` }} /></span>;
}

const costOpts = (width, height) => ({
  width, height, legend: { show: false }, cursor: { y: false }, padding: [8, 8, 0, 0],
  scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, Math.max(hi * 1.1, 0.0001)] } },
  axes: [
    { stroke: cssVar('--muted', '#888'), grid: { stroke: cssVar('--line2', '#eee') }, ticks: { stroke: cssVar('--line', '#ddd') } },
    { stroke: cssVar('--muted', '#888'), grid: { stroke: cssVar('--line2', '#eee') }, ticks: { stroke: cssVar('--line', '#ddd') }, size: 64, values: (u, vals) => vals.map((v) => fmtUSD(v)) },
  ],
  series: [{}, { stroke: cssVar('--accent', '#2563eb'), width: 2, fill: 'rgba(37,99,235,.12)', points: { show: true, size: 5 } }],
});

export function Usage() {
  const d = current.value.detail;
  sessions.value; // samples are taken as the list updates
  const id = d?.session_id;
  const samples = (id && costSamples.get(id)) || [];
  const n = samples.length;
  const data = useMemo(() => {
    const xs = samples.map((s) => s[0] / 1000), ys = samples.map((s) => s[1]);
    if (xs.length === 1) { xs.push(Date.now() / 1000); ys.push(ys[0]); }
    return [xs, ys];
  }, [id, n]);
  if (!d) return null;
  const u = d.usage || {};
  const kinds = TOKEN_KINDS.map(([k, label]) => [label, u[k] || 0]);
  const maxKind = Math.max(...kinds.map((k) => k[1]));
  const models = Object.entries(u.by_model || {}).sort((a, b) => (b[1].cost_usd ?? -1) - (a[1].cost_usd ?? -1));
  const agents = d.agents || [];
  const c = costText(u);
  return (
    <div class="usage" data-testid="usage">
      <div class="cards">
        <div class="card"><div class="lbl">cost</div><div class="big"><Cost usage={u} testid="usage-cost" /></div>
          <div class="muted small" data-testid="usage-cost-source">{SOURCE[c.source] || c.source}{u.unpriced_models?.length ? `: ${u.unpriced_models.join(', ')}` : ''}</div></div>
        <div class="card"><div class="lbl">tokens</div><div class="big" data-testid="usage-tokens">{fmtNum(totalTokens(u))}</div>
          <div class="muted small">{fmtNum(u.input_tokens || 0)} in · {fmtNum(u.output_tokens || 0)} out · {fmtNum(u.cache_read_input_tokens || 0)} cache read</div></div>
        <div class="card"><div class="lbl">web searches</div><div class="big">{fmtNum(u.web_search_requests || 0)}</div></div>
      </div>
      <div class="usagegrid">
        <section>
          <h3>Tokens by kind</h3>
          <table class="grid compact" data-testid="usage-kinds">
            <tbody>{kinds.map(([label, v]) => (
              <tr data-kind={label.trim()} class={label.startsWith(' ') ? 'sub' : ''}><td>{label.trim()}</td><td class="num">{fmtNum(v)}</td><td class="meterc"><Bar value={v} max={maxKind} /></td></tr>
            ))}</tbody>
          </table>
        </section>
        <section>
          <h3>By model</h3>
          <table class="grid compact" data-testid="usage-models">
            <thead><tr><th>model</th><th class="num">messages</th><th class="num">input</th><th class="num">output</th><th class="num">cache read</th><th class="num">cost</th></tr></thead>
            <tbody>
              {models.map(([name, m]) => (
                <tr data-testid="usage-model-row" data-model={name}><td>{name}</td><td class="num">{fmtNum(m.messages || 0)}</td><td class="num">{fmtNum(m.input_tokens || 0)}</td>
                  <td class="num">{fmtNum(m.output_tokens || 0)}</td><td class="num">{fmtNum(m.cache_read_input_tokens || 0)}</td><td class="num"><Cost usage={m} /></td></tr>
              ))}
              {!models.length && <tr><td colSpan={6} class="empty">No API usage yet.</td></tr>}
            </tbody>
          </table>
        </section>
        <section>
          <h3>By subagent</h3>
          <table class="grid compact" data-testid="usage-agents">
            <thead><tr><th>agent</th><th class="num">tokens</th><th class="num">output</th><th class="num">cost</th></tr></thead>
            <tbody>
              {agents.map((a) => (
                <tr data-testid="usage-agent-row" data-agent-id={a.agent_id}><td>{a.agent_type} <code>{shortId(a.agent_id)}</code> <span class="muted small">{a.description}</span></td>
                  <td class="num">{fmtNum(totalTokens(a.usage))}</td><td class="num">{fmtNum(a.usage?.output_tokens || 0)}</td><td class="num"><Cost usage={a.usage} /></td></tr>
              ))}
              <tr class="total"><td>whole session (every agent)</td><td class="num">{fmtNum(totalTokens(u))}</td><td class="num">{fmtNum(u.output_tokens || 0)}</td><td class="num"><Cost usage={u} /></td></tr>
            </tbody>
          </table>
        </section>
        <section>
          <h3>Cost over time <span class="muted small">(as this page saw it change)</span></h3>
          {n ? <Chart testid="cost-chart" height={160} opts={costOpts} data={data} />
            : <p class="muted small" data-testid="cost-chart-empty">No cost yet.</p>}
        </section>
      </div>
    </div>
  );
}
