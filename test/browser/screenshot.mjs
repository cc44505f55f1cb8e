// Takes the documentation screenshots from a real run: bin/mpmd fed the
// recorded two-background-agents session and a scripted afternoon of three
// more Claude Code sessions (scenario.mjs, in the shapes the real CLI
// sends), shown in headless Chromium, light and dark.
// Usage: node test/browser/screenshot.mjs [OUTDIR]   (default docs/img)
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { startMpmd, launchBrowser, openDashboard, tid, ROOT } from './harness.mjs';
import { load, replay, FIXTURES } from './recording.mjs';
import { Scenario } from './scenario.mjs';

const out = path.resolve(process.argv[2] || path.join(ROOT, 'docs/img'));
mkdirSync(out, { recursive: true });

/** The afternoon: a running session with two parallel reviewers, one waiting for permission, one ended. */
export function afternoon(now = Date.now()) {
  const A = new Scenario('8f3c2a1e-5b7d-4c9e-a0f1-2d3e4f5a6b7c', { cwd: '/home/dev/api-server', start: now - 92e3, mode: 'acceptEdits' });
  A.start_(0).prompt(1500, 'Add rate limiting to the /login endpoint and cover it with tests');
  A.message(4000, { thinking: 'The login handler lives in internal/http/login.go. A token bucket per client IP is the simplest limiter that fits; I should read the middleware chain first, then have the limiter reviewed for races while tests are written in parallel.',
    text: "I'll start by reading the login handler and the middleware chain." });
  A.tool(5000, 'Read', { file_path: '/home/dev/api-server/internal/http/login.go' }, { ms: 45, response: { file: { numLines: 182 } } });
  A.tool(5600, 'Grep', { pattern: 'func \\(s \\*Server\\) routes', path: 'internal/http' }, { ms: 180 });
  A.message(9000, { text: 'The routes are registered in `routes.go`; `/login` has no middleware yet. Plan:\n\n1. a token bucket keyed by client IP (`internal/ratelimit`),\n2. wire it in front of `/login` only,\n3. table tests, and a race review in parallel.' });
  A.tool(11000, 'Write', { file_path: '/home/dev/api-server/internal/ratelimit/bucket.go', content: 'package ratelimit\n…' }, { ms: 70 });
  A.tool(12500, 'Edit', { file_path: '/home/dev/api-server/internal/http/routes.go', old_string: 'mux.HandleFunc("POST /login", s.handleLogin)', new_string: 'mux.Handle("POST /login", s.limit(http.HandlerFunc(s.handleLogin)))' }, { ms: 55 });
  A.tool(14000, 'Bash', { command: 'go test ./internal/...', description: 'Run the tests' }, { ms: 9400, error: 'Exit code 1\n--- FAIL: TestLoginRateLimit (0.02s)\n    bucket_test.go:41: got 429, want 200' });
  A.message(24500, { thinking: 'The bucket is never refilled before the first take: tokens start at zero.', text: 'The first request is refused: the bucket starts empty. Fixing the refill, then two agents in parallel.' });
  A.tool(26000, 'Edit', { file_path: '/home/dev/api-server/internal/ratelimit/bucket.go', old_string: 'b.tokens--', new_string: 'b.refill(now)\n\tb.tokens--' }, { ms: 50 });
  const rev = A.spawn(28000, { type: 'code-reviewer', description: 'Review the limiter for races', id: 'a1c9e0d4b7f25e318' });
  const tst = A.spawn(28300, { type: 'test-writer', description: 'Write table tests for the limiter', id: 'b47d2e9a0c6f13e52' });
  A.message(29000, { text: 'Two agents are on it: a race review and the table tests. I will wait for both.' }).stop(29500, { background_tasks: [{ id: rev.id, type: 'subagent', status: 'running' }, { id: tst.id, type: 'subagent', status: 'running' }] });
  A.message(31000, { agent: rev, thinking: 'Look at every access to b.tokens and b.last: the handler runs concurrently.' });
  A.tool(32000, 'Read', { file_path: '/home/dev/api-server/internal/ratelimit/bucket.go' }, { agent: rev, ms: 40 });
  A.tool(33500, 'Grep', { pattern: 'b\\.(tokens|last)', path: 'internal/ratelimit' }, { agent: tst, ms: 120 });
  A.tool(34000, 'Bash', { command: 'go test -race -run TestBucket -count=50 ./internal/ratelimit', description: 'Hammer the bucket under the race detector' }, { agent: rev, ms: 41000, response: { stdout: 'ok  \tapi-server/internal/ratelimit\t38.2s' } });
  A.tool(36000, 'Write', { file_path: '/home/dev/api-server/internal/ratelimit/bucket_test.go', content: 'package ratelimit\n…' }, { agent: tst, ms: 60 });
  A.tool(37000, 'Bash', { command: 'go test ./internal/ratelimit', description: 'Run the new tests' }, { agent: tst, ms: 3200, response: { stdout: 'ok  \tapi-server/internal/ratelimit\t0.41s' } });
  A.message(41000, { agent: tst, text: 'Added 9 table cases: burst, refill over time, separate IPs, and the zero-token start that failed before.' });
  A.finish(42000, tst, 'Added 9 table cases to bucket_test.go; all pass.');
  A.message(76000, { agent: rev, text: "**One finding.** `refill` reads `b.last` without the mutex when called from `Allow`; move the lock up:\n\n```go\nfunc (b *Bucket) Allow(now time.Time) bool {\n\tb.mu.Lock()\n\tdefer b.mu.Unlock()\n\tb.refill(now)\n\t…\n```" });
  A.finish(77000, rev, 'One race: refill reads b.last without the lock.');
  A.message(79000, { text: 'The review found one race; moving the lock up and running the whole suite with the race detector.' });
  A.tool(80000, 'Edit', { file_path: '/home/dev/api-server/internal/ratelimit/bucket.go', old_string: 'func (b *Bucket) Allow', new_string: '// Allow takes a token…\nfunc (b *Bucket) Allow' }, { ms: 50 });
  A.tool(81000, 'Bash', { command: 'go test -race ./...', description: 'Run the whole suite with the race detector' }, { ms: null });
  A.costState(81500, 1.8432, { 'claude-opus-5-5': { input_tokens: 27600, output_tokens: 6900, cache_read_input_tokens: 115000, cache_creation_input_tokens: 9200, cost_usd: 1.8432 } });

  const B = new Scenario('c41d9e77-0a2b-4f6c-9d8e-7f6a5b4c3d2e', { cwd: '/home/dev/web-ui', start: now - 4 * 60e3, model: 'claude-sonnet-5' });
  B.start_(0, 'resume').prompt(1000, 'Upgrade the UI to React 19 and fix the type errors');
  B.message(3000, { text: 'Upgrading React first, then the type check.', usage: { input_tokens: 3000, output_tokens: 400 } });
  B.tool(4000, 'Bash', { command: 'npm install react@19 react-dom@19', description: 'Upgrade React' }, { ms: 17800 });
  B.tool(23000, 'Bash', { command: 'npx tsc --noEmit', description: 'Type-check' }, { ms: 6100, error: 'Exit code 2: src/App.tsx(14,7): error TS2322' });
  B.message(30000, { text: 'One type error from the new `ref` prop typing. Clearing the build cache first.', usage: { input_tokens: 4100, output_tokens: 350 } });
  B.tool(31000, 'Bash', { command: 'rm -rf node_modules/.cache', description: 'Clear the build cache' }, { ms: null, id: 'toolu_01waiting' });
  B.hook(31100, 'PermissionRequest', { tool_name: 'Bash', tool_input: { command: 'rm -rf node_modules/.cache' }, permission_suggestions: [] });

  const C = new Scenario('2b8e6f40-9c1d-4a3b-8e7f-6d5c4b3a2918', { cwd: '/home/dev/infra', start: now - 40 * 60e3, model: 'claude-haiku-5' });
  C.start_(0).prompt(1000, 'Bump the Terraform AWS provider to 5.x');
  C.tool(2000, 'Grep', { pattern: 'hashicorp/aws', path: '.' }, { ms: 140 });
  C.tool(3000, 'Edit', { file_path: '/home/dev/infra/versions.tf', old_string: '~> 4.0', new_string: '~> 5.0' }, { ms: 60 });
  C.message(4000, { text: 'Bumped to `~> 5.0` in versions.tf.', usage: { input_tokens: 2100, output_tokens: 120, cache_read_input_tokens: 0 } });
  C.stop(5000).end(90000, 'logout');
  return { A, B, C };
}

