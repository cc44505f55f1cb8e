// Recorded Claude Code sessions for the browser tests, replayed into a real
// mpmd. A recording is a directory:
//
//   hooks.jsonl    the hook inputs Claude Code gave mpm-hook, one JSON object a
//                  line, in the order they came, each with a `timestamp`
//                  (RFC 3339; a line without one takes the previous line's)
//   events.jsonl   optional: other events, {namespace, event, data}, with
//                  data.timestamp (e.g. /claude events mpmd's transcript
//                  watcher produced, as /api/events?format=jsonl exports them)
//   projects/      optional: the Claude projects directory of the run (the
//                  transcripts hooks' transcript_path names, found by the path
//                  after ".../projects/"); each is read here into the /claude
//                  output, thinking, usage and cost_state events the
//                  transcript watcher sends (design-9 contract: ids
//                  tx:<sha256(path)[:16]>:<uuid>:<kind>, one usage per
//                  message.id, <synthetic> skipped)
//
// load(dir) merges all of it into one time-ordered list of steps;
// replay(mpmd, steps, opts) sends them: hook inputs through bin/mpm-hook (at
// the recorded pace, so their times are mpm-hook's) or POST /emit (at once,
// with the recorded times moved to end now), the other events through
// POST /emit. A directory recorded by the real-CLI scenarios (hook inputs and
// the run's projects directory) drops in as it is.

import { readFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { emit, runHook, sleep } from './harness.mjs';

const readJSONL = (p) => readFileSync(p, 'utf8').split('\n').filter((l) => l.trim()).map((l, i) => {
  try { return JSON.parse(l); } catch (err) { throw new Error(`${p}:${i + 1}: ${err.message}`); }
});

/** The /hook event name mpm-hook gives a hook_event_name (pkg/event HookEventName). */
export function hookEventName(name) {
  const fixed = { UserPromptSubmit: 'user_prompt', PreToolUse: 'pre_tool', PostToolUse: 'post_tool' };
  if (fixed[name]) return fixed[name];
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const c = name[i], prev = name[i - 1], next = name[i + 1];
    if (c >= 'A' && c <= 'Z') {
      if (i > 0 && ((prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9') || (next >= 'a' && next <= 'z' && prev >= 'A' && prev <= 'Z'))) out += '_';
      out += c.toLowerCase();
    } else out += /[a-z0-9_.-]/.test(c) ? c : '_';
  }
  return out;
}

/**
 * The /claude events the transcript watcher reads from one transcript file:
 * text and thinking per assistant line, usage per API message when it is
 * first seen or changes, Claude Code's cost-state.
 */
export function transcriptEvents(file, { sessionId, agentId = '', idPath = file } = {}) {
  const out = [];
  const prefix = `tx:${createHash('sha256').update(idPath).digest('hex').slice(0, 16)}:`;
  const usageSeen = new Map();
  let lastTime = '';
  let offset = 0;
  const raw = readFileSync(file, 'utf8');
  for (const line of raw.split('\n')) {
    const at = offset;
    offset += Buffer.byteLength(line) + 1;
    if (!line.trim()) continue;
    let d;
    try { d = JSON.parse(line); } catch { continue; } // a partial last line
    if (d.timestamp) lastTime = d.timestamp;
    const base = { session_id: sessionId, ...(agentId ? { agent_id: agentId } : {}), timestamp: d.timestamp || lastTime };
    const key = d.uuid || `@${at}`;
    if (d.type === 'assistant' && d.message) {
      const m = d.message;
      if (m.model === '<synthetic>') continue;
      const blocks = Array.isArray(m.content) ? m.content : [];
      const ids = { message_id: m.id, request_id: d.requestId, model: m.model, uuid: d.uuid };
      const text = blocks.filter((b) => b.type === 'text').map((b) => b.text).join('');
      if (text) out.push({ namespace: 'claude', event: 'output', data: { ...base, ...ids, content: text, stream: 'assistant', event_id: `${prefix}${key}:output` } });
      for (const b of blocks.filter((x) => x.type === 'thinking' && x.thinking)) {
        out.push({ namespace: 'claude', event: 'thinking', data: { ...base, ...ids, content: b.thinking, event_id: `${prefix}${key}:thinking` } });
      }
      const u = m.usage;
      if (u) {
        const usage = {
          input_tokens: u.input_tokens || 0, output_tokens: u.output_tokens || 0,
          cache_creation_input_tokens: u.cache_creation_input_tokens || 0, cache_read_input_tokens: u.cache_read_input_tokens || 0,
          cache_creation_5m_input_tokens: u.cache_creation?.ephemeral_5m_input_tokens || 0, cache_creation_1h_input_tokens: u.cache_creation?.ephemeral_1h_input_tokens || 0,
          web_search_requests: u.server_tool_use?.web_search_requests || 0, service_tier: u.service_tier || '', inference_geo: u.inference_geo || '', speed: u.speed || '',
        };
        const sig = JSON.stringify(usage);
        if (usageSeen.get(m.id) !== sig) {
          usageSeen.set(m.id, sig);
          out.push({ namespace: 'claude', event: 'usage', data: { ...base, message_id: m.id, request_id: d.requestId, model: m.model, ...usage, event_id: `${prefix}${key}:usage` } });
        }
      }
    } else if (d.type === 'cost-state') {
      const model_usage = {};
      for (const [name, mu] of Object.entries(d.modelUsage || {})) {
        model_usage[name] = {
          input_tokens: mu.inputTokens || 0, output_tokens: mu.outputTokens || 0, cache_read_input_tokens: mu.cacheReadInputTokens || 0,
          cache_creation_input_tokens: mu.cacheCreationInputTokens || 0, cache_creation_5m_input_tokens: mu.cacheCreationEphemeral5mInputTokens || 0,
          cache_creation_1h_input_tokens: mu.cacheCreationEphemeral1hInputTokens || 0, web_search_requests: mu.webSearchRequests || 0, cost_usd: mu.costUSD ?? null,
        };
      }
      out.push({ namespace: 'claude', event: 'cost_state', data: {
        ...base, total_cost_usd: d.totalCostUSD, total_api_duration_ms: d.totalAPIDuration, total_duration_ms: d.totalDuration,
        lines_added: d.totalLinesAdded || 0, lines_removed: d.totalLinesRemoved || 0, has_unknown_model_cost: !!d.hasUnknownModelCost, model_usage,
        event_id: `${prefix}${key}:cost_state`,
      } });
    }
  }
  return out;
}

/** The file of dir/projects a recorded transcript path names, or ''. */
function localTranscript(dir, p) {
  const i = p.indexOf('/projects/');
  if (i < 0) return '';
  const f = path.join(dir, 'projects', p.slice(i + '/projects/'.length));
  return existsSync(f) && statSync(f).isFile() ? f : '';
}

/** A recording directory as time-ordered steps: {kind: 'hook', input} | {kind: 'event', namespace, event, data}. */
export function load(dir) {
  const steps = [];
  let last = '';
  const transcripts = new Map(); // local file → {sessionId, agentId, idPath}
  for (const input of existsSync(path.join(dir, 'hooks.jsonl')) ? readJSONL(path.join(dir, 'hooks.jsonl')) : []) {
    const t = input.timestamp || last;
    last = t;
    steps.push({ kind: 'hook', input, t });
    for (const [field, agent] of [['transcript_path', ''], ['agent_transcript_path', input.agent_id || '']]) {
      const p = input[field];
      if (typeof p !== 'string' || !p) continue;
      const f = localTranscript(dir, p);
      if (f && !transcripts.has(f)) transcripts.set(f, { sessionId: input.session_id, agentId: agent, idPath: p });
    }
  }
  // Subagent transcripts sit beside the session's: <session>/subagents/agent-<id>.jsonl.
  for (const [f, t] of [...transcripts]) {
    if (t.agentId) continue;
    const sub = path.join(f.replace(/\.jsonl$/, ''), 'subagents');
    if (!existsSync(sub)) continue;
    for (const name of readdirSync(sub)) {
      const m = name.match(/^agent-(.+)\.jsonl$/);
      const file = path.join(sub, name);
      if (m && !transcripts.has(file)) transcripts.set(file, { sessionId: t.sessionId, agentId: m[1], idPath: path.join(t.idPath.replace(/\.jsonl$/, ''), 'subagents', name) });
    }
  }
  for (const [f, t] of transcripts) {
    for (const e of transcriptEvents(f, t)) steps.push({ kind: 'event', ...e, t: e.data.timestamp });
  }
  if (existsSync(path.join(dir, 'events.jsonl'))) {
    for (const e of readJSONL(path.join(dir, 'events.jsonl'))) steps.push({ kind: 'event', namespace: e.namespace, event: e.event, data: e.data, t: e.data?.timestamp || last });
  }
  // Stable: hooks keep their order among themselves.
  return steps.map((s, i) => ({ s, i })).sort((a, b) => (Date.parse(a.s.t) || 0) - (Date.parse(b.s.t) || 0) || a.i - b.i).map((x) => x.s);
}

/**
 * Renames a recording's sessions (ids suffixed), so one recording can be
 * replayed more than once into the same mpmd; event ids follow.
 */
export function rename(steps, suffix) {
  const sid = (s) => (s ? `${s}${suffix}` : s);
  return steps.map((st) => {
    if (st.kind === 'hook') return { ...st, input: { ...st.input, session_id: sid(st.input.session_id) } };
    const data = { ...st.data, session_id: sid(st.data.session_id) };
    if (data.event_id) data.event_id = `${data.event_id}${suffix}`;
    return { ...st, data };
  });
}

/**
 * Sends steps to mpmd. via: 'emit' (default: at once, times moved so the
 * last step is `end`, default now) or 'hook' (hook inputs through
 * bin/mpm-hook at the recorded pace × speed; every event is stamped as it
 * is sent).
 */
export async function replay(mpmd, steps, { via = 'emit', end = Date.now(), speed = 1 } = {}) {
  const times = steps.map((s) => Date.parse(s.t)).filter(Number.isFinite);
  const shift = times.length ? end - Math.max(...times) : 0;
  const at = (t) => new Date(Date.parse(t) + shift).toISOString();
  const t0 = Date.now(), first = times.length ? Math.min(...times) : 0;
  for (const st of steps) {
    if (via === 'hook') {
      const due = t0 + ((Date.parse(st.t) || first) - first) * speed;
      if (due > Date.now()) await sleep(due - Date.now());
      if (st.kind === 'hook') {
        const { timestamp, ...input } = st.input;
        const r = await runHook(mpmd, input);
        if (r.code !== 0) throw new Error(`mpm-hook exited ${r.code}: ${r.stderr}`);
      } else {
        await emit(mpmd, st.namespace, st.event, { ...st.data, timestamp: new Date().toISOString() });
      }
    } else if (st.kind === 'hook') {
      await emit(mpmd, 'hook', hookEventName(st.input.hook_event_name), { ...st.input, timestamp: at(st.t) });
    } else {
      await emit(mpmd, st.namespace, st.event, { ...st.data, timestamp: at(st.t) });
    }
  }
}

export const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures');
