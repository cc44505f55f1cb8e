// The page's configuration, read once from its URL: which mpmd to talk to,
// the token, and how much history to keep (docs/DASHBOARD.md, "Opening it").

const params = new URLSearchParams(location.search);
const boolParam = (v, d) => (v == null ? d : !/^(0|false|no|off)$/i.test(v));
const intParam = (v, d, lo, hi) => {
  const n = parseInt(v ?? '', 10);
  return Number.isFinite(n) ? Math.min(hi, Math.max(lo, n)) : d;
};

export const cfg = {
  port: params.get('port') || '',
  autoconnect: boolParam(params.get('autoconnect'), true),
  capacity: intParam(params.get('buffer'), 100000, 100, 1000000),
  historyLimit: intParam(params.get('history'), 2000, 0, 1000000),
  token: '',
  // websocket (default) or polling: long-polling only, for proxies that
  // break websockets.
  transports: params.get('transport') === 'polling' ? ['polling'] : ['websocket', 'polling'],
};

{
  // A token in the URL is taken once and removed from the address bar (and
  // so from the browser history and any screenshot); the tab keeps it.
  const t = params.get('token');
  if (t) {
    cfg.token = t;
    try { sessionStorage.setItem('mpm.token', t); } catch { /* private mode */ }
    params.delete('token');
    const q = params.toString();
    history.replaceState(null, '', location.pathname + (q ? '?' + q : '') + location.hash);
  } else {
    try { cfg.token = sessionStorage.getItem('mpm.token') || ''; } catch { /* private mode */ }
  }
}

export function setToken(t) {
  cfg.token = t;
  try { sessionStorage.setItem('mpm.token', t); } catch { /* private mode */ }
}

/** The mpmd this page talks to: the one that served it, or ?port= on the same host. */
export const base = (() => {
  if (location.protocol === 'http:' || location.protocol === 'https:') {
    if (!cfg.port || cfg.port === location.port) return location.origin;
    const host = location.hostname.includes(':') ? `[${location.hostname}]` : location.hostname;
    return `${location.protocol}//${host}:${cfg.port}`;
  }
  return `http://127.0.0.1:${cfg.port || 8765}`;
})();
