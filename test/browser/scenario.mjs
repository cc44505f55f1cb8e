// Scripted Claude Code sessions in the shapes the real CLI sends (the hook
// inputs of fixtures/two-background-agents, the /claude events of the
// transcript watcher), as steps for recording.replay: for the cases a short
// recording does not cover — Markdown that tries to run code, a failing
// call, a permission wait, 5,000 entries, the screenshots' afternoon.
import { createHash } from 'node:crypto';

export class Scenario {
  /** start: ms of the first event; every method takes t, ms after it. */
  constructor(sessionId, { cwd = '/home/dev/project', start = Date.now() - 120000, model = 'claude-opus-5-5', mode = 'default' } = {}) {
    Object.assign(this, { sessionId, cwd, start, model, mode, steps: [], msg: 0, tu: 0 });
    this.transcript = `/home/dev/.claude/projects/${cwd.replaceAll('/', '-')}/${sessionId}.jsonl`;
    this.tx = `tx:${createHash('sha256').update(this.transcript).digest('hex').slice(0, 16)}:`;
  }

  ts(t) { return new Date(this.start + t).toISOString(); }

  hook(t, name, fields = {}, agent = null) {
    const input = {
      session_id: this.sessionId, transcript_path: this.transcript, cwd: this.cwd, permission_mode: this.mode,
      ...(agent ? { agent_id: agent.id, agent_type: agent.type } : {}), hook_event_name: name, ...fields, timestamp: this.ts(t),
    };
    this.steps.push({ kind: 'hook', input, t: input.timestamp });
    return this;
  }

  claude(t, event, data, agent = null) {
    const d = { session_id: this.sessionId, ...(agent ? { agent_id: agent.id } : {}), ...data, timestamp: this.ts(t) };
    this.steps.push({ kind: 'event', namespace: 'claude', event, data: d, t: d.timestamp });
    return this;
  }

  start_(t, source = 'startup') { return this.hook(t, 'SessionStart', { source }); }
  prompt(t, text) { return this.hook(t, 'UserPromptSubmit', { prompt: text }); }

  /** One API message: optional thinking, optional text, its usage. */
  message(t, { thinking = '', text = '', agent = null, usage = {}, model = this.model } = {}) {
    const id = `msg_${String(++this.msg).padStart(4, '0')}`;
    const ids = { message_id: id, request_id: `req_${id}`, model };
    if (thinking) this.claude(t, 'thinking', { ...ids, uuid: `${id}-th`, content: thinking, event_id: `${this.tx}${id}-th:thinking` }, agent);
    if (text) this.claude(t + 1, 'output', { ...ids, uuid: `${id}-tx`, content: text, stream: 'assistant', event_id: `${this.tx}${id}-tx:output` }, agent);
    const u = { input_tokens: 1200, output_tokens: 300, cache_creation_input_tokens: 400, cache_read_input_tokens: 5000, cache_creation_5m_input_tokens: 400, cache_creation_1h_input_tokens: 0, web_search_requests: 0, ...usage };
    this.claude(t + 1, 'usage', { ...ids, ...u, service_tier: 'standard', inference_geo: '', speed: 'standard', event_id: `${this.tx}${id}:usage` }, agent);
    return this;
  }

  /** A tool call from t to t + ms; error makes it fail; ms null leaves it running. */
  tool(t, name, input, { ms = 200, error = '', response = { stdout: '' }, agent = null, id = '' } = {}) {
    const tuid = id || `toolu_${String(++this.tu).padStart(5, '0')}`;
    this.hook(t, 'PreToolUse', { tool_name: name, tool_input: input, tool_use_id: tuid }, agent);
    if (ms == null) return tuid;
    if (error) this.hook(t + ms, 'PostToolUseFailure', { tool_name: name, tool_input: input, tool_use_id: tuid, error }, agent);
    else this.hook(t + ms, 'PostToolUse', { tool_name: name, tool_input: input, tool_use_id: tuid, tool_response: response, duration_ms: ms }, agent);
    return tuid;
  }

  /** A background subagent launched at t (Agent call, SubagentStart, PostToolUse async_launched); returns it. */
  spawn(t, { type = 'general-purpose', description, prompt = description, id }) {
    const agent = { id, type, tuid: `toolu_${String(++this.tu).padStart(5, '0')}` };
    const input = { description, prompt, subagent_type: type, run_in_background: true };
    this.hook(t, 'PreToolUse', { tool_name: 'Agent', tool_input: input, tool_use_id: agent.tuid });
    this.hook(t + 15, 'SubagentStart', {}, agent);
    this.hook(t + 22, 'PostToolUse', { tool_name: 'Agent', tool_input: input, tool_use_id: agent.tuid, duration_ms: 22,
      tool_response: { isAsync: true, status: 'async_launched', agentId: id, description, resolvedModel: this.model, prompt } });
    return agent;
  }

  /** The subagent ends at t: SubagentStop, then the task notification the main agent gets. */
  finish(t, agent, result) {
    this.hook(t, 'SubagentStop', { stop_hook_active: false, last_assistant_message: result,
      agent_transcript_path: this.transcript.replace(/\.jsonl$/, `/subagents/agent-${agent.id}.jsonl`) }, agent);
    this.prompt(t + 80, `<task-notification>\n<task-id>${agent.id}</task-id>\n<tool-use-id>${agent.tuid}</tool-use-id>\n<status>completed</status>\n<summary>Agent "${agent.type}" finished</summary>\n<result>${result}</result>\n</task-notification>`);
    return this;
  }

  stop(t, fields = {}) { return this.hook(t, 'Stop', { stop_hook_active: false, background_tasks: [], ...fields }); }
  end(t, reason = 'other') { return this.hook(t, 'SessionEnd', { reason }); }

  /** Claude Code's own account of the session's cost. */
  costState(t, total, models) {
    const model_usage = {};
    for (const [m, c] of Object.entries(models)) model_usage[m] = { input_tokens: 0, output_tokens: 0, cache_read_input_tokens: 0, cache_creation_input_tokens: 0, cache_creation_5m_input_tokens: 0, cache_creation_1h_input_tokens: 0, web_search_requests: 0, ...c };
    return this.claude(t, 'cost_state', { total_cost_usd: total, total_api_duration_ms: t, total_duration_ms: t, lines_added: 42, lines_removed: 7, has_unknown_model_cost: false, model_usage, event_id: `${this.tx}cost@${t}:cost_state` });
  }
}
