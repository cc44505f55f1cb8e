// Derived state: what the Sessions, Tools, Agents and Todo views show, built
// incrementally from each event as it is ingested (never by rescanning the
// buffer), and bounded so an endless stream cannot grow it without limit.

import { isErrorEvent, modelName, toolInputSummary } from './util.js';

const MAX_TOOL_CALLS = 20000;
const MAX_AGENTS = 5000;
const MAX_SESSIONS = 2000;

/** Status a raw /hook event implies for its session; undefined: no change. */
function hookStatus(name, d) {
  switch (name) {
    case 'session_start': return 'idle';
    case 'user_prompt': return 'running';
    case 'pre_tool': case 'post_tool': case 'post_tool_use_failure':
    case 'subagent_start': case 'subagent_stop':
      return 'running';
    case 'permission_request': return 'waiting_for_permission';
    case 'notification': {
      const t = d.notification_type || '';
      if (t === 'permission_prompt' || (!t && /permission/i.test(d.message || ''))) return 'waiting_for_permission';
      if (t === 'idle_prompt') return 'idle';
      return undefined;
    }
    case 'stop': return 'idle';
    case 'pre_compact': return 'compacting';
    case 'session_end': return 'ended';
  }
  return undefined;
}

export class Derived {
  constructor() { this.reset(); }

  reset() {
    this.sessions = new Map();
    this.tools = new Map(); // tool_use_id → call
    this.toolOrder = [];
    this.toolNames = new Set();
    this.inflight = 0;
    this.agents = new Map(); // tool_use_id → delegation
    this.agentOrder = [];
    this.subagents = new Map(); // agent_id → run
    this.todos = new Map(); // session_id → {todos, stats, ts}
    this.dirty = { sessions: true, tools: true, agents: true, todos: true };
  }

  apply(ev) {
    const d = ev.data, name = ev.ev, ns = ev.ns;
    if (ev.sid) this.session(ev);
    if (ns === '/hook') {
      if (name === 'pre_tool' || name === 'post_tool' || name === 'post_tool_use_failure') {
        this.tool(ev);
        const tn = d.tool_name;
        if (tn === 'Task' || tn === 'Agent') this.delegationFromTool(ev);
        if (tn === 'TodoWrite' && name === 'pre_tool' && d.tool_input && Array.isArray(d.tool_input.todos)) {
          this.setTodos(ev.sid, d.tool_input.todos, null, ev.ts, false);
        }
      } else if (name === 'subagent_start' || name === 'subagent_stop') {
        this.subagent(ev);
      }
    } else if (ns === '/agent') {
      this.delegation(ev);
    } else if (ns === '/todo' && Array.isArray(d.todos)) {
      this.setTodos(ev.sid, d.todos, d.stats, ev.ts, true);
    }
  }

  session(ev) {
    const d = ev.data;
    let s = this.sessions.get(ev.sid);
    if (!s) {
      if (this.sessions.size >= MAX_SESSIONS) this.evictSession();
      s = { sid: ev.sid, status: 'running', cwd: '', model: '', start: ev.ts, end: null, last: ev.ts,
        count: 0, tools: 0, message: '', waitingSince: null, known: false };
      this.sessions.set(ev.sid, s);
    }
    s.count++;
    if (ev.ts > s.last) s.last = ev.ts;
    if (ev.ts < s.start && !s.known) s.start = ev.ts;
    if (!s.cwd && (d.cwd || d.working_directory)) s.cwd = d.cwd || d.working_directory;
    if (d.model) s.model = modelName(d.model) || s.model;
    if (d.permission_mode) s.mode = d.permission_mode;
    let next;
    if (ev.ns === '/session') {
      if (ev.ev === 'start') { next = s.status === 'ended' || !s.known ? 'idle' : undefined; s.known = true; s.start = ev.ts; s.end = null; }
      else if (ev.ev === 'end') next = 'ended';
      else if (ev.ev === 'status_changed' && typeof d.status === 'string') next = d.status;
    } else if (ev.ns === '/hook') {
      if (ev.ev === 'session_start') { s.known = true; s.start = Math.min(s.start, ev.ts); s.end = null; }
      if (ev.ev === 'pre_tool') s.tools++;
      next = hookStatus(ev.ev, d);
      if (next === 'running' && s.status === 'compacting' && ev.ev !== 'user_prompt') next = undefined;
    }
    if (next && next !== s.status) {
      s.status = next;
      if (next === 'ended') s.end = ev.ts;
      else s.end = null;
      if (next === 'waiting_for_permission') { s.waitingSince = ev.ts; s.message = d.message || s.message; }
      else s.waitingSince = null;
    }
    this.dirty.sessions = true;
  }

  evictSession() {
    // Forget the ended session seen longest ago (or the oldest of all).
    let victim = null;
    for (const s of this.sessions.values()) {
      if (!victim || (s.status === 'ended') > (victim.status === 'ended') ||
        ((s.status === 'ended') === (victim.status === 'ended') && s.last < victim.last)) victim = s;
    }
    if (victim) this.sessions.delete(victim.sid);
  }

