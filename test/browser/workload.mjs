// A realistic event mix for load tests and the benchmark: tool calls paired
// pre/post (some failing), prompts, notifications, logs, over many sessions.
export function hookEvent(i, sessions = 20) {
  const sid = `load-session-${String(i % sessions).padStart(3, '0')}`;
  const base = { session_id: sid, transcript_path: `/tmp/${sid}.jsonl`, cwd: `/work/project-${i % sessions}`, permission_mode: 'default' };
  const call = Math.floor(i / 2);
  const tools = ['Bash', 'Read', 'Edit', 'Grep', 'Glob', 'Write'];
  const tool = tools[call % tools.length];
  const input = tool === 'Bash' ? { command: `go test ./pkg/${call % 50}/...` } : tool === 'Grep' ? { pattern: `needle${call % 97}` } : { file_path: `/work/project/src/file${call % 500}.go` };
  switch (i % 10) {
    case 9:
      return ['user_prompt', { ...base, hook_event_name: 'UserPromptSubmit', prompt: `prompt number ${i}: please refactor module ${i % 37}` }];
    case 8:
      return ['notification', { ...base, hook_event_name: 'Notification', message: `Claude is working on item ${i}`, notification_type: 'info' }];
    default:
      if (i % 2 === 0) return ['pre_tool', { ...base, hook_event_name: 'PreToolUse', tool_name: tool, tool_use_id: `toolu_${call}`, tool_input: input }];
      if (call % 23 === 0) return ['post_tool_use_failure', { ...base, hook_event_name: 'PostToolUseFailure', tool_name: tool, tool_use_id: `toolu_${call}`, tool_input: input, error: `exit status ${call % 3 + 1}` }];
      return ['post_tool', { ...base, hook_event_name: 'PostToolUse', tool_name: tool, tool_use_id: `toolu_${call}`, tool_input: input, tool_response: { stdout: `ok ${call}`, stderr: '' }, duration_ms: (call * 37) % 4000 }];
  }
}

/** In the page: records every frame's duration and every long task. */
export function installFrameMonitor() {
  const m = { frames: [], longTasks: [], running: true, last: performance.now() };
  const tick = (t) => {
    m.frames.push(t - m.last);
    m.last = t;
    if (m.running) requestAnimationFrame(tick);
  };
  requestAnimationFrame((t) => { m.last = t; requestAnimationFrame(tick); });
  try {
    new PerformanceObserver((l) => { for (const e of l.getEntries()) m.longTasks.push(e.duration); }).observe({ type: 'longtask', buffered: false });
  } catch { /* not supported */ }
  window.__frames = m;
}

/** In the page: stops the monitor and summarises it. */
export function frameStats() {
  const m = window.__frames;
  m.running = false;
  const f = m.frames.slice().sort((a, b) => a - b);
  const q = (p) => (f.length ? f[Math.min(f.length - 1, Math.floor(f.length * p))] : 0);
  const lt = m.longTasks;
  return {
    frames: f.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: f.at(-1) ?? 0,
    over50: f.filter((x) => x > 50).length, over500: f.filter((x) => x > 500).length, longTasks: lt.length, longTaskMax: lt.length ? Math.max(...lt) : 0,
    longTaskTotal: lt.reduce((a, b) => a + b, 0),
  };
}
