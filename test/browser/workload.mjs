// Workloads for the load tests and the benchmark: a realistic event mix
// (tool calls paired pre/post, some failing, prompts, notifications, over
// many sessions), a session of 5,000 conversation entries, and the
// in-page frame monitor.
import { producer, sendMany, waitFor, tid } from './harness.mjs';
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

/**
 * A session of n conversation entries in mpmd: 40 % tool calls (PreToolUse +
 * PostToolUse, one entry each), 30 % Claude's text (Markdown), 30 % thinking.
 */
export async function largeSession(mpmd, sid, n = 5000) {
  const base = { session_id: sid, transcript_path: `/tmp/${sid}.jsonl`, cwd: '/home/dev/large', permission_mode: 'default' };
  const hookP = await producer(mpmd, '/hook');
  const claudeP = await producer(mpmd, '/claude');
  const calls = Math.round(n * 0.4), msgs = n - calls;
  const t0 = Date.now() - 3600e3;
  await hookP.send('session_start', { ...base, hook_event_name: 'SessionStart', source: 'startup', timestamp: new Date(t0).toISOString() });
  await sendMany(hookP, calls * 2, (i) => {
    const c = i >> 1, at = new Date(t0 + 1000 + c * 1000 + (i & 1) * 300).toISOString();
    const inp = { command: `go test ./pkg/${c % 40}/...`, description: `run the tests of package ${c % 40}` };
    return (i & 1) === 0
      ? ['pre_tool', { ...base, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_use_id: `toolu_L${c}`, tool_input: inp, timestamp: at }]
      : ['post_tool', { ...base, hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_use_id: `toolu_L${c}`, tool_input: inp, tool_response: { stdout: `ok package ${c}\n`.repeat(3) }, duration_ms: 300, timestamp: at }];
  });
  await sendMany(claudeP, msgs, (i) => {
    const m = i >> 1, at = new Date(t0 + 1500 + Math.floor((m * calls * 1000) / (msgs / 2))).toISOString();
    const ids = { session_id: sid, message_id: `msg_L${m}`, request_id: `req_L${m}`, model: 'claude-opus-5-5', uuid: `u${i}`, timestamp: at, event_id: `tx:large:${sid}:${i}` };
    return (i & 1) === 0 ? ['thinking', { ...ids, content: `Thinking about step ${m}: which package to test next, and why.` }]
      : ['output', { ...ids, content: `Step **${m}** done: package \`${m % 40}\` passes. Next I will look at [the docs](https://example.com/${m}).`, stream: 'assistant' }];
  });
  hookP.close();
  claudeP.close();
  await waitFor(async () => {
    const r = await fetch(`${mpmd.url}/api/sessions/${sid}/transcript?limit=1`);
    return r.ok && (await r.json()).total >= n;
  }, { timeout: 60000, what: `${n} entries in the model` });
}

/**
 * From the sessions list, opens sid's page and waits until every entry is
 * read and drawn; returns the timings (ms) the page measured.
 */
export async function openSessionTimed(page, mpmd, sid) {
  await page.goto(`${mpmd.url}/#/sessions`);
  await page.waitForSelector(`${tid('session-row')}[data-sid="${sid}"]`);
  const start = Date.now();
  await page.click(`${tid('session-row')}[data-sid="${sid}"]`);
  await page.waitForFunction((id) => { const o = window.__mpm.sessionOpen; return o.id === id && o.entries >= o.total && o.total > 0 && !o.loading && o.rendered > 0; }, sid, { timeout: 20000, polling: 'raf' });
  const o = await page.evaluate(() => window.__mpm.sessionOpen);
  return { click_to_all_drawn_ms: Date.now() - start, first_page_ms: Math.round(o.firstPage), first_drawn_ms: Math.round(o.firstDrawn), all_entries_ms: Math.round(o.loaded), all_drawn_ms: Math.round(o.rendered) };
}
