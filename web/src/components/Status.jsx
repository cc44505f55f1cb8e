// Small pieces every view uses: a status badge, a cost, a duration that
// ticks while its thing runs.
import { costText, fmtDur, toMs } from '../util.js';

export function StatusBadge({ status, label }) {
  const st = status || 'unknown';
  return <span class={`status ${st}`} data-status={st}>{label || st.replaceAll('_', ' ')}</span>;
}

export function Cost({ usage, testid }) {
  const c = costText(usage);
  return <span class={`cost src-${c.source}`} data-testid={testid} data-cost-source={c.source} title={c.title}>{c.text}</span>;
}

/** started → ended, or → now while it runs (redrawn by the page's clock). */
export function Elapsed({ start, end, running }) {
  const a = toMs(start);
  if (!Number.isFinite(a)) return null;
  const b = end ? toMs(end) : running ? Date.now() : NaN;
  if (!Number.isFinite(b)) return null;
  return <span class="dur">{fmtDur(b - a)}{!end && running ? '…' : ''}</span>;
}
