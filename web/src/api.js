// mpmd's HTTP API as the page uses it: JSON with the token, errors as
// HTTPError carrying the status and mpmd's sentence.
import { cfg, base } from './config.js';

export class HTTPError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

export function authHeaders() {
  return cfg.token ? { Authorization: `Bearer ${cfg.token}` } : {};
}

export async function getJSON(path, { signal } = {}) {
  const res = await fetch(base + path, { headers: authHeaders(), cache: 'no-store', signal });
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try { const j = await res.json(); if (j && j.error) msg = j.error; } catch { /* not JSON */ }
    throw new HTTPError(res.status, msg);
  }
  return res.json();
}

const enc = encodeURIComponent;
export const api = {
  health: () => getJSON('/health'),
  events: (q) => getJSON(`/api/events?${new URLSearchParams(q)}`),
  // brief: without each session's agents (the list shows their count): a
  // few hundred sessions with their subagents are megabytes otherwise.
  sessions: (changedSince) => getJSON(`/api/sessions?brief=1${changedSince ? `&changed_since=${changedSince}` : ''}`),
  session: (id, opts) => getJSON(`/api/sessions/${enc(id)}`, opts),
  transcript: (id, offset, limit, opts) => getJSON(`/api/sessions/${enc(id)}/transcript?offset=${offset}&limit=${limit}`, opts),
  tools: (id, offset, limit, opts) => getJSON(`/api/sessions/${enc(id)}/tools?offset=${offset}&limit=${limit}`, opts),
};