  tool(ev) {
    const d = ev.data;
    const key = d.tool_use_id || `nokey:${ev.id}`;
    let c = this.tools.get(key);
    if (!c) {
      c = { key, id: d.tool_use_id || '', tool: d.tool_name || '?', sid: ev.sid, start: null, end: null, dur: null,
        status: 'running', input: '', error: '', pre: null, post: null, agent: d.agent_type || '' };
      this.tools.set(key, c);
      this.toolOrder.push(c);
      this.inflight++;
      if (this.toolOrder.length > MAX_TOOL_CALLS * 1.1) this.trimTools();
    }
    if (d.tool_name) { c.tool = d.tool_name; this.toolNames.add(d.tool_name); }
    if (!c.input && d.tool_input) c.input = toolInputSummary(d.tool_input);
    if (ev.ev === 'pre_tool') {
      c.pre = ev;
      c.start = ev.ts;
    } else {
      c.post = ev;
      c.end = ev.ts;
      const was = c.status;
      c.status = ev.ev === 'post_tool_use_failure' || isErrorEvent(ev.ns, ev.ev, d) ? 'failed' : 'ok';
      if (ev.ev === 'post_tool_use_failure') c.error = typeof d.error === 'string' ? d.error : JSON.stringify(d.error ?? 'failed');
      else if (c.status === 'failed') c.error = typeof d.error === 'string' ? d.error : 'tool reported an error';
      if (was === 'running') this.inflight--;
    }
    if (c.post) {
      const dm = c.post.data.duration_ms;
      c.dur = typeof dm === 'number' ? dm : c.start != null ? c.end - c.start : null;
    }
    this.dirty.tools = true;
  }

  trimTools() {
    const drop = this.toolOrder.length - MAX_TOOL_CALLS;
    for (const c of this.toolOrder.splice(0, drop)) {
      this.tools.delete(c.key);
      if (c.status === 'running') this.inflight--;
    }
  }

  agentRec(key, ev) {
    let a = this.agents.get(key);
    if (!a) {
      a = { key, agent: '', task: '', sid: ev.sid, status: 'running', start: ev.ts, end: null, dur: null, ev };
      this.agents.set(key, a);
      this.agentOrder.push(a);
      if (this.agentOrder.length > MAX_AGENTS * 1.1) {
        for (const x of this.agentOrder.splice(0, this.agentOrder.length - MAX_AGENTS)) this.agents.delete(x.key);
      }
    }
    return a;
  }

  delegation(ev) {
    const d = ev.data;
    if (ev.ev === 'agent_switched' && !d.tool_use_id) return;
    const a = this.agentRec(d.tool_use_id || `ev:${ev.id}`, ev);
    if (d.agent) a.agent = d.agent;
    if (d.task && !a.task) a.task = d.task;
    if (ev.ev === 'task_delegated') a.start = ev.ts;
    if (ev.ev === 'task_completed') {
      a.end = ev.ts;
      a.status = isErrorEvent(ev.ns, ev.ev, d) || d.status === 'failed' ? 'failed' : 'completed';
      a.dur = typeof d.duration_ms === 'number' ? d.duration_ms : a.end - a.start;
    }
    this.dirty.agents = true;
  }

  delegationFromTool(ev) {
    const d = ev.data;
    if (!d.tool_use_id) return;
    const a = this.agentRec(d.tool_use_id, ev);
    const inp = d.tool_input || {};
    if (!a.agent) a.agent = inp.subagent_type || inp.agent || '';
    if (!a.task) a.task = inp.description || inp.prompt || '';
    if (ev.ev === 'pre_tool') a.start = ev.ts;
    else if (a.status === 'running') {
      a.end = ev.ts;
      a.status = ev.ev === 'post_tool_use_failure' || isErrorEvent(ev.ns, ev.ev, d) ? 'failed' : 'completed';
      a.dur = typeof d.duration_ms === 'number' ? d.duration_ms : a.end - a.start;
    }
    this.dirty.agents = true;
  }

  subagent(ev) {
    const d = ev.data;
    const key = d.agent_id || `ev:${ev.id}`;
    let r = this.subagents.get(key);
    if (!r) {
      r = { key, id: d.agent_id || '', type: '', sid: ev.sid, status: 'running', start: ev.ts, end: null, dur: null };
      this.subagents.set(key, r);
      if (this.subagents.size > MAX_AGENTS) this.subagents.delete(this.subagents.keys().next().value);
    }
    if (d.agent_type) r.type = d.agent_type;
    if (ev.ev === 'subagent_start') r.start = ev.ts;
    else { r.end = ev.ts; r.status = 'completed'; r.dur = r.end - r.start; }
    this.dirty.agents = true;
  }

  setTodos(sid, todos, stats, ts, authoritative) {
    const key = sid || '(no session)';
    const cur = this.todos.get(key);
    // The derived /todo event carries the same list as the TodoWrite call; keep
    // whichever is newer, preferring /todo's stats on a tie.
    if (cur && cur.ts > ts) return;
    if (cur && cur.ts === ts && cur.authoritative && !authoritative) return;
    const st = stats && typeof stats === 'object' ? stats : {
      total: todos.length,
      completed: todos.filter((t) => t.status === 'completed').length,
      in_progress: todos.filter((t) => t.status === 'in_progress').length,
      pending: todos.filter((t) => t.status !== 'completed' && t.status !== 'in_progress').length,
    };
    this.todos.set(key, { sid: key, todos, stats: st, ts, authoritative });
    this.dirty.todos = true;
  }

  /** Sessions waiting for permission, longest waiting first. */
  waiting() {
    const w = [];
    for (const s of this.sessions.values()) if (s.status === 'waiting_for_permission') w.push(s);
    return w.sort((a, b) => a.waitingSince - b.waitingSince);
  }
}