const mpmd = await startMpmd();
let browser;
try {
  await replay(mpmd, load(`${FIXTURES}/two-background-agents`), { end: Date.now() - 25 * 60e3 });
  const { A, B, C } = afternoon();
  for (const s of [C, A, B]) await replay(mpmd, s.steps, { end: Date.parse(s.steps.at(-1).t) });
  browser = await launchBrowser();
  const shot = async (scheme, hash, file, ready) => {
    const page = await openDashboard(browser, mpmd, hash, { viewport: { width: 1440, height: 860 }, colorScheme: scheme });
    await page.waitForSelector(`${tid('conn-status')}[data-state="connected"]`);
    await ready(page);
    await page.waitForTimeout(1200); // the chart and the clocks redraw once a second
    await page.screenshot({ path: path.join(out, file) });
    if (page.errors.length) throw new Error(`page errors: ${page.errors.join('; ')}`);
    await page.context().close();
  };
  const list = (p) => p.waitForFunction(() => document.querySelectorAll('[data-testid="session-row"]').length >= 4);
  const conv = (p) => p.waitForFunction(() => window.__mpm.sessionOpen.rendered > 0);
  await shot('light', '#/sessions', 'dashboard.png', list);
  await shot('dark', '#/sessions', 'dashboard-dark.png', list);
  await shot('light', `#/sessions/${A.sessionId}?call=toolu_00007`, 'dashboard-session.png', conv);
  await shot('dark', `#/sessions/${A.sessionId}/timeline`, 'dashboard-agents-dark.png', (p) => p.waitForSelector(tid('lane-bar')));
  await shot('light', `#/sessions/${A.sessionId}/timeline`, 'dashboard-agents.png', (p) => p.waitForSelector(tid('lane-bar')));
  await shot('light', `#/sessions/${A.sessionId}/usage`, 'dashboard-usage.png', (p) => p.waitForSelector(tid('usage')));
  await shot('light', '#/events', 'dashboard-events.png', (p) => p.waitForFunction(() => document.querySelectorAll('[data-testid="event-list"] .vrow:not([hidden])').length > 20));
  console.error(`screenshots in ${out}`);
} finally {
  await browser?.close();
  await mpmd.stop();
  mpmd.home.cleanup();
}
