// Takes the documentation screenshots from a real run: bin/mpmd, fed a
// scripted afternoon of three Claude Code sessions through bin/mpm-hook (or
// POST /emit when mpm-hook is not built), shown in headless Chromium.
// Usage: node test/browser/screenshot.mjs [OUTDIR]   (default docs/img)
import path from 'node:path';
import { mkdirSync, existsSync } from 'node:fs';
import { startMpmd, launchBrowser, openDashboard, emit, runHook, tid, ROOT, MPM_HOOK } from './harness.mjs';

const out = path.resolve(process.argv[2] || path.join(ROOT, 'docs/img'));
mkdirSync(out, { recursive: true });
const useHook = existsSync(MPM_HOOK);

const mpmd = await startMpmd();
let browser;
try {
  const names = { UserPromptSubmit: 'user_prompt', PreToolUse: 'pre_tool', PostToolUse: 'post_tool' };
  const snake = (n) => names[n] ?? n.replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
  let n = 0;
  async function hook(sid, cwd, name, fields) {
    const input = { session_id: sid, transcript_path: `/home/dev/.claude/projects/${sid}.jsonl`, cwd, hook_event_name: name, permission_mode: 'default', ...fields };
    n++;
    if (useHook) {
      const r = await runHook(mpmd, input);
      if (r.code !== 0) throw new Error(`mpm-hook: ${r.stderr}`);
    } else {
      await emit(mpmd, 'hook', snake(name), input);
    }
  }
  let tu = 0;
  async function tool(sid, cwd, name, input, { ms = 300, error = '', response = { stdout: '' } } = {}) {
    const id = `toolu_01${(++tu).toString(36).padStart(6, '0')}`;
    await hook(sid, cwd, 'PreToolUse', { tool_name: name, tool_input: input, tool_use_id: id });
    if (error) await hook(sid, cwd, 'PostToolUseFailure', { tool_name: name, tool_input: input, tool_use_id: id, error });
    else await hook(sid, cwd, 'PostToolUse', { tool_name: name, tool_input: input, tool_use_id: id, tool_response: response, duration_ms: ms });
  }

  const A = '8f3c2a1e-5b7d-4c9e-a0f1-2d3e4f5a6b7c', Acwd = '/home/dev/api-server';
  const B = 'c41d9e77-0a2b-4f6c-9d8e-7f6a5b4c3d2e', Bcwd = '/home/dev/web-ui';
  const C = '2b8e6f40-9c1d-4a3b-8e7f-6d5c4b3a2918', Ccwd = '/home/dev/infra';

  await hook(C, Ccwd, 'SessionStart', { source: 'startup', model: 'claude-haiku-4-5' });
  await hook(C, Ccwd, 'UserPromptSubmit', { prompt: 'Bump the Terraform AWS provider to 5.x' });
  await tool(C, Ccwd, 'Grep', { pattern: 'hashicorp/aws', path: '.' }, { ms: 140 });
  await tool(C, Ccwd, 'Edit', { file_path: '/home/dev/infra/versions.tf', old_string: '~> 4.0', new_string: '~> 5.0' }, { ms: 60 });
  await hook(C, Ccwd, 'Stop', { stop_hook_active: false });
  await hook(C, Ccwd, 'SessionEnd', { reason: 'logout' });

  await hook(A, Acwd, 'SessionStart', { source: 'startup', model: 'claude-sonnet-4-5' });
  await emit(mpmd, 'memory', 'loaded', { agent_id: 'main', memory_size: 2048, sections_count: 3, session_id: A });
  await hook(A, Acwd, 'UserPromptSubmit', { prompt: 'Add rate limiting to the /login endpoint and cover it with tests' });
  const todos = [
    { content: 'Read the login handler and middleware chain', status: 'completed', activeForm: 'Reading the login handler' },
    { content: 'Add a token-bucket limiter keyed by client IP', status: 'in_progress', activeForm: 'Adding a token-bucket limiter' },
    { content: 'Write table tests for the limiter', status: 'pending', activeForm: 'Writing table tests' },
    { content: 'Run the whole test suite', status: 'pending', activeForm: 'Running the test suite' },
  ];
  await tool(A, Acwd, 'TodoWrite', { todos: todos.map((t, i) => ({ ...t, status: i === 0 ? 'in_progress' : 'pending' })) }, { ms: 20 });
  await tool(A, Acwd, 'Read', { file_path: '/home/dev/api-server/internal/http/login.go' }, { ms: 45 });
  await tool(A, Acwd, 'Grep', { pattern: 'func (s \\*Server) routes', path: 'internal/http' }, { ms: 180 });
  await tool(A, Acwd, 'TodoWrite', { todos }, { ms: 20 });
  await tool(A, Acwd, 'Write', { file_path: '/home/dev/api-server/internal/ratelimit/bucket.go', content: 'package ratelimit…' }, { ms: 70 });
  await tool(A, Acwd, 'Edit', { file_path: '/home/dev/api-server/internal/http/login.go', old_string: 'mux.HandleFunc', new_string: 'mux.Handle' }, { ms: 55 });
  await tool(A, Acwd, 'Bash', { command: 'go test ./internal/...', description: 'Run the tests' }, { ms: 9400, error: 'Exit code 1: --- FAIL: TestLoginRateLimit (0.02s) bucket_test.go:41: got 429, want 200' });
  await tool(A, Acwd, 'Edit', { file_path: '/home/dev/api-server/internal/ratelimit/bucket.go', old_string: 'b.tokens--', new_string: 'b.refill(now); b.tokens--' }, { ms: 50 });
  await tool(A, Acwd, 'Task', { subagent_type: 'code-reviewer', description: 'Review the rate limiter for races', prompt: 'Review internal/ratelimit for data races and clock handling' }, { ms: 41200, response: { content: 'Two findings…' } });
  await tool(A, Acwd, 'Bash', { command: 'go test -race ./...', description: 'Run the whole suite with the race detector' }, { ms: 28400, response: { stdout: 'ok  \tapi-server/internal/http\t3.1s' } });
  await emit(mpmd, 'log', 'warning', { level: 'WARNING', logger: 'mpmd', message: 'client 127.0.0.1:51234 is slow; its backlog is 512 events' });

  await hook(B, Bcwd, 'SessionStart', { source: 'resume', model: 'claude-opus-4-1' });
  await hook(B, Bcwd, 'UserPromptSubmit', { prompt: 'Upgrade the UI to React 19 and fix the type errors' });
  await tool(B, Bcwd, 'Read', { file_path: '/home/dev/web-ui/package.json' }, { ms: 30 });
  await tool(B, Bcwd, 'Bash', { command: 'npm install react@19 react-dom@19', description: 'Upgrade React' }, { ms: 17800 });
  await tool(B, Bcwd, 'Bash', { command: 'npx tsc --noEmit', description: 'Type-check' }, { ms: 6100, error: 'Exit code 2: src/App.tsx(14,7): error TS2322' });
  await hook(B, Bcwd, 'PreToolUse', { tool_name: 'Bash', tool_input: { command: 'rm -rf node_modules/.cache', description: 'Clear the build cache' }, tool_use_id: 'toolu_01waiting' });
  await hook(B, Bcwd, 'Notification', { message: 'Claude needs your permission to use Bash', notification_type: 'permission_prompt' });
  await hook(A, Acwd, 'PreToolUse', { tool_name: 'Bash', tool_input: { command: 'golangci-lint run ./...', description: 'Lint' }, tool_use_id: 'toolu_01linting' });
  console.error(`sent ${n} hook events through ${useHook ? 'bin/mpm-hook' : 'POST /emit'}`);

  browser = await launchBrowser();
  for (const scheme of ['light', 'dark']) {
    const page = await openDashboard(browser, mpmd, '', { viewport: { width: 1440, height: 860 }, colorScheme: scheme });
    await page.waitForSelector(`${tid('conn-status')}[data-state="connected"]`);
    await page.waitForFunction(() => window.__mpm.pending === 0 && document.querySelectorAll('[data-testid="event-list"] .vrow:not([hidden])').length > 20);
    await page.waitForTimeout(1200); // the chart and the metrics redraw once a second
    if (scheme === 'light') {
      await page.screenshot({ path: path.join(out, 'dashboard.png') });
      await page.click(tid('view-tab-sessions'));
      await page.waitForSelector(tid('session-row'));
      await page.screenshot({ path: path.join(out, 'dashboard-sessions.png') });
      await page.click(tid('view-tab-tools'));
      await page.selectOption(tid('tools-sort'), 'slowest');
      await page.waitForSelector(`${tid('tools-list')} .vrow:not([hidden])`);
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(out, 'dashboard-tools.png') });
    } else {
      await page.screenshot({ path: path.join(out, 'dashboard-dark.png') });
    }
    if (page.errors.length) throw new Error(`page errors: ${page.errors.join('; ')}`);
    await page.context().close();
  }
  console.error(`screenshots in ${out}`);
} finally {
  await browser?.close();
  await mpmd.stop();
  mpmd.home.cleanup();
}
