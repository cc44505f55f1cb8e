// The page's header: the connection (state, server, socket, since when,
// namespaces), the live numbers of the event stream and the events per
// minute over the last half hour.
import { useMemo } from 'preact/hooks';
import uPlot from 'uplot';
import { conn, metricsTick, stream, perMinute, rate, connect, disconnect, isWanted } from '../store/live.js';
import { base } from '../config.js';
import { NAMESPACES, fmtNum, fmtDateTime } from '../util.js';
import { Chart, cssVar } from './Chart.jsx';
import { go } from '../store/router.js';

const MINUTES = 30;

function rateData() {
  const nowMin = Math.floor(Date.now() / 60000);
  const xs = [], ys = [];
  for (let i = MINUTES - 1; i >= 0; i--) { xs.push((nowMin - i) * 60); ys.push(0); }
  const first = (nowMin - MINUTES + 1) * 60;
  for (const [s, n] of rate.seconds) {
    const i = Math.floor((s - first) / 60);
    if (i >= 0 && i < MINUTES) ys[i] += n;
  }
  return [xs, ys];
}

const rateOpts = (width, height) => ({
  width, height, legend: { show: false }, cursor: { show: false }, select: { show: false },
  padding: [12, 2, 0, 2],
  scales: { x: { time: true }, y: { range: (u, lo, hi) => [0, Math.max(1, hi)] } },
  axes: [{ show: false }, { show: false }],
  series: [{}, { fill: cssVar('--accent', '#2563eb'), stroke: cssVar('--accent', '#2563eb'), paths: uPlot.paths.bars({ size: [0.8, 40] }), points: { show: false } }],
  hooks: {
    draw: [(u) => {
      const max = Math.max(0, ...u.data[1]);
      const c = u.ctx;
      c.save();
      c.fillStyle = cssVar('--muted', '#888');
      c.font = `${10 * devicePixelRatio}px system-ui, sans-serif`;
      c.fillText(`${max}/min max · 30 min`, 3 * devicePixelRatio, 10 * devicePixelRatio);
      c.restore();
    }],
  },
});

export function Header() {
  const tick = metricsTick.value;
  const c = conn.value;
  const m = stream.metrics;
  const secs = Math.floor(Date.now() / 1000);
  const data = useMemo(rateData, [secs]);
  const h = c.server;
  const n = c.connected.length;
  const sysId = c.socketIds['/system'];
  return (
    <header class="top">
      <a class="brand" href="#/sessions">mpm <span class="muted">dashboard</span></a>
      <div class="conn" data-testid="connection" data-state={c.state}>
        <span class="dot" data-testid="conn-dot" />
        <span data-testid="conn-status" data-state={c.state}>{c.text}</span>
        <button type="button" data-testid="connect-button" class="small" onClick={() => (isWanted() ? disconnect() : connect())}>
          {c.state === 'idle' || c.state === 'disconnected' || c.state === 'error' ? 'Connect' : 'Disconnect'}
        </button>
      </div>
      <dl class="conninfo" data-testid="conn-info">
        <div><dt>server</dt><dd data-testid="conn-server" title={h ? JSON.stringify(h, null, 2) : ''}>
          {h ? `${h.server === 'claude-mpm-socketio' ? 'mpmd' : h.server || '?'} ${h.version || ''} · pid ${h.pid ?? '?'} · ${base.replace(/^https?:\/\//, '')}` : '–'}
        </dd></div>
        <div><dt>socket id</dt><dd data-testid="conn-socket-id" title={Object.entries(c.socketIds).map(([ns, id]) => `${ns} ${id || '(not connected)'}`).join('\n')}>
          {sysId && c.connected.includes('/system') ? sysId : '–'}
        </dd></div>
        <div><dt>connected since</dt><dd data-testid="conn-since">{n && c.since ? fmtDateTime(c.since) : '–'}</dd></div>
        <div><dt>namespaces</dt><dd data-testid="conn-namespaces" data-namespaces={c.connected.join(' ')}
          title={NAMESPACES.map((ns) => `${c.connected.includes(ns) ? '●' : '○'} ${ns}`).join('\n')}>
          {n ? (n === NAMESPACES.length ? `all ${n}` : `${n}/${NAMESPACES.length}`) : '–'}
        </dd></div>
      </dl>
      <div class="metrics" data-tick={tick}>
        <div class="metric"><span class="num" data-testid="metric-total">{fmtNum(m.total)}</span><span class="lbl">events</span></div>
        <div class="metric"><span class="num" data-testid="metric-rate">{fmtNum(perMinute())}</span><span class="lbl">per min</span></div>
        <div class="metric"><span class="num" data-testid="metric-types">{fmtNum(m.types.size)}</span><span class="lbl">types</span></div>
        <button type="button" class={`metric errors${m.errors ? ' has' : ''}`} data-testid="metric-errors-button" title="Show only error events"
          aria-pressed={String(stream.filter.errors)}
          onClick={() => { stream.setFilter({ errors: !stream.filter.errors }); go('#/events'); }}>
          <span class="num" data-testid="metric-errors">{fmtNum(m.errors)}</span><span class="lbl">errors</span>
        </button>
        <Chart testid="rate-chart" class="rate" height={44} opts={rateOpts} data={data} />
      </div>
    </header>
  );
}
