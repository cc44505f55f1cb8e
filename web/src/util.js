// Small helpers shared by the views: formatting (numbers, times, dollars,
// tokens), colours, one-line event summaries for the event log.

export const NAMESPACES = ['/system', '/session', '/claude', '/agent', '/hook', '/todo', '/memory', '/log'];

const nf = new Intl.NumberFormat('en-US');
export const fmtNum = (n) => nf.format(n);

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** HH:MM:SS.mmm in local time. */
export function fmtTime(ms) {
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** YYYY-MM-DD HH:MM:SS in local time. */
export function fmtDateTime(ms) {
  if (!Number.isFinite(ms)) return '';
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A duration in ms as "850 ms", "12.3 s", "4m 05s", "2h 03m". */
export function fmtDur(ms) {
  if (ms == null || !Number.isFinite(ms)) return '';
  if (ms < 0) ms = 0;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(Math.floor(s % 60))}s`;
  return `${Math.floor(m / 60)}h ${pad(m % 60)}m`;
}

export const shortId = (s) => (typeof s === 'string' && s.length > 10 ? s.slice(0, 8) : s || '');

const colorCache = new Map();
/** A stable colour for a session id, spread around the hue circle. */
export function sessionColor(sid) {
  if (!sid) return 'transparent';
  let c = colorCache.get(sid);
  if (c) return c;
  let h = 2166136261;
  for (let i = 0; i < sid.length; i++) h = Math.imul(h ^ sid.charCodeAt(i), 16777619);
  const hue = (h >>> 0) % 360;
  c = `hsl(${hue} 70% 50%)`;
  colorCache.set(sid, c);
  return c;
}

function clip(s, n = 160) {
  if (s == null) return '';
  s = typeof s === 'string' ? s : JSON.stringify(s);
  s = s.replace(/\s+/g, ' ');
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

/** The most telling part of a tool's input, for one line. */
export function toolInputSummary(input) {
  if (!input || typeof input !== 'object') return clip(input);
  const v = input.command ?? input.file_path ?? input.path ?? input.pattern ?? input.url ??
    input.description ?? input.query ?? input.prompt ?? input.notebook_path;
  if (v != null) return clip(v);
  if (Array.isArray(input.todos)) return `${input.todos.length} todos`;
  return clip(input);
}

/** Whether an event reports a failure (highlighted, counted as an error). */
export function isErrorEvent(ns, name, d) {
  if (/error|fail/i.test(name)) return true;
  if (!d || typeof d !== 'object') return false;
  if (typeof d.error === 'string' ? d.error !== '' : d.error != null && d.error !== false) return true;
  if (d.success === false) return true;
  if (typeof d.level === 'string' && /^(error|critical|fatal)$/i.test(d.level)) return true;
  if (d.status === 'failed' || d.status === 'error') return true;
  const r = d.tool_response;
  if (r && typeof r === 'object' && (r.is_error === true || r.success === false || r.interrupted === true)) return true;
  return false;
}

/** One line describing an event, shown in the stream. */
export function summarize(ns, name, d) {
  if (!d || typeof d !== 'object') return clip(d);
  switch (name) {
    case 'pre_tool':
      return `${d.tool_name ?? ''} ${toolInputSummary(d.tool_input)}`;
    case 'post_tool':
    case 'post_tool_use_failure': {
      const dur = typeof d.duration_ms === 'number' ? ` (${fmtDur(d.duration_ms)})` : '';
      const err = d.error ? ` — ${clip(d.error, 80)}` : '';
      return `${d.tool_name ?? ''}${dur} ${toolInputSummary(d.tool_input)}${err}`;
    }
    case 'user_prompt':
      return clip(d.prompt);
    case 'notification':
      return `${d.notification_type ? `[${d.notification_type}] ` : ''}${clip(d.message)}`;
    case 'session_start':
    case 'start':
      return [d.source, modelName(d.model), d.cwd ?? d.working_directory].filter(Boolean).join(' · ');
    case 'session_end':
    case 'end':
      return [d.reason, d.duration_seconds != null ? fmtDur(d.duration_seconds * 1000) : ''].filter(Boolean).join(' · ');
    case 'status_changed':
      return `${d.previous_status ? d.previous_status + ' → ' : ''}${d.status ?? ''}${d.message ? ' · ' + clip(d.message, 100) : ''}`;
    case 'task_delegated':
    case 'task_completed':
    case 'agent_switched':
      return `${d.agent ?? d.agent_type ?? ''}${d.status ? ' [' + d.status + ']' : ''} ${clip(d.task ?? d.description ?? '')}`;
    case 'subagent_start':
    case 'subagent_stop':
      return `${d.agent_type ?? ''} ${d.agent_id ?? ''}`;
    case 'updated':
      if (ns === '/todo' && d.stats) return `${d.stats.completed ?? 0}/${d.stats.total ?? 0} done, ${d.stats.in_progress ?? 0} in progress`;
      break;
    case 'heartbeat':
      return [d.uptime_seconds != null ? `uptime ${fmtDur(d.uptime_seconds * 1000)}` : '', d.clients != null ? `${d.clients} clients` : '', d.stored_events != null ? `${d.stored_events} stored` : ''].filter(Boolean).join(' · ');
    case 'status':
      if (ns === '/system') return [d.claude_status ? `claude ${d.claude_status}` : '', d.clients != null ? `${d.clients} clients` : '', d.last_seq != null ? `last seq ${d.last_seq}` : ''].filter(Boolean).join(' · ');
      break;
    case 'server_info':
      return [d.version ? `mpmd ${d.version}` : '', d.pid ? `pid ${d.pid}` : '', d.host && d.port ? `${d.host}:${d.port}` : ''].filter(Boolean).join(' · ');
  }
  if (ns === '/log') return `[${d.level ?? name}] ${clip(d.message)}`;
  if (d.message != null) return clip(d.message);
  if (d.content != null) return clip(d.content);
  // Anything else: its fields minus the bookkeeping ones.
  const rest = {};
  let n = 0;
  for (const k in d) {
    if (k === 'event_id' || k === 'seq' || k === 'timestamp' || k === 'session_id' || k === 'transcript_path' || k === 'hook_event_name') continue;
    rest[k] = d[k];
    if (++n >= 8) break;
  }
  return n ? clip(rest) : '';
}

export function modelName(m) {
  if (!m) return '';
  if (typeof m === 'string') return m;
  return m.display_name ?? m.id ?? '';
}

/** A dollar amount: $0.0030 below a cent, $1.23, $1,234. */
export function fmtUSD(v) {
  if (v == null || !Number.isFinite(v)) return '';
  if (v === 0) return '$0.00';
  if (Math.abs(v) < 0.01) return `$${v.toFixed(4)}`;
  if (Math.abs(v) < 1) return `$${v.toFixed(3)}`;
  if (Math.abs(v) < 1000) return `$${v.toFixed(2)}`;
  return `$${nf.format(Math.round(v))}`;
}

const SOURCES = {
  claude: "Claude Code's own cost (its cost-state entry)",
  pricing: "computed by mpmd from its pricing table",
  unknown: 'a model without a known price',
  none: 'no API usage seen yet',
};

/**
 * How a Usage's cost reads: the amount, or "unknown" where mpmd says the
 * price is unknown (never $0.00 for it), or "–" before any usage; title
 * says where it comes from.
 */
export function costText(u) {
  const src = (u && u.cost_source) || 'none';
  if (src === 'none') return { text: '–', title: SOURCES.none, source: src };
  const unpriced = u.unpriced_models && u.unpriced_models.length ? ` (${u.unpriced_models.join(', ')})` : '';
  if (u.cost_usd == null) return { text: 'unknown', title: `no price known for ${unpriced ? unpriced.slice(2, -1) : 'its model'}`, source: src };
  if (src === 'unknown') return { text: `${fmtUSD(u.cost_usd)} + unknown`, title: `${fmtUSD(u.cost_usd)} for the priced models; no price known for the rest${unpriced}`, source: src };
  return { text: fmtUSD(u.cost_usd), title: SOURCES[src] || src, source: src };
}

/** 1234 → "1.2k", 1234567 → "1.23M". */
export function fmtCompact(n) {
  if (n == null || !Number.isFinite(n)) return '';
  if (Math.abs(n) < 1000) return String(n);
  if (Math.abs(n) < 1e6) return `${(n / 1000).toFixed(n < 1e4 ? 1 : 0)}k`;
  return `${(n / 1e6).toFixed(2)}M`;
}

/** The token kinds of a Usage, in the order shown, with their labels. */
export const TOKEN_KINDS = [
  ['input_tokens', 'input'],
  ['output_tokens', 'output'],
  ['cache_creation_input_tokens', 'cache write'],
  ['cache_creation_5m_input_tokens', '  of which 5 min'],
  ['cache_creation_1h_input_tokens', '  of which 1 h'],
  ['cache_read_input_tokens', 'cache read'],
];

/** Every token of a Usage, input and output (Go's Tokens.Total). */
export function totalTokens(u) {
  if (!u) return 0;
  return (u.input_tokens || 0) + (u.output_tokens || 0) + (u.cache_creation_input_tokens || 0) + (u.cache_read_input_tokens || 0);
}

/** A time from the API (RFC 3339) in ms, or NaN. */
export const toMs = (t) => (t ? Date.parse(t) : NaN);

const agentPalette = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed', '#0891b2', '#65a30d', '#dc2626'];
/** A stable colour per agent of a session: main is the first, the others by their order. */
export function agentColor(index) { return agentPalette[index % agentPalette.length]; }

/** el('td', {className: 'x'}, 'text', child…): a small DOM builder; text is never parsed as HTML. */
export function el(tag, props, ...children) {
  const e = document.createElement(tag);
  if (props) for (const k in props) {
    if (k === 'dataset') Object.assign(e.dataset, props[k]);
    else if (k === 'style') e.style.cssText = props[k];
    else if (k in e) e[k] = props[k];
    else e.setAttribute(k, props[k]);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}
